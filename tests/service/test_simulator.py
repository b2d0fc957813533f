"""The simulator: streams built from recordings (the frames each reading needs, faults that add
up and replay from a seed), paced at a speed, sent over HTTP with retries; end to end against
``embercast serve``, and the real fire tests replayed without a camera."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from components import wait_http
from embercast.errors import InputError
from embercast.service.messages import parse
from embercast.service.simulator import (
    FAULTS,
    Plan,
    Recording,
    frames_for,
    load_recordings,
    make_devices,
    parse_faults,
    payload,
    plan,
    run,
)
from embercast.service.transports import SIM_REPORTED, HttpTransport, ServiceRefused, Tally
from helpers import free_port

FRAME = np.full((120, 160), 29_315, "<u2")


def _recording(minutes: float = 5.0, period_s: float = 5.0, sid: str = "s0") -> Recording:
    """A hand-made stream: a reading every ``period_s`` from 5 s, frames at 8.7 Hz from 0 s
    whose pixels hold their index."""
    t = np.arange(period_s, minutes * 60 + 1e-9, period_s)
    readings = pd.DataFrame({"t_s": t, "co2_ppm": 420.0 + np.arange(t.size),
                             "temperature_c": 21.0, "humidity_pct": 40.0})  # fmt: skip
    readings.loc[3, "co2_ppm"] = math.nan
    t_frames = np.arange(0.0, minutes * 60 + 1, 1 / 8.7)
    pixels = [(FRAME + k).tobytes() for k in range(t_frames.size)]
    frames = pd.DataFrame({"t_s": t_frames, "ffc": False, "gain": "high", "frame": pixels})
    return Recording(sid, "d0", readings, frames)


class _Recorder:
    """A transport that acknowledges everything and notes when each message came."""

    def __init__(self) -> None:
        self.tally = Tally()
        self.sent: list[tuple[float, str, str, bytes]] = []
        self._lock = threading.Lock()

    def send(self, device_id: str, kind: str, body: bytes) -> bool:
        with self._lock:
            self.sent.append((time.monotonic(), device_id, kind, body))
        self.tally.record(device_id, "acknowledged")
        return True

    def close(self) -> None:
        pass


# ------------------------------------------------------------------------- stream building


def _sends(plans: list[Plan]) -> list[list[str]]:
    """The plans' messages, comparable (NaN as text)."""
    return [[repr(s) for s in p.sends] for p in plans]


def test_frames_for_picks_the_latest_frames_at_or_before_t_minus_1_s_and_t() -> None:
    t_frames = np.array([0.0, 0.4, 3.9, 4.0, 4.6, 5.0, 5.2])
    assert frames_for(t_frames, 5.0) == [3, 5]  # 4.0 at t - 1 s, 5.0 at t
    assert frames_for(t_frames, 4.5) == [1, 3]
    assert frames_for(t_frames, 0.5) == [1]  # nothing at or before -0.5 s
    assert frames_for(t_frames, -2.0) == []
    assert frames_for(np.array([]), 5.0) == []


def test_a_plan_sends_each_readings_frames_before_it_each_once() -> None:
    rec = _recording()
    (device,) = make_devices([rec], 1, {})
    p = plan(device)
    assert p.planned == len(p.sends) and p.dropped == p.doubled == 0
    readings = [s for s in p.sends if s.kind == "scd41"]
    thermal = [s.index for s in p.sends if s.kind == "thermal"]
    assert [s.t_s for s in readings] == rec.readings["t_s"].tolist()
    assert len(thermal) == len(set(thermal)) == 2 * len(readings)  # two frames per reading
    t_frames = rec.frames["t_s"].to_numpy()
    last = -1.0
    for s in p.sends:  # the frames a reading needs go before it, all at its time
        assert s.at_s >= last
        last = s.at_s
        if s.kind == "thermal":
            assert s.at_s - 1.0 - 1 / 8.7 <= t_frames[s.index] <= s.at_s + 1e-6


def test_plan_takes_the_frames_the_ingest_tests_send(frames_dataset: Path) -> None:
    """The dataset's streams in turn (a device of each scenario), and for each the frames the
    ingest tests' ``device_stream`` sends: the latest at or before t and at or before t - 1."""
    recs = load_recordings(frames_dataset, 5)
    readings = pq.read_table(frames_dataset / "readings").to_pandas()
    frames = pq.read_table(frames_dataset / "frames").to_pandas()
    streams = readings[["scenario_id", "device_id"]].drop_duplicates()
    assert len(recs) == len(streams) == readings["scenario_id"].nunique()
    assert [r.scenario_id for r in recs] == sorted(readings["scenario_id"].unique())
    for rec in recs:
        mine = readings[(readings["scenario_id"] == rec.scenario_id)
                        & (readings["device_id"] == rec.device_id)]  # fmt: skip
        shots = frames[(frames["scenario_id"] == rec.scenario_id)
                       & (frames["device_id"] == rec.device_id)].sort_values("t_s")  # fmt: skip
        t_frames, used = shots["t_s"].to_numpy(), set()
        for t in mine["t_s"]:
            for at in (t, t - 1.0):
                k = int(np.searchsorted(t_frames, at + 1e-6, side="right")) - 1
                if k >= 0:
                    used.add(float(t_frames[k]))
        p = plan(make_devices([rec], 1, {})[0])
        assert sorted(s.t_s for s in p.sends if s.kind == "thermal") == sorted(used)
        assert sum(s.kind == "scd41" for s in p.sends) == len(mine)


def test_duration_stops_the_stream_and_payloads_are_what_the_service_parses() -> None:
    device = make_devices([_recording()], 1, {})[0]
    p = plan(device, duration_s=60.0)
    assert max(s.at_s for s in p.sends) == 60.0
    assert sum(s.kind == "scd41" for s in p.sends) == 12
    start = 1_764_939_600.0
    for s in p.sends:
        (m,) = parse(device.device_id, s.kind, payload(device, s, start), start)
        assert m.ts == start + s.t_s
        if s.kind == "thermal":
            assert m.frame is not None and int(m.frame[0, 0]) == 29_315 + s.index
        elif s.index == 3:  # NaN goes out as null
            assert m.reading is not None and math.isnan(m.reading.co2_ppm)
            assert b'"co2_ppm": null' in payload(device, s, start)
        else:
            assert m.reading is not None and m.reading.co2_ppm == 420.0 + s.index


def test_faults_strike_half_the_devices_add_up_and_replay_from_the_seed() -> None:
    recs = [_recording(sid=f"s{i}") for i in range(3)]
    faults = parse_faults("dropout=0.2,late,duplicate,stuck_co2=0.5,no_camera")
    devices = make_devices(recs, 8, faults, seed=3)
    assert [d.device_id for d in devices] == [f"sim-{n}" for n in range(1, 9)]
    assert [d.zone for d in devices] == ["sim-s0", "sim-s1", "sim-s2", "sim-s0-1", "sim-s1-1",
                                         "sim-s2-1", "sim-s0-2", "sim-s1-2"]  # fmt: skip
    struck = Counter(name for d in devices for name in d.faults)
    assert struck == dict.fromkeys(FAULTS, 4)
    plans = [plan(d, seed=3) for d in devices]
    clean = plan(make_devices(recs, 1, {})[0])
    for d, p in zip(devices, plans, strict=True):
        assert len(p.sends) == p.planned - p.dropped + p.doubled
        assert (p.dropped > 0) == ("dropout" in d.faults)
        assert (p.doubled > 0) == ("duplicate" in d.faults)
        kinds = Counter(s.kind for s in p.sends)
        assert (kinds["thermal"] == 0) == ("no_camera" in d.faults)
        assert p.planned == (clean.planned if "no_camera" not in d.faults else 60)
        co2 = [s.values[0] for s in p.sends if s.kind == "scd41" and s.values and s.t_s > 150]
        assert (len(set(co2)) == 1) == ("stuck_co2" in d.faults)  # frozen from half-way
        times = [s.at_s for s in p.sends]
        assert times == sorted(times)
        delays = [s.at_s - s.t_s for s in p.sends if s.kind == "scd41"]
        copies = 1.0 if "duplicate" in d.faults else 0.0  # a copy follows within 1 s
        if "late" in d.faults:
            assert 1.0 < max(delays) <= 5.0 + copies
            if "no_camera" not in d.faults:  # a reading's frames and itself reordered
                order = [s.t_s for s in p.sends]
                assert order != sorted(order)
        else:
            assert max(delays) <= copies
    dropped = plans[[i for i, d in enumerate(devices) if "dropout" in d.faults][0]]
    assert 0.1 < dropped.dropped / dropped.planned < 0.3
    again = [plan(d, seed=3) for d in make_devices(recs, 8, faults, seed=3)]
    assert _sends(again) == _sends(plans)
    other = [plan(d, seed=4) for d in make_devices(recs, 8, faults, seed=4)]
    assert _sends(other) != _sends(plans)


def test_fault_names_and_values_are_checked() -> None:
    assert parse_faults(None) == {}
    assert parse_faults(" late=2.5 , no_camera") == {"late": 2.5, "no_camera": None}
    for bad, says in [("smoke", "FAULTS"), ("dropout=1.5", "0 to 1"), ("late=x", "late="),
                      ("no_camera=1", "takes no value"), ("dropout=-0.1", "0 to 1")]:  # fmt: skip
        with pytest.raises(InputError, match=says):
            parse_faults(bad)


# ------------------------------------------------------------------------- pacing and HTTP


def test_run_paces_the_streams_at_the_speed_and_counts_add_up() -> None:
    recs = [_recording(minutes=1.0, sid="a"), _recording(minutes=1.0, sid="b")]
    devices = make_devices(recs, 2, parse_faults("dropout,duplicate"), seed=1)
    plans = [plan(d, seed=1) for d in devices]
    transport = _Recorder()
    speed = 100.0
    began = time.monotonic()
    summary = run(plans, transport, speed, start=1000.0)
    assert 0.6 <= summary.wall_s < 0.6 + 1.0  # 60 s of data at 100x
    for at, _, kind, body in transport.sent:
        ts = json.loads(body)["ts"] - 1000.0
        if kind == "scd41":  # never before its time, a reading at t goes out at t / speed
            assert at - began >= ts / speed - 1e-3
    assert {row["device_id"]: row["sent"] for row in summary.devices} == {
        p.device.device_id: len(p.sends) for p in plans
    }
    total = summary.total
    assert total["sent"] == total["planned"] - total["dropped"] + total["doubled"]
    assert total["sent"] == total["acknowledged"] == len(transport.sent)
    assert total["unsent"] == 0 and summary.rate_per_s > 0
    with pytest.raises(InputError, match="speed"):
        run(plans, transport, 0.0)


def _answers(*answers: int | Exception) -> tuple[httpx.Client, list[httpx.Request]]:
    """A client whose requests get ``answers`` in turn (an exception is raised instead)."""
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        body: dict[str, Any] = {"accepted": 1, "duplicates": 0, "rejected": None}
        if answer == 422:
            body = {"detail": {"reason": "frame_range", "message": "..."}}
        elif answer == 299:  # a duplicate
            answer, body = 202, {"accepted": 0, "duplicates": 1, "rejected": None}
        elif answer >= 400:
            body = {"detail": f"status {answer}"}
        return httpx.Response(answer, json=body)

    return httpx.Client(transport=httpx.MockTransport(handle)), seen


def test_http_transport_retries_connection_errors_and_503_never_422() -> None:
    client, seen = _answers(httpx.ConnectError("refused"), 503, 202, 422, 299, 500)
    http = HttpTransport("http://svc/", "emb_k", client=client, backoff_s=0.001)
    assert http.send("sim-1", "scd41", b"{}") is True  # third try
    assert len(seen) == 3
    assert str(seen[0].url) == "http://svc/v1/ingest/sim-1/scd41"
    assert seen[0].headers["X-API-Key"] == "emb_k"
    assert http.send("sim-1", "thermal", b"{}") is False and len(seen) == 4  # not again
    assert http.send("sim-1", "scd41", b"{}") is True  # acknowledged as a duplicate
    assert http.send("sim-1", "scd41", b"{}") is False  # a 500: failed, not tried again
    c = http.tally.counts("sim-1")
    assert (c.sent, c.acknowledged, c.duplicates, c.failed) == (4, 2, 1, 1)
    assert c.rejected == {"frame_range": 1} and len(seen) == 6
    client, seen = _answers(*[httpx.ConnectError("refused")] * 3)
    http = HttpTransport("http://svc", "k", client=client, retries=2, backoff_s=0.001)
    assert http.send("sim-2", "scd41", b"{}") is False
    assert http.tally.counts("sim-2").failed == 1 and len(seen) == 3
    client, _ = _answers(403, 201, 409, 403, 401)
    http = HttpTransport("http://svc", "k", client=client)
    with pytest.raises(ServiceRefused, match="403"):
        http.send("sim-1", "scd41", b"{}")
    assert [http.register("sim-1", "z", "n") for _ in range(3)] == ["registered", "exists",
                                                                    "assumed"]  # fmt: skip
    with pytest.raises(ServiceRefused, match="401"):
        http.register("sim-1", "z", "n")


# ------------------------------------------------------------------------- end to end


def _metric(text: str, outcome: str) -> float:
    pattern = rf'^embercast_ingest_messages_total\{{[^}}]*outcome="{outcome}"[^}}]*\}} (\S+)$'
    return sum(float(v) for v in re.findall(pattern, text, flags=re.M))


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "embercast.cli", *args], env=env,
                          capture_output=True, text=True, timeout=240)  # fmt: skip


def test_simulate_against_serve_agrees_with_the_service(
    service_env: Path, frames_dataset: Path
) -> None:
    env = dict(os.environ, EMBERCAST_SERVICE_FLUSH_S="0.005")  # a device waits for each 202
    keys = {}
    for scope in ("admin", "operate", "read"):
        made = _cli("keys", "create", f"sim-{scope}", "--scope", scope, "--json", env=env)
        keys[scope] = json.loads(made.stdout)["key"]
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "embercast.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    read = {"X-API-Key": keys["read"]}
    try:
        wait_http(f"{base}/readyz", process=process, timeout_s=90.0)
        common = ["simulate", "--http", base, "--speed", "200", "--devices", "2",
                  "--from", str(frames_dataset), "--json"]  # fmt: skip
        # an operate key may not register: the devices are taken to exist, and are not
        first = _cli(*common, "--duration", "120", "--key", keys["operate"], env=env)
        assert first.returncode == 0, first.stderr
        assert "taken to exist" in first.stderr
        early = json.loads(first.stdout)
        assert early["total"]["sent"] > 0
        assert early["total"]["rejected"] == {"unknown_device": early["total"]["sent"]}
        assert httpx.get(f"{base}/v1/devices/sim-1", headers=read).status_code == 404
        # an admin key registers them; faults make duplicates and out-of-order messages
        second = _cli(*common, "--key", keys["admin"], "--faults", "duplicate=0.2,late=40,dropout",
                      "--seed", "2", env=env)  # fmt: skip
        assert second.returncode == 0, second.stderr
        done = json.loads(second.stdout)
        metrics = httpx.get(f"{base}/metrics", headers=read).text
        letters = httpx.get(f"{base}/v1/ingest/dead-letters?limit=1000", headers=read).json()
        zones = {d: httpx.get(f"{base}/v1/devices/{d}", headers=read).json()["zone"]
                 for d in ("sim-1", "sim-2")}  # fmt: skip
        # (after the counts above) devices computing their thermal features send edge rows
        edged = _cli(*common, "--key", keys["admin"], "--prefix", "edge", "--edge", "extended",
                     "--duration", "120", env=env)  # fmt: skip
        assert edged.returncode == 0, edged.stderr
        edge_total = json.loads(edged.stdout)["total"]
        assert edge_total["sent"] > 0 and not edge_total["rejected"], edge_total
        unknown = _cli(*common, "--key", keys["admin"], "--edge", "nope", env=env)
        assert unknown.returncode == 2 and "invalid feature set 'nope'" in unknown.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == -signal.SIGTERM, output
    total = done["total"]
    scenarios = sorted(
        pq.read_table(frames_dataset / "scenarios.parquet")["scenario_id"].to_pylist()
    )
    assert zones == {"sim-1": f"sim-{scenarios[0]}", "sim-2": f"sim-{scenarios[1]}"}
    assert total["duplicates"] > 0 and total["dropped"] > 0 and total["failed"] == 0
    assert total["sent"] == total["planned"] - total["dropped"] + total["doubled"]
    assert total["sent"] == total["acknowledged"] + sum(total["rejected"].values())
    # every message sent, in both runs, is counted once by the service: stored, duplicate or
    # dead-lettered, and each dead letter is one the simulator was told of
    runs = [early["total"], total]
    sent = sum(t["sent"] for t in runs)
    duplicates = sum(t["duplicates"] for t in runs)
    rejected = sum((Counter(t["rejected"]) for t in runs), Counter())
    stored = sent - duplicates - sum(rejected.values())
    assert _metric(metrics, "stored") == stored
    assert _metric(metrics, "duplicate") == duplicates
    assert _metric(metrics, "dead_letter") == sum(rejected.values())
    assert sent == stored + duplicates + len(letters)
    assert Counter(d["reason"] for d in letters) == rejected
    assert {d["device_id"] for d in letters} <= {"sim-1", "sim-2"}


@pytest.fixture
def quick_commit(service_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ingest answers after 5 ms of gathering, not 50 (a device waits for each answer)."""
    from embercast.config import get_settings

    monkeypatch.setenv("EMBERCAST_SERVICE_FLUSH_S", "0.005")
    get_settings.cache_clear()


def test_real_fire_tests_replay_camera_less_and_get_predictions(
    quick_commit: None, served: Any, real_fires: Path
) -> None:
    client, keys = served.client, served.keys
    state = client.app.state.service
    recs = load_recordings(real_fires, 2, seed=0)
    streams = [(r.scenario_id, r.device_id) for r in recs]
    assert streams == [("TestCase1", "Aft Pan CO2"), ("TestCase2", "Aft Pan CO2")]
    assert all(r.frames.empty for r in recs)
    devices = make_devices(recs, 2, {})
    http = HttpTransport(str(client.base_url), keys["admin"], client=client)
    assert [http.register(d.device_id, d.zone, d.name) for d in devices] == ["registered"] * 2
    plans: list[Plan] = [plan(d) for d in devices]
    assert all(s.kind == "scd41" for p in plans for s in p.sends)
    summary = run(plans, http, speed=5000.0, start=1_764_939_600.0)
    sent = summary.total["sent"]
    assert sent == summary.total["acknowledged"] == sum(len(r.readings) for r in recs)
    deadline = time.monotonic() + 60
    while state.hub.waiting() and time.monotonic() < deadline:  # each waits for a frame
        time.sleep(0.2)
    for d, rec in zip(devices, recs, strict=True):
        history = state.hub.history(d.device_id)
        assert [p.t_s for p in history] == (1_764_939_600.0 + rec.readings["t_s"]).tolist()
        assert all(p.thermal_status == "no_frame" for p in history)
        assert all(0.0 <= p.p_fire <= 1.0 for p in history)
    ids = {x["device_id"]: x["zone"] for x in
           client.get("/v1/devices", headers=served.auth()).json()}  # fmt: skip
    assert ids == {"sim-1": "sim-TestCase1", "sim-2": "sim-TestCase2"}


def _data(got: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The readings and frames among MQTT messages."""
    return [(t, body) for t, body in got if t.rsplit("/", 1)[1] in ("scd41", "thermal")]


def test_simulate_over_mqtt_publishes_each_device_under_its_own_topics(
    frames_dataset: Path, tmp_path: Path
) -> None:
    from components import Mosquitto
    from embercast.service.mqtt import BrokerAddress, make_client

    broker = Mosquitto(tmp_path / "broker", ["sim-1", "sim-2"])
    broker.start()
    got: list[tuple[str, bytes]] = []
    listener = make_client(BrokerAddress.parse(broker.url()), "test-listener", persistent=False)
    listener.on_message = lambda c, u, m: got.append((m.topic, bytes(m.payload)))
    listener.connect("127.0.0.1", broker.port)
    listener.loop_start()
    listener.subscribe("embercast/v1/devices/#", qos=1)
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps(broker.passwords))
    env = dict(os.environ)
    common = ["simulate", "--mqtt", f"mqtt://127.0.0.1:{broker.port}", "--devices", "2",
              "--from", str(frames_dataset), "--speed", "200", "--duration", "300"]  # fmt: skip
    try:
        time.sleep(0.5)  # subscribed
        done = _cli(*common, "--mqtt-passwords", str(passwords), "--faults", "duplicate",
                    "--json", env=env)  # fmt: skip
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        deadline = time.monotonic() + 30
        while len(_data(got)) < summary["total"]["sent"] and time.monotonic() < deadline:
            time.sleep(0.1)
        first = list(got)
        passwords.write_text(json.dumps({**broker.passwords, "sim-2": "wrong"}))
        refused = _cli(*common, "--mqtt-passwords", str(passwords), env=env)
    finally:
        listener.disconnect()
        listener.loop_stop()
        broker.stop()
    total = summary["total"]
    assert total["sent"] == total["acknowledged"] == len(_data(got)) and total["doubled"] > 0
    # besides its messages, each device reported its state once (retained), before them
    states = {t: json.loads(body) for t, body in got if t.endswith("/state")}
    assert states == {f"embercast/v1/devices/sim-{n}/state": SIM_REPORTED for n in (1, 2)}
    assert len(got) == len(states) + len(_data(got))
    topics = [t for t, _ in got]
    for n in (1, 2):
        own = [t for t in topics if t.startswith(f"embercast/v1/devices/sim-{n}/")]
        assert own[0] == f"embercast/v1/devices/sim-{n}/state"
    for row in summary["devices"]:
        mine = [
            (t, body)
            for t, body in _data(got)
            if t.startswith(f"embercast/v1/devices/{row['device_id']}/")
        ]
        assert len(mine) == row["sent"] > 0
        for topic, body in mine:
            (m,) = parse(row["device_id"], topic.rsplit("/", 1)[1], body, 0.0)
            assert m.ts - summary["start"] <= 300.0 + 1.0
    assert refused.returncode == 2 and "refused sim-2" in refused.stderr
    assert len(got) == len(first)  # every device logs in before any sends
