"""Zones in the running service: a streamed fire puts its zone in ALARM through the bus and the
zone agent, one notification reaches a webhook (which refuses it once), a nuisance zone stays
quiet, and operators act on zones through ``/v1/zones`` with their roles; the same when the zones
run in ``embercast agent zones`` (``zones_in_service = false``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_alarms import _stream

from components import WebhookReceiver


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(fail_first=1)
    yield receiver
    receiver.stop()


@pytest.fixture(params=["in the service", "embercast agent zones"])
def notified(
    request: pytest.FixtureRequest,
    webhook: WebhookReceiver,
    service_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Any]:
    """The service notifying a webhook, its zones in its own process or in an agent's."""
    from fastapi.testclient import TestClient

    from conftest import Served  # type: ignore[attr-defined]
    from embercast.bus import open_bus
    from embercast.bus.presence import present
    from embercast.config import get_settings
    from embercast.service.app import create_app

    recipients = service_env.parent / "recipients.toml"
    recipients.write_text(f'[[recipient]]\nname = "ops"\nurl = "{webhook.url()}"\n')
    monkeypatch.setenv("EMBERCAST_NOTIFY_RECIPIENTS", str(recipients))
    agent = None
    if request.param == "embercast agent zones":
        monkeypatch.setenv("EMBERCAST_ZONES_IN_SERVICE", "false")
        log = service_env.parent / "zones.log"
        agent = subprocess.Popen(
            [sys.executable, "-m", "embercast.cli", "agent", "zones", "--for", "300"],
            stdout=subprocess.DEVNULL, stderr=log.open("ab"), env=dict(os.environ),
        )  # fmt: skip
        with open_bus(str(service_env / "bus.sqlite")) as bus:  # up before the service
            _until(lambda: agent.poll() is None and bool(present(bus, "zones")))
    get_settings.cache_clear()
    app = create_app(get_settings())
    keys = {s: app.state.service.keys.create(f"test-{s}", s)[1] for s in ("read", "operate")}
    try:
        with TestClient(app) as client:
            yield Served(client, keys)
    finally:
        if agent is not None:
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(timeout=60) == 0, log.read_text()
            assert "agent zones: 2 zones" in log.read_text()


def _until(check: Any, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.1)


def test_a_fire_alarms_its_zone_notifies_once_and_operators_act(
    notified: Any, webhook: WebhookReceiver, frames_dataset: Path
) -> None:
    state = notified.client.app.state.service
    _, fire = _stream(state, frames_dataset, "flaming_fire", "kitchen")
    _, machinery = _stream(state, frames_dataset, "hot_machinery", "workshop")
    assert any(p.alarm for p in fire)

    def zones() -> dict[str, Any]:
        got = notified.client.get("/v1/zones", headers=notified.auth("read"))
        assert got.status_code == 200, got.text
        return {z["zone"]: z for z in got.json()}

    _until(lambda: zones().get("kitchen", {}).get("state") == "alarm" and webhook.accepted)
    _until(lambda: "workshop" in zones())
    time.sleep(1.5)  # anything more would have been sent by now (the response agent: 1 s)
    titles = [r["body"]["title"] for r in webhook.accepted]  # type: ignore[index]
    nuisance_alarmed = any(p.alarm for p in machinery)
    assert titles.count("FIRE ALARM in kitchen") == 1
    assert ("FIRE ALARM in workshop" in titles) == nuisance_alarmed
    assert zones()["workshop"]["state"] == ("alarm" if nuisance_alarmed else "normal")
    assert len(webhook.received) == len(webhook.accepted) + 1  # the first was refused

    def attempts() -> list[dict[str, Any]]:
        got = notified.client.get("/v1/notifications", headers=notified.auth("read"))
        assert got.status_code == 200, got.text
        return list(got.json())

    _until(lambda: len(attempts()) == len(webhook.received))  # each attempt, as published
    assert [n["ok"] for n in attempts()].count(False) == 1
    fire_alarm = [n for n in attempts() if n["event_id"].startswith("kitchen:alarm:")]
    assert [n["ok"] for n in fire_alarm][:1] == [True] and fire_alarm[0]["recipient"] == "ops"

    act = "/v1/zones/kitchen/actions"
    if fire[-1].alarm:  # the fire still holds the device's decision: a reset is refused
        refused = notified.client.post(act, json={"action": "reset"},
                                       headers=notified.auth("operate"))  # fmt: skip
        assert refused.status_code == 409
        assert refused.json()["detail"]["reason"] == "the cause persists"
    forbidden = notified.client.post(act, json={"action": "acknowledge"},
                                     headers=notified.auth("read"))  # fmt: skip
    assert forbidden.status_code == 403
    done = notified.client.post(act, json={"action": "acknowledge"},
                                headers=notified.auth("operate"))  # fmt: skip
    assert done.status_code == 200 and done.json()["zone"]["acknowledged"]
    silenced = notified.client.post(act, json={"action": "silence", "seconds": 60},
                                    headers=notified.auth("operate"))  # fmt: skip
    assert silenced.status_code == 200 and not silenced.json()["zone"]["sounding"]
    log = notified.client.get("/v1/zones/kitchen/events", headers=notified.auth("read")).json()
    assert [(e["kind"], e["who"]) for e in log[:2]] == [
        ("silenced", "test-operate"), ("acknowledged", "test-operate"),
    ]  # fmt: skip
    assert any(e["kind"] == "alarm" and e["who"] == "system" for e in log)
    missing = notified.client.post("/v1/zones/attic/actions", json={"action": "reset"},
                                   headers=notified.auth("operate"))  # fmt: skip
    assert missing.status_code == 404
    bad = notified.client.post(act, json={"action": "extinguish"},
                               headers=notified.auth("operate"))  # fmt: skip
    assert bad.status_code == 422
    verdict = "/v1/zones/kitchen/feedback"
    no_cause = notified.client.post(verdict, json={"verdict": "false_alarm"},
                                    headers=notified.auth("operate"))  # fmt: skip
    assert no_cause.status_code == 422 and "needs a cause" in no_cause.json()["detail"]
    confirmed = notified.client.post(verdict, json={"verdict": "fire"},
                                     headers=notified.auth("operate"))  # fmt: skip
    assert confirmed.status_code == 200
    assert confirmed.json()["alarm_id"].startswith("kitchen:alarm:")
    assert confirmed.json()["who"] == "test-operate"
    ready = notified.client.get("/readyz").json()
    assert ready["troubles"] == {}  # the service's own conditions: none holds
    shown = notified.client.get("/metrics", headers=notified.auth("read")).text
    for name in ("risk-feed", "zones", "monitoring", "response"):  # zones: here, or present
        assert f'embercast_agent_up{{agent="{name}"}} 1.0' in shown, name


def test_a_false_alarm_verdict_is_in_the_next_challengers_training_data(
    served: Any, frames_dataset: Path, features: Path, tmp_path: Path
) -> None:
    import json

    from embercast.dataset.episodes import read_episodes
    from embercast.evaluation.feature_data import load_features
    from embercast.lifecycle.registry import Registry
    from helpers import invoke

    state = served.client.app.state.service
    dev, history = _stream(state, frames_dataset, "flaming_fire", "kitchen")
    assert any(p.alarm for p in history)
    zones = "/v1/zones"
    _until(lambda: served.client.get(zones, headers=served.auth()).json()[0]["state"] == "alarm")
    said = served.client.post(f"{zones}/kitchen/feedback", headers=served.auth("operate"),
                              json={"verdict": "false_alarm", "cause": "cooking"})  # fmt: skip
    assert said.status_code == 200, said.text
    assert state.learning is not None
    _until(lambda: state.learning.written == 1)
    home = Path(state.settings.service_home)
    episodes = read_episodes(str(home / "episodes"))
    (facts,) = episodes.facts.values()
    assert (facts["device_id"], facts["verdict"], facts["cause"]) == (dev, "false_alarm", "cooking")
    assert facts["alarm_id"] == said.json()["alarm_id"] and facts["who"] == "test-operate"
    assert episodes.rows.num_rows == facts["rows"] > 0
    assert set(episodes.rows["fire"].to_pylist()) == {0}

    args = ["learn", "retrain", "--scenarios", "4", "--alarm-on", "val", "--out",
            str(tmp_path / "retrain"), "--json"]  # fmt: skip
    done = invoke(*args)
    assert done.exit_code == 0, done.output
    run = json.loads(done.stdout)["steps"]
    assert run["episodes"]["outputs"]["classes"] == ["cooking_gas_stove", "cooking_electric"]
    challenger = run["train"]["outputs"]["model"]
    assert run["train"]["outputs"]["data"][0] == str(features)  # the champion's data, and more
    registry = Registry(str(state.settings.mlflow_uri))
    assert registry.resolve("fire@challenger") == ("fire", int(challenger.split("/")[1]))
    trained = registry.training_run(challenger)
    assert trained["tags"]["episodes"] == "1"
    data = load_features(trained["tags"]["features_location"].split(","))
    mine = data.split(("train",))
    assert set(mine.loc[mine["scenario_class"] == "feedback_cooking", "device_id"]) == {dev}
    assert {"cooking_gas_stove", "cooking_electric"} <= set(data.rows["scenario_class"])
    assert run["gate"]["status"] == "done" and run["gate"]["outputs"]["model"] == challenger
    again = json.loads(invoke(*args).stdout)["steps"]  # the same verdicts: nothing runs again
    assert all(again[s]["cached"] for s in ("episodes", "generate", "train", "gate"))
