"""Fold workers in processes of their own on Redis: the service ingests, `embercast agent fold`
processes fold; one is SIGKILLed mid-stream and another joins later, and every reading still
gets exactly one prediction, the one an uninterrupted stream gives."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from test_ingest import reading_payload

from components import Redis

PARTITIONS = 8


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = Redis(tmp_path / "redis")
    server.start()
    yield server.url
    server.kill()


def _devices(dataset: Path, copies: int = 4) -> dict[str, Any]:
    """Every device of the dataset's scenarios, ``copies`` times, each copy a device of its own:
    id -> its readings."""
    readings = pq.read_table(dataset / "readings").to_pandas()
    out = {}
    for (sid, dev), rows in readings.groupby(["scenario_id", "device_id"]):
        for k in range(copies):
            out[re.sub(r"[^A-Za-z0-9_.:-]", "-", f"{sid}.{dev}.{k}")] = rows.sort_values("t_s")
    return out


def _worker(log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "embercast.cli", "agent", "fold"],
        stdout=subprocess.DEVNULL, stderr=log.open("ab"), env=dict(os.environ),
    )  # fmt: skip


def _members(bus: Any) -> dict[str, str]:
    return bus.holders("member.readings.fold.")


def _wait(what: Any, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_two_fold_processes_one_killed_one_joining_every_reading_predicted_once(
    service_env: Path,
    redis_url: str,
    frames_dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from embercast.agents.zones import RISK_TOPIC
    from embercast.bus import open_bus
    from embercast.config import get_settings
    from embercast.features.base import Reading
    from embercast.service.app import create_app
    from embercast.service.live_model import ModelHolder
    from embercast.service.messages import Message
    from embercast.service.risk_feed import prediction_of
    from embercast.service.state import stream_hub

    for key, value in {
        "BUS_URL": redis_url, "SERVICE_FOLD_IN_SERVICE": "false",
        "BUS_PARTITIONS": str(PARTITIONS), "BUS_PARTITION_LEASE_S": "2",
        "SERVICE_READING_WAIT_S": "0",
    }.items():  # fmt: skip
        monkeypatch.setenv(f"EMBERCAST_{key}", value)
    get_settings.cache_clear()
    settings = get_settings()
    devices = _devices(frames_dataset)
    assert len(devices) >= 12
    app = create_app(settings)
    state = app.state.service
    for device in devices:
        state.devices.register(device, zone="hall")
    key = state.keys.create("feeder", "admin")[1]
    events = sorted((float(r.t_s), device, reading_payload(r))
                    for device, rows in devices.items() for r in rows.itertuples())  # fmt: skip
    thirds = [events[: len(events) // 3], events[len(events) // 3 : 2 * len(events) // 3],
              events[2 * len(events) // 3 :]]  # fmt: skip
    logs = [tmp_path / f"worker-{n}.log" for n in range(3)]
    workers = [_worker(logs[0]), _worker(logs[1])]
    bus = open_bus(redis_url)
    check = "check"
    try:
        with TestClient(app) as client:

            def send(part: list[tuple[float, str, bytes]]) -> None:  # a list per device
                for device in devices:
                    mine = [p for _, d, p in part if d == device]
                    if not mine:
                        continue
                    body = b"[" + b",".join(mine) + b"]"
                    r = client.post(f"/v1/ingest/{device}/scd41", content=body,
                                    headers={"Authorization": f"Bearer {key}"})  # fmt: skip
                    assert r.status_code == 202, r.text

            def predicted() -> int:  # the workers' predictions the service has taken
                return int(state.hub.folded)

            _wait(lambda: len(_members(bus)) == 2)
            send(thirds[0])
            _wait(lambda: predicted() == len(thirds[0]))
            owners = set(bus.holders("partition.readings.fold.").values())
            assert len(owners) == 2  # both hold partitions
            send(thirds[1])
            workers[0].kill()  # SIGKILL mid-stream: its leases and unacknowledged messages left
            workers[0].wait()
            _wait(lambda: predicted() == len(thirds[0]) + len(thirds[1]))
            workers.append(_worker(logs[2]))  # a new worker joins: the survivor gives half back
            _wait(lambda: len(_members(bus)) == 2)
            send(thirds[2])
            _wait(lambda: predicted() == len(events))
            survivors = set(bus.holders("partition.readings.fold.").values())
    finally:
        for w in workers:
            w.kill()
            w.wait()
    try:
        # every reading predicted once: one risk message per reading, none repeated
        taken = bus.receive(RISK_TOPIC, check, "c", limit=100_000)
        got = sorted((d.message.payload["device_id"], d.message.payload["t_s"]) for d in taken)
        assert got == sorted((device, t) for t, device, _ in events)
        stats = {(s.topic, s.group): s for s in bus.stats()}
        fold = [s for (_, g), s in stats.items() if g == "fold"]
        assert sum(s.published for s in fold) == len(events)
        assert sum(s.waiting + s.leased + s.dead for s in fold) == 0  # all acknowledged
    finally:
        bus.close()
    names = {w.pid: f"-{w.pid}" for w in workers}
    assert not any(n.endswith(names[workers[0].pid]) for n in survivors)  # the killed one
    assert any(n.endswith(names[workers[2].pid]) for n in survivors)  # the one that joined

    # the predictions are those of streams never interrupted: a killed worker's devices were
    # rebuilt from the ingest log where the survivor took them up
    models = ModelHolder(settings.model_ref)
    assert models.refresh()
    reference = stream_hub(settings, models)
    want: dict[str, list[Any]] = {d: [] for d in devices}
    reference.sink = lambda device, p: want[device].append(p)
    for t, device, payload in events:
        values = [np.nan if v is None else float(v) for v in json.loads(payload).values()]
        reading = Message(device, "scd41", t, t, reading=Reading(t, *values[1:]))
        reference.add([reading], force=True)
    mine: dict[str, list[Any]] = {d: [] for d in devices}
    for d in sorted(taken, key=lambda d: d.message.payload["t_s"]):
        mine[d.message.payload["device_id"]].append(prediction_of(d.message.payload))
    for device in devices:
        assert [p.t_s for p in mine[device]] == [p.t_s for p in want[device]]
        assert [(p.alarm, p.risk) for p in mine[device]] == [
            (p.alarm, p.risk) for p in want[device]
        ]
        np.testing.assert_array_equal([p.p_fire for p in mine[device]],
                                      [p.p_fire for p in want[device]])  # fmt: skip
        np.testing.assert_array_equal([p.inputs for p in mine[device]],
                                      [p.inputs for p in want[device]])  # fmt: skip
    assert any(p.alarm for ps in mine.values() for p in ps)  # the fire scenario's alarm


def test_the_service_starts_its_fold_workers_and_restarts_one_that_was_killed(
    service_env: Path, frames_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal

    from embercast.bus import open_bus
    from embercast.config import get_settings
    from embercast.service.app import create_app

    for key, value in {
        "SERVICE_FOLD_IN_SERVICE": "false", "SERVICE_FOLD_WORKERS": "1",
        "BUS_PARTITIONS": "2", "BUS_PARTITION_LEASE_S": "1", "SERVICE_READING_WAIT_S": "0",
    }.items():  # fmt: skip
        monkeypatch.setenv(f"EMBERCAST_{key}", value)
    get_settings.cache_clear()
    device, rows = next(iter(_devices(frames_dataset, copies=1).items()))
    payloads = [reading_payload(r) for r in rows.itertuples()][:60]
    app = create_app(get_settings())
    state = app.state.service
    state.devices.register(device, zone="hall")
    key = state.keys.create("feeder", "admin")[1]
    auth = {"Authorization": f"Bearer {key}"}
    bus = open_bus(str(service_env / "bus.sqlite"))  # the service's bus: SQLite, shared
    with TestClient(app) as client:
        _wait(lambda: len(_members(bus)) == 1)  # the service started one worker
        first = next(iter(_members(bus).values()))
        system = client.get("/v1/system", headers=auth).json()
        assert system["fold"] == {"in_service": False, "workers": [first], "waiting": 0}
        assert {a["name"]: a["running"] for a in system["agents"]}["fold-1"] is True
        r = client.post(f"/v1/ingest/{device}/scd41", content=b"[" + b",".join(payloads[:30])
                        + b"]", headers=auth)  # fmt: skip
        assert r.status_code == 202, r.text
        _wait(lambda: state.hub.folded == 30)
        os.kill(int(first.rsplit("-", 1)[1]), signal.SIGKILL)  # the worker dies
        _wait(lambda: set(_members(bus).values()) - {first} != set())  # another one started
        r = client.post(f"/v1/ingest/{device}/scd41", content=b"[" + b",".join(payloads[30:])
                        + b"]", headers=auth)  # fmt: skip
        assert r.status_code == 202, r.text
        _wait(lambda: state.hub.folded == 60)
        health = {a["name"]: a for a in client.get("/v1/system", headers=auth).json()["agents"]}
        assert health["fold-1"]["restarts"] == 1 and health["fold-1"]["running"] is True
    assert [p.t_s for p in state.hub.history(device)] == rows["t_s"].tolist()[:60]
    bus.close()
