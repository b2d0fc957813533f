"""The service's own troubles: each condition raised once when it begins and cleared when it
ends, published as a system zone event that the response agent notifies, counted in /metrics."""

from __future__ import annotations

import threading
import time
from collections import namedtuple
from pathlib import Path

from components import WebhookReceiver
from embercast.agents.coordinator import Coordinator
from embercast.agents.response import ResponseAgent
from embercast.bus import open_bus
from embercast.notify.outbox import Outbox
from embercast.notify.recipients import Recipient
from embercast.service.self_check import SelfCheck

Usage = namedtuple("Usage", "total used free")


def test_conditions_are_raised_once_cleared_and_notified(tmp_path: Path) -> None:
    bus = open_bus(str(tmp_path / "bus.sqlite"))
    seen = {"connected": True, "model": True, "waiting": 0, "free": 0.5}
    gauges: dict[str, bool] = {}
    agent_gauges: dict[str, tuple[bool, int]] = {}

    def crashing(stop: threading.Event) -> None:
        raise RuntimeError("the zones' file is gone")

    agents = Coordinator({"zones": crashing}, restart_s=3600)
    agents.start()
    deadline = time.monotonic() + 10
    while (agents.health()[0].running or not agents.health()[0].restarts) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.01)
    check = SelfCheck(
        bus, connected=lambda: bool(seen["connected"]), model_loaded=lambda: bool(seen["model"]),
        waiting=lambda: int(seen["waiting"]), home=str(tmp_path), agents=agents,
        set_gauge=gauges.__setitem__, lag_messages=100,
        set_agent=lambda name, up, restarts: agent_gauges.__setitem__(name, (up, restarts)),
        disk_usage=lambda _: Usage(100, 100 - 100 * seen["free"], 100 * seen["free"]),
    )  # fmt: skip
    first = check.check(1000.0)
    assert [(e["kind"], e["detail"]["condition"]) for e in first] == [
        ("system_trouble", "agent_down:zones")
    ]
    assert first[0]["detail"]["seen"] == "RuntimeError: the zones' file is gone"
    assert agent_gauges == {"zones": (False, 1)}  # for /metrics: down, restarted once
    seen.update(connected=False, model=False, waiting=500, free=0.01)
    raised = {e["detail"]["condition"]: e["detail"]["seen"] for e in check.check(1005.0)}
    assert raised == {
        "broker_disconnected": "not connected to the MQTT broker",
        "model_not_loaded": "no model is served",
        "ingest_lagging": "500 stored messages wait to be folded",
        "disk_nearly_full": f"1.0 % of the disk of {tmp_path} free",
    }
    assert check.check(1010.0) == []  # still the same: nothing new
    seen.update(connected=True, waiting=0)
    cleared = check.check(1015.0)
    assert sorted((e["kind"], e["detail"]["condition"]) for e in cleared) == [
        ("system_trouble_cleared", "broker_disconnected"),
        ("system_trouble_cleared", "ingest_lagging"),
    ]
    assert gauges["broker_disconnected"] is False and gauges["model_not_loaded"] is True
    agents.stop()
    receiver = WebhookReceiver()
    try:
        response = ResponseAgent(Outbox(str(tmp_path / "o.sqlite")),
                                 [Recipient("ops", receiver.url())])  # fmt: skip
        response.step(bus)
        titles = sorted(r["body"]["title"] for r in receiver.accepted)  # type: ignore[index]
        assert titles == sorted([
            "embercast trouble: agent_down:zones", "embercast trouble: broker_disconnected",
            "embercast trouble: model_not_loaded", "embercast trouble: ingest_lagging",
            "embercast trouble: disk_nearly_full",
            "embercast trouble cleared: broker_disconnected",
            "embercast trouble cleared: ingest_lagging",
        ])  # fmt: skip
    finally:
        receiver.stop()


def test_without_fold_workers_or_with_their_backlog_the_service_is_in_trouble(
    tmp_path: Path,
) -> None:
    from functools import partial

    from embercast.bus.partitions import PartitionOwner, partition_topic, publish_keyed
    from embercast.service.state import fold_workers

    bus = open_bus(str(tmp_path / "bus.sqlite"))
    fold = partial(fold_workers, bus)
    check = SelfCheck(bus, connected=None, model_loaded=lambda: True, waiting=lambda: 0,
                      home=str(tmp_path), fold=fold, lag_messages=5)  # fmt: skip
    raised = check.check(1000.0)
    assert [(e["kind"], e["detail"]["condition"]) for e in raised] == [
        ("system_trouble", "fold_workers_down")
    ]
    worker = PartitionOwner(bus, "readings", "fold", "w1", 2, lease_s=60)
    assert worker.update() == {0, 1}
    for p in (0, 1):  # the worker reads its partitions: nothing waits yet
        assert bus.receive(partition_topic("readings", p), "fold", "w1") == []
    cleared = check.check(1005.0)
    assert [(e["kind"], e["detail"]["condition"]) for e in cleared] == [
        ("system_trouble_cleared", "fold_workers_down")
    ]
    for n in range(8):
        publish_keyed(bus, "readings", {"n": n}, f"dev-{n}", 2)
    lagging = {e["detail"]["condition"]: e["detail"]["seen"] for e in check.check(1010.0)}
    assert lagging == {"ingest_lagging": "8 stored messages wait to be folded"}
    worker.close()
    bus.close()


def test_an_agent_left_to_processes_is_down_until_one_is_present(tmp_path: Path) -> None:
    from embercast.bus.presence import Presence, present

    bus = open_bus(str(tmp_path / "bus.sqlite"))
    agent_gauges: dict[str, tuple[bool, int]] = {}
    check = SelfCheck(
        bus, connected=None, model_loaded=lambda: True, waiting=lambda: 0, home=str(tmp_path),
        apart=lambda: {"drift": present(bus, "drift")},
        set_agent=lambda name, up, restarts: agent_gauges.__setitem__(name, (up, restarts)),
    )  # fmt: skip
    (down,) = check.check(1000.0)
    assert (down["kind"], down["detail"]["condition"]) == ("system_trouble", "agent_down:drift")
    assert down["detail"]["seen"] == "no `embercast agent drift` process is running"
    assert agent_gauges == {"drift": (False, 0)}
    with Presence(bus, "drift", "drift-host-1", lease_s=0.6):
        time.sleep(1.0)  # longer than the lease: the heartbeat renews it
        assert present(bus, "drift") == ["drift-host-1"]
        (up,) = check.check(1005.0)
        assert (up["kind"], up["detail"]["condition"]) == (
            "system_trouble_cleared", "agent_down:drift"
        )  # fmt: skip
        assert agent_gauges == {"drift": (True, 0)}
    assert present(bus, "drift") == []  # given up when it stops
    assert [e["kind"] for e in check.check(1010.0)] == ["system_trouble"]
    bus.close()
