"""The dashboard: its data routes (/v1/live, history, heat map, event stream), the browser
session, the fan-out to slow clients, and the page itself in headless Chromium against
``embercast serve``, through a fire and a restart of the service."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest

from components import wait_http
from helpers import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip


# --------------------------------------------------------------------------- helpers


def _num(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def fire_stream(dataset: Path) -> tuple[str, list[tuple[str, float, bytes]]]:
    """(device_id, messages) of the flaming fire's first device: its readings and the frames
    the stream uses (at or before t and t - 1 s), as ingest payloads in time order, each
    reading after its frames."""
    scenarios = pq.read_table(dataset / "scenarios.parquet").to_pandas()
    sid = scenarios.loc[scenarios["scenario_class"] == "flaming_fire", "scenario_id"].iloc[0]
    readings = pq.read_table(dataset / "readings").to_pandas()
    readings = readings[readings["scenario_id"] == sid]
    dev = sorted(readings["device_id"].unique())[0]
    readings = readings[readings["device_id"] == dev].sort_values("t_s")
    frames = pq.read_table(dataset / "frames").to_pandas()
    frames = frames[(frames["scenario_id"] == sid) & (frames["device_id"] == dev)]
    frames = frames.sort_values("t_s").reset_index(drop=True)
    times = frames["t_s"].to_numpy()
    used = sorted({int(np.searchsorted(times, at + 1e-6, side="right")) - 1
                   for t in readings["t_s"] for at in (t, t - 1.0)} - {-1})  # fmt: skip
    out = []
    for f in frames.iloc[used].itertuples():
        body = {"ts": float(f.t_s), "ffc": bool(f.ffc), "gain": str(f.gain),
                "data": base64.b64encode(f.frame).decode()}  # fmt: skip
        out.append(("thermal", float(f.t_s), json.dumps(body).encode()))
    for r in readings.itertuples():
        body = {
            "ts": float(r.t_s),
            "co2_ppm": _num(r.co2_ppm),
            "temperature_c": _num(r.temperature_c),
            "humidity_pct": _num(r.humidity_pct),
        }
        out.append(("scd41", float(r.t_s), json.dumps(body).encode()))  # fmt: skip
    out.sort(key=lambda m: (m[1], m[0] != "thermal"))
    return str(dev), out


def frame_body(ts: float, celsius: np.ndarray, gain: str = "high") -> bytes:
    raw = np.round((celsius + 273.15) * 100).astype("<u2")
    body = {"ts": ts, "ffc": False, "gain": gain, "data": base64.b64encode(raw.tobytes()).decode()}
    return json.dumps(body).encode()


def wait_for(what: Callable[[], Any], timeout_s: float = 30.0, why: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {why or what}")


def submit(state: Any, device_id: str, messages: list[tuple[str, float, bytes]]) -> None:
    for kind, _, payload in messages:
        result = state.ingest.submit("http", device_id, kind, payload)
        result.stored.result(timeout=30)
        assert result.reason is None, result.message


# --------------------------------------------------------------------------- data routes


def test_live_shows_devices_by_zone_with_their_latest_state(
    served: Any, frames_dataset: Path
) -> None:
    client, state = served.client, served.client.app.state.service
    dev, messages = fire_stream(frames_dataset)
    state.devices.register(dev, name="Kitchen camera", zone="kitchen")
    state.devices.register("hall-1", name="Hall", zone="hall")
    first = [m for m in messages if m[1] <= 300.0]
    submit(state, dev, first)
    readings = [m for m in first if m[0] == "scd41"]
    wait_for(lambda: len(state.hub.history(dev)) == len(readings), why="the predictions")

    live = client.get("/v1/live", headers=served.auth()).json()
    assert live["model"]["name"] == "fire" and live["model"]["version"] == 1
    assert [z["zone"] for z in live["zones"]] == ["hall", "kitchen"]
    hall, kitchen = live["zones"]
    assert hall["devices"][0]["prediction"] is None and hall["risk"] == "none"
    device = kitchen["devices"][0]
    assert device["device_id"] == dev and device["name"] == "Kitchen camera"
    assert device["prediction"]["t_s"] == 300.0 and device["risk"] == "none"
    assert device["alarm"] is False and kitchen["alarm"] is False
    assert device["reading"]["ts"] == 300.0 and device["reading"]["co2_ppm"] > 400
    assert device["thermal"]["ts"] == 300.0
    assert 0.0 < device["thermal"]["min_c"] < device["thermal"]["max_c"] < 100.0

    history = client.get(f"/v1/live/{dev}/history", headers=served.auth()).json()
    assert [p["t_s"] for p in history["predictions"]] == [m[1] for m in readings]
    assert [r["ts"] for r in history["readings"]] == [m[1] for m in readings]
    sent = json.loads(readings[-1][2])
    assert history["readings"][-1]["co2_ppm"] == sent["co2_ppm"]
    for path in ("/v1/live/nobody/history", "/v1/live/nobody/thermal.png"):
        assert client.get(path, headers=served.auth()).status_code == 404
    assert client.get("/v1/live/hall-1/thermal.png", headers=served.auth()).status_code == 404


def test_the_heat_map_is_the_latest_frame_and_changes_with_it(served: Any) -> None:
    client, state = served.client, served.client.app.state.service
    state.devices.register("cam-1", name="", zone="plant")
    yy, xx = np.mgrid[0:120, 0:160]
    room = 21.0 + 3.0 * yy / 119.0 + 0.0 * xx
    submit(state, "cam-1", [("thermal", 10.0, frame_body(10.0, room))])
    url, auth = "/v1/live/cam-1/thermal.png", served.auth()
    cool = wait_for(lambda: (r := client.get(url, headers=auth)).status_code == 200 and r)
    assert cool.headers["content-type"] == "image/png" and cool.headers["etag"] == '"10.0"'
    assert cool.content[:8] == b"\x89PNG\r\n\x1a\n"
    unchanged = client.get(url, headers=auth | {"If-None-Match": cool.headers["etag"]})
    assert unchanged.status_code == 304 and not unchanged.content

    hot = room.copy()
    hot[50:70, 70:90] = 320.0  # a fire in view
    submit(state, "cam-1", [("thermal", 11.0, frame_body(11.0, hot, gain="low"))])
    fire = wait_for(lambda: (r := client.get(url, headers=auth)).headers.get("etag") == '"11.0"'
                    and r)  # fmt: skip
    before = cv2.imdecode(np.frombuffer(cool.content, np.uint8), cv2.IMREAD_COLOR)
    after = cv2.imdecode(np.frombuffer(fire.content, np.uint8), cv2.IMREAD_COLOR)
    assert before.shape == after.shape == (120, 160, 3)
    spot, rest = after[50:70, 70:90].astype(int), after[:40].astype(int)
    assert spot.sum(axis=2).min() > 600  # pale yellow: the hottest colour
    assert spot.sum(axis=2).min() > 2 * rest.sum(axis=2).max()
    assert not np.array_equal(before[50:70, 70:90], after[50:70, 70:90])


def test_a_session_cookie_stands_for_its_key_until_it_ends(served: Any) -> None:
    client = served.client
    spec = client.get("/openapi.json", headers=served.auth()).json()
    assert "/" not in spec["paths"] and not any(p.startswith("/static") for p in spec["paths"])
    mine = [(p, m) for p, ms in spec["paths"].items() for m in ms
            if p.startswith(("/v1/live", "/v1/session"))]  # fmt: skip
    assert len(mine) == 7
    for path, method in mine:  # nothing without a key
        assert client.request(method, path.replace("{device_id}", "x")).status_code == 401
    page = client.get("/")
    assert page.status_code == 200 and "dashboard.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/dashboard.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/../state.py").status_code == 404

    refused = client.post("/v1/session", headers={"Authorization": "Bearer emb_0000_nope"})
    assert refused.status_code == 401 and "set-cookie" not in refused.headers
    signed = client.post("/v1/session", headers=served.auth("read"))
    assert signed.status_code == 200 and signed.json()["scope"] == "read"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=43200" in cookie
    assert client.cookies.get("embercast_session")
    assert client.get("/v1/live").status_code == 200  # the cookie alone
    assert client.get("/v1/session").json()["scope"] == "read"
    assert client.post("/v1/session").status_code == 401  # a session cannot make another
    no_admin = client.post("/v1/devices", json={"device_id": "d", "zone": "z"})
    assert no_admin.status_code == 403  # no more than its key may
    assert client.delete("/v1/session").json() == {"ended": True}
    token = signed.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    client.cookies.set("embercast_session", token)
    ended = client.get("/v1/live")
    assert ended.status_code == 401 and "session has ended" in ended.json()["detail"]
    client.cookies.set("embercast_session", "forged")
    assert client.get("/v1/live").status_code == 401

    state = client.app.state.service
    other = state.keys.create("browser", "read")
    client.cookies.clear()
    client.post("/v1/session", headers={"X-API-Key": other[1]})
    assert client.get("/v1/live").status_code == 200
    state.keys.revoke(other[0].key_id)
    assert client.get("/v1/live").status_code == 401  # its key revoked
    client.cookies.clear()


def _events(body: str) -> list[dict[str, Any]]:
    out = []
    for block in body.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            fields[name] = value
        if "event" in fields:
            fields["data"] = json.loads(fields["data"])
            out.append(fields)
    return out


def test_the_event_stream_sends_each_prediction_and_alarm_change(
    served: Any, frames_dataset: Path
) -> None:
    client, state = served.client, served.client.app.state.service
    feed = client.app.state.live
    feed.heartbeat_s = 0.2
    dev, messages = fire_stream(frames_dataset)
    state.devices.register(dev, name="", zone="kitchen")
    got: list[httpx.Response] = []
    reader = threading.Thread(
        target=lambda: got.append(client.get("/v1/live/events", headers=served.auth()))
    )
    reader.start()
    try:
        wait_for(lambda: feed.clients == 1, why="the client")
        upto = [m for m in messages if m[1] <= 600.0]
        submit(state, dev, upto)
        readings = [m[1] for m in upto if m[0] == "scd41"]
        wait_for(lambda: len(state.hub.history(dev)) == len(readings), why="the predictions")
        time.sleep(0.5)  # silence: heartbeats
    finally:
        feed.close()
        reader.join(timeout=30)
    response = got[0]
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.startswith("retry: 1000\n\n") and ": heartbeat\n\n" in response.text
    events = _events(response.text)
    assert events[0]["event"] == "hello" and events[0]["data"]["model"]["version"] == 1
    ids = [e["id"] for e in events]
    assert len(set(ids)) == len(ids) and all(i.startswith(feed.boot + "-") for i in ids)
    predictions = [e["data"] for e in events if e["event"] == "prediction"]
    assert [p["prediction"]["t_s"] for p in predictions] == readings
    assert all(p["device_id"] == dev and p["zone"] == "kitchen" for p in predictions)
    assert predictions[-1]["thermal"]["ts"] == 600.0 and predictions[-1]["reading"]["ts"] == 600
    alarms = [e["data"] for e in events if e["event"] == "alarm"]
    raised = next(p["prediction"]["t_s"] for p in predictions if p["prediction"]["alarm"])
    assert alarms and alarms[0]["alarm"] is True and alarms[0]["t_s"] == raised
    live = client.get("/v1/live", headers=served.auth()).json()
    assert live["zones"][0]["alarm"] is True
    assert [a["device_id"] for a in live["alarms"] if a["state"] == "active"] == [dev]


def test_the_charts_start_from_the_readings_of_the_replay_window() -> None:
    import pyarrow as pa

    from embercast.service.hub import StreamHub
    from embercast.service.ingest_log import READINGS
    from embercast.service.live_feed import LiveFeed

    asked: list[tuple[str, float]] = []
    stored = pa.table({"device_id": ["d1", "d1"], "ts": [2.0, 1.0], "co2_ppm": [420.0, 410.0],
                       "temperature_c": [21.0, 21.0], "humidity_pct": [40.0, 40.0],
                       "received_s": [2.0, 1.0]}, schema=READINGS)  # fmt: skip

    def recent(kind: str, span_s: float) -> pa.Table:
        asked.append((kind, span_s))
        return stored

    state = SimpleNamespace(
        hub=StreamHub(lambda: None), models=SimpleNamespace(current=None),
        ingest=SimpleNamespace(replay_s=1234.0, log=SimpleNamespace(recent=recent)),
    )  # fmt: skip
    feed, loop = LiveFeed(state), asyncio.new_event_loop()  # type: ignore[arg-type]
    feed.start(loop)
    try:  # the last replay window of the log, not all it keeps
        assert asked == [("scd41", 1234.0)]
        assert [r["co2_ppm"] for r in feed.history("d1")] == [410.0, 420.0]
    finally:
        feed.stop()
        loop.close()


def test_a_slow_client_loses_the_oldest_events_and_the_earlier_sink_still_runs() -> None:
    from embercast.service.device_stream import Prediction
    from embercast.service.hub import StreamHub
    from embercast.service.live_feed import LiveFeed
    from embercast.service.sse import QUEUE_SIZE

    seen: list[str] = []
    hub = StreamHub(lambda: None, sink=lambda device_id, p: seen.append(device_id))
    empty = SimpleNamespace(num_rows=0)
    state = SimpleNamespace(
        hub=hub, models=SimpleNamespace(current=None),
        devices=SimpleNamespace(list=lambda **_: [SimpleNamespace(device_id="d1", zone="z")]),
        ingest=SimpleNamespace(replay_s=7200.0, log=SimpleNamespace(recent=lambda *_: empty)),
    )  # fmt: skip
    feed = LiveFeed(state)  # type: ignore[arg-type]

    async def run() -> tuple[Any, list[Any]]:
        feed.start(asyncio.get_running_loop())
        try:
            sub = feed.subscribe()
            p = Prediction(5.0, 0.95, "critical", True, True, None, False, "ok")
            worker = threading.Thread(
                target=lambda: [hub.sink and hub.sink("d1", p) for _ in range(QUEUE_SIZE)]
            )  # fmt: skip
            worker.start()
            while worker.is_alive():
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            return sub, [await sub.next(1.0) for _ in range(len(sub.events))]
        finally:
            feed.stop()

    sub, events = asyncio.run(run())
    assert seen == ["d1"] * QUEUE_SIZE  # the sink that was there runs first, every time
    # hello, a prediction, the alarm change, then more predictions: the oldest two gave way
    assert len(events) == QUEUE_SIZE and sub.dropped == 2
    assert events[0].kind == "alarm" and events[0].id.endswith("-3")
    assert events[-1].kind == "prediction" and events[-1].id.endswith(f"-{QUEUE_SIZE + 2}")


def test_events_made_while_the_loop_is_busy_cross_to_it_at_once_in_order() -> None:
    from embercast.service.hub import StreamHub
    from embercast.service.live_feed import LiveFeed
    from embercast.service.sse import Subscriber

    empty = SimpleNamespace(num_rows=0)
    state = SimpleNamespace(
        hub=StreamHub(lambda: None), models=SimpleNamespace(current=None),
        ingest=SimpleNamespace(replay_s=7200.0, log=SimpleNamespace(recent=lambda *_: empty)),
    )  # fmt: skip
    feed = LiveFeed(state)  # type: ignore[arg-type]
    crossings = 0

    async def run() -> list[Any]:
        nonlocal crossings
        loop = asyncio.get_running_loop()
        real = loop.call_soon_threadsafe

        def counted(*args: Any) -> Any:
            nonlocal crossings
            crossings += 1
            return real(*args)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        feed.start(loop)
        try:
            sub = feed.subscribe()
            await sub.next(1.0)  # hello
            worker = threading.Thread(
                target=lambda: [feed.publish("n", {"i": i}) for i in range(100)]
            )  # fmt: skip
            worker.start()
            worker.join()  # the loop is held meanwhile
            first = await sub.next(1.0)
            return [first, *sub.waiting()]
        finally:
            feed.stop()

    events = asyncio.run(run())
    assert [e.data["i"] for e in events] == list(range(100))
    assert crossings == 2  # one hand-over for the hundred events, one for the stop
    sub = Subscriber()
    for e in (*events[:2], None):
        sub.put(e)
    assert sub.waiting() == [*events[:2], None] and sub.waiting() == []


# --------------------------------------------------------------------------- in Chromium


def _fail_or_skip(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must run the browser test)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (installed with apt-get when missing and
    the tests run as root; skipped otherwise, except under CI=true where it fails)."""
    from filelock import FileLock

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _fail_or_skip("playwright is not installed (pip install -e '.[dev]')")
    lock = tmp_path_factory.getbasetemp().parent / "chromium-install.lock"
    with FileLock(str(lock)):
        if not os.path.exists(CHROMIUM) and os.geteuid() == 0:
            env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
            for step in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
                done = subprocess.run(step, env=env, capture_output=True, text=True, timeout=900)
                if done.returncode != 0:
                    _fail_or_skip(f"{' '.join(step)} failed: {done.stderr[-400:]}")
    if not os.path.exists(CHROMIUM):
        _fail_or_skip(f"no {CHROMIUM}, and not root to apt-get install chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Service:
    """``embercast serve`` as a process on ``port``, started again on demand."""

    def __init__(self, port: int, log: Path) -> None:
        self.port, self.log = port, log
        self.base = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "embercast.cli", "serve", "--port", str(self.port)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        out.close()

        try:
            wait_http(f"{self.base}/readyz", process=self.process, timeout_s=90.0)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.output()}") from None

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.process = None
        return code

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.mark.timeout(900)  # a fresh machine installs chromium first
def test_the_page_shows_a_fire_and_follows_the_service_through_a_restart(
    service_env: Path, frames_dataset: Path, chromium: Any, tmp_path: Path
) -> None:
    from embercast.service.db import DB_FILE, ServiceDB
    from embercast.service.keys import KeyStore

    db = ServiceDB(str(service_env / DB_FILE))
    keys = {s: KeyStore(db).create(f"e2e-{s}", s)[1] for s in ("read", "operate", "admin")}
    db.close()
    dev, messages = fire_stream(frames_dataset)
    service = Service(free_port(), tmp_path / "serve.log")

    def send(since: float, upto: float) -> None:
        with httpx.Client(base_url=service.base, headers={"X-API-Key": keys["operate"]}) as c:
            for kind, t, payload in messages:
                if since < t <= upto:
                    sent = c.post(f"/v1/ingest/{dev}/{kind}", content=payload)
                    assert sent.status_code == 202, sent.text

    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    service.start()
    try:
        page.goto(service.base)
        page.wait_for_selector("#login-form", state="visible")
        page.fill("#key", keys["read"])
        page.click("#sign-in")
        page.wait_for_selector("#status[data-state=live]")
        assert "e2e-read" in page.text_content("#who")
        assert "fire v1" in page.text_content("#model")
        registered = httpx.post(
            f"{service.base}/v1/devices", headers={"X-API-Key": keys["admin"]},
            json={"device_id": dev, "name": "Kitchen camera", "zone": "kitchen"},
        )  # fmt: skip
        assert registered.status_code == 201

        # before the fire: the device appears with its state and a heat map
        send(-1.0, 450.0)
        row = f".device[data-device-id='{dev}']"
        page.wait_for_selector(f"{row}[data-t='450']")
        page.wait_for_selector("#thermal[data-ts='450']")
        assert page.get_attribute(row, "data-risk") == "none"
        assert page.locator("#alarms li[data-state=active]").count() == 0
        before = cv2.imdecode(np.frombuffer(page.locator("#thermal").screenshot(), np.uint8), 1)

        # the fire: an alarm, the risk, and the flames on the heat map
        send(450.0, 600.0)
        page.wait_for_selector(f"#alarms li[data-state=active][data-device-id='{dev}']")
        page.wait_for_selector(f"{row}[data-alarm=true]")
        assert page.get_attribute(row, "data-risk") in ("high", "critical")
        assert "ALARM" in page.text_content(".zone[data-zone=kitchen] h3")
        page.wait_for_selector("#thermal[data-ts='600']")
        after = cv2.imdecode(np.frombuffer(page.locator("#thermal").screenshot(), np.uint8), 1)
        flames = (after.astype(int).sum(axis=2) > 600).sum()
        assert (before.astype(int).sum(axis=2) > 600).sum() == 0 and flames > 20
        assert int(page.get_attribute("[data-chart=co2_ppm]", "data-points") or 0) >= 20

        # the service stops and comes back: the page follows without a reload
        page.evaluate("window.__kept = 'this page'")
        assert service.stop() == -signal.SIGTERM
        assert "Application shutdown complete" in service.output()
        page.wait_for_selector("#status[data-state=reconnecting]")
        service.start()
        page.wait_for_selector("#status[data-state=live]", timeout=60_000)
        send(600.0, 720.0)
        page.wait_for_selector(f"{row}[data-t='720']")
        assert page.evaluate("window.__kept") == "this page"
        assert page.get_attribute(row, "data-alarm") == "true"
        assert not errors, errors
    finally:
        page.close()
        if service.process is not None:
            service.stop()


@pytest.mark.timeout(900)
def test_an_operator_acts_on_a_zone_in_alarm_from_the_page(
    service_env: Path, frames_dataset: Path, chromium: Any, tmp_path: Path
) -> None:
    from embercast.service.db import DB_FILE, ServiceDB
    from embercast.service.keys import KeyStore

    db = ServiceDB(str(service_env / DB_FILE))
    keys = {s: KeyStore(db).create(f"e2e-{s}", s)[1] for s in ("operate", "admin")}
    db.close()
    dev, messages = fire_stream(frames_dataset)
    service = Service(free_port(), tmp_path / "serve.log")
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    service.start()
    try:
        assert httpx.post(
            f"{service.base}/v1/devices", headers={"X-API-Key": keys["admin"]},
            json={"device_id": dev, "name": "Kitchen camera", "zone": "kitchen"},
        ).status_code == 201  # fmt: skip
        with httpx.Client(base_url=service.base, headers={"X-API-Key": keys["operate"]}) as c:
            for kind, t, payload in messages:
                if t <= 600.0:
                    assert c.post(f"/v1/ingest/{dev}/{kind}", content=payload).status_code == 202
        page.goto(service.base)
        page.fill("#key", keys["operate"])
        page.click("#sign-in")
        zone = ".zone[data-zone=kitchen]"
        page.wait_for_selector(f"{zone}[data-state=alarm][data-sounding=true]", timeout=60_000)
        page.click(f"{zone} button[data-action=reset]")  # the fire still holds it
        page.wait_for_selector(f"{zone} .zone-note:has-text('refused (the cause persists)')")
        page.click(f"{zone} button[data-action=acknowledge]")
        page.wait_for_selector(f"{zone}[data-acknowledged=true]")
        page.click(f"{zone} button[data-action=silence]")
        page.wait_for_selector(f"{zone}[data-sounding=false]")
        page.select_option(f"{zone} select[data-feedback=cause]", "toaster")
        page.click(f"{zone} button[data-action=false_alarm]")
        page.wait_for_selector(f"{zone} .zone-note:has-text('verdict recorded: false_alarm')")
        log = httpx.get(f"{service.base}/v1/zones/kitchen/events",
                        headers={"X-API-Key": keys["operate"]}).json()  # fmt: skip
        done = [(e["kind"], e["who"]) for e in log if e["who"] != "system"]
        assert done[:4] == [
            ("feedback", "e2e-operate"),
            ("silenced", "e2e-operate"),
            ("acknowledged", "e2e-operate"),
            ("reset_refused", "e2e-operate"),
        ]
        (verdict,) = [e for e in log if e["kind"] == "feedback"]
        assert verdict["detail"]["cause"] == "toaster"
        # the system panel: the agents at work, and someone guessing keys
        page.wait_for_selector("#agents li[data-agent=zones][data-running=true]")
        page.wait_for_selector("#agents li[data-agent=learning][data-running=true]")
        assert page.is_visible("#no-conditions")
        for _ in range(20):
            httpx.get(f"{service.base}/v1/alarms", headers={"X-API-Key": "emb_guess"})
        guessed = "#conditions li[data-condition='security:auth_failures:127.0.0.1']"
        page.wait_for_selector(guessed, timeout=30_000)
        assert "20 failed authentications" in page.text_content(guessed)
        assert not errors, errors
    finally:
        page.close()
        if service.process is not None:
            service.stop()
