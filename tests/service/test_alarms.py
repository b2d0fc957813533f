"""Alarms: the recorder opens, raises and clears one alarm per decision episode, logs an update
only when the risk level rises, keeps its alarms over a restart and reconciles them with the
replayed streams; a fire streamed through ingest raises an alarm served at ``/v1/alarms``."""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_ingest import device_stream, frame_payload, reading_payload

from embercast.alarm.decision import AlarmParams
from embercast.alarm.risk import risk_level
from embercast.service.alarm_recorder import AlarmRecorder
from embercast.service.alarms import AlarmConflict, AlarmStore
from embercast.service.db import ServiceDB
from embercast.service.device_stream import Prediction

DEV = "cam-1"


def _p(t: float, p: float, alarm: bool, onset: bool = False, heat: str | None = None) -> Prediction:
    return Prediction(t, p, risk_level(p), alarm, onset, heat, False, "ok")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[ServiceDB]:
    found = ServiceDB(str(tmp_path / "service.sqlite"))
    yield found
    found.close()


def _recorder(db: ServiceDB, params: AlarmParams | None = None) -> AlarmRecorder:
    zones = {DEV: "kitchen", "cam-2": "hall"}
    return AlarmRecorder(AlarmStore(db), zones.get, lambda: params)


def _feed(recorder: AlarmRecorder, device_id: str, *predictions: Prediction) -> None:
    for prediction in predictions:
        recorder.update(device_id, prediction)


def test_an_alarm_is_raised_updated_and_cleared(db: ServiceDB) -> None:
    recorder = _recorder(db)
    _feed(recorder, DEV, _p(0, 0.2, False), _p(10, 0.75, True, onset=True), _p(15, 0.8, True),
          _p(20, 0.95, True), _p(25, 0.92, True), _p(30, 0.3, True))  # fmt: skip
    (alarm,) = recorder.store.list()
    assert alarm.state == "active" and recorder.active(DEV) == alarm.alarm_id
    assert (alarm.device_id, alarm.zone, alarm.cause) == (DEV, "kitchen", "model")
    assert alarm.started_t == 10 and alarm.cleared_t is None
    assert (alarm.peak_p, alarm.peak_risk) == (0.95, "critical")
    _feed(recorder, DEV, _p(90, 0.1, False), _p(95, 0.1, False))
    cleared = recorder.store.get(alarm.alarm_id)
    assert cleared.state == "cleared" and cleared.cleared_t == 90 and cleared.cleared_s is not None
    assert recorder.active(DEV) is None
    events = recorder.store.events(alarm.alarm_id)
    assert [(e.kind, e.t_s, e.risk) for e in events] == [
        ("raised", 10, "high"), ("update", 20, "critical"), ("cleared", 90, "none")
    ]  # fmt: skip
    assert {e.actor for e in events} == {"system"}
    assert events[1].detail == {"from": "high"}
    assert events[0].at_s <= events[1].at_s <= events[2].at_s


def test_update_events_only_when_the_risk_level_rises(db: ServiceDB) -> None:
    recorder = _recorder(db)
    recorder.update(DEV, _p(0, 0.55, True, onset=True))
    _feed(recorder, DEV, *(_p(t, 0.56 + t / 1000, True) for t in range(1, 100)))  # all medium
    (alarm,) = recorder.store.list()
    assert [e.kind for e in recorder.store.events(alarm.alarm_id)] == ["raised"]
    assert alarm.peak_p == pytest.approx(0.56 + 99 / 1000) and alarm.peak_risk == "medium"
    _feed(recorder, DEV, _p(100, 0.72, True), _p(101, 0.6, True), _p(102, 0.71, True))
    _feed(recorder, DEV, _p(103, math.nan, True), _p(104, 0.91, True))
    events = recorder.store.events(alarm.alarm_id)
    assert [(e.kind, e.risk) for e in events] == [
        ("raised", "medium"), ("update", "high"), ("update", "critical")
    ]  # fmt: skip


def test_one_active_alarm_per_device(db: ServiceDB) -> None:
    recorder = _recorder(db)
    _feed(recorder, DEV, _p(0, 0.8, True, onset=True), _p(5, 0.8, True, onset=True))
    recorder.update("cam-2", _p(3, 0.9, True, onset=True))
    alarms = recorder.store.list("active")
    assert sorted((a.device_id, a.zone) for a in alarms) == [
        ("cam-1", "kitchen"),
        ("cam-2", "hall"),
    ]
    with pytest.raises(AlarmConflict, match="active alarm"):
        recorder.store.open(DEV, "kitchen", _p(6, 0.9, True, onset=True), "model")
    # after it clears, the next onset opens a new alarm
    _feed(recorder, DEV, _p(60, 0.1, False), _p(70, 0.8, True, onset=True))
    mine = recorder.store.list(device_id=DEV)
    assert [a.state for a in mine] == ["active", "cleared"]  # newest first
    assert [a.started_t for a in mine] == [70, 0]


def test_causes_heat_slow_and_model(db: ServiceDB) -> None:
    recorder = _recorder(db, AlarmParams(threshold=0.9, slow_threshold=0.6))
    recorder.update("a", _p(0, 0.2, True, onset=True, heat="hot"))
    recorder.update("b", _p(0, 0.65, True, onset=True))
    recorder.update("c", _p(0, 0.95, True, onset=True))
    causes = {a.device_id: (a.cause, a.zone) for a in recorder.store.list()}
    assert causes == {"a": ("heat", None), "b": ("slow", None), "c": ("model", None)}


def test_events_are_append_only(db: ServiceDB) -> None:
    recorder = _recorder(db)
    recorder.update(DEV, _p(0, 0.8, True, onset=True))
    for statement in ("UPDATE alarm_events SET actor = 'x'", "DELETE FROM alarm_events"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"), db.write() as conn:
            conn.execute(statement)
    assert len(recorder.store.events(recorder.store.list()[0].alarm_id)) == 1


def test_the_active_alarm_survives_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "service.sqlite")
    first = ServiceDB(path)
    before = _recorder(first)
    _feed(before, DEV, _p(0, 0.75, True, onset=True))
    alarm_id = before.active(DEV)
    first.close()
    again = ServiceDB(path)
    after = _recorder(again)
    assert alarm_id is not None and after.active(DEV) == alarm_id
    _feed(after, DEV, _p(5, 0.8, True), _p(10, 0.95, True))  # no second alarm; the peak moves
    assert [a.alarm_id for a in after.store.list()] == [alarm_id]
    assert after.store.get(alarm_id).peak_risk == "critical"
    after.update(DEV, _p(80, 0.1, False))
    assert after.store.get(alarm_id).state == "cleared"
    again.close()


class _Replayed:
    """The streams a restart rebuilt: each device's history (its last prediction the latest)."""

    def __init__(self, **history: list[Prediction]) -> None:
        self._history = history

    def devices(self) -> list[str]:
        return sorted(self._history)

    def latest(self, device_id: str) -> Prediction | None:
        found = self._history.get(device_id)
        return found[-1] if found else None

    def history(self, device_id: str) -> list[Prediction]:
        return list(self._history.get(device_id, []))


def test_reconcile_closes_an_alarm_whose_replayed_decision_is_off(tmp_path: Path) -> None:
    path = str(tmp_path / "service.sqlite")
    first = ServiceDB(path)
    _feed(_recorder(first), DEV, _p(0, 0.75, True, onset=True))
    _feed(_recorder(first), "cam-2", _p(0, 0.75, True, onset=True))
    first.close()
    db = ServiceDB(path)
    recorder = _recorder(db)
    (mine,) = recorder.store.list(device_id=DEV)
    replayed = _Replayed(
        **{DEV: [_p(0, 0.75, True, onset=True), _p(70, 0.1, False)]},  # off while we were down
        **{"cam-2": [_p(0, 0.75, True, onset=True), _p(70, 0.8, True)]},  # still on
    )
    assert recorder.reconcile(replayed) == 1
    cleared = recorder.store.get(mine.alarm_id)
    assert cleared.state == "cleared" and cleared.cleared_t == 70
    last = recorder.store.events(mine.alarm_id)[-1]
    assert last.kind == "cleared" and "restart" in last.detail["reason"]
    assert [a.device_id for a in recorder.store.list("active")] == ["cam-2"]
    assert recorder.reconcile(replayed) == 0  # agreed already
    db.close()


def test_reconcile_opens_the_alarm_a_replayed_decision_holds(db: ServiceDB) -> None:
    recorder = _recorder(db)
    history = [_p(0, 0.2, False), _p(5, 0.8, True, onset=True), _p(10, 0.95, True),
               _p(15, 0.85, True)]  # fmt: skip
    assert recorder.reconcile(_Replayed(**{DEV: history, "cam-2": [_p(0, 0.1, False)]})) == 1
    (alarm,) = recorder.store.list()
    assert (alarm.device_id, alarm.started_t, alarm.peak_risk) == (DEV, 5, "critical")
    events = recorder.store.events(alarm.alarm_id)
    assert [e.kind for e in events] == ["raised", "update"]
    assert "restart" in events[0].detail["reason"]
    # a device whose news reached the recorder since the replay is left to the recorder
    recorder.update("cam-2", _p(20, 0.1, False))
    assert recorder.reconcile(_Replayed(**{"cam-2": [_p(10, 0.9, True, onset=True)]})) == 0


# ---------------------------------------------------------------------------- end to end


def _wait_for(count: int, state: Any, device_id: str, timeout_s: float = 120.0) -> list[Any]:
    """The device's history once it holds ``count`` predictions."""
    deadline = time.monotonic() + timeout_s
    while len(state.hub.history(device_id)) < count:
        assert time.monotonic() < deadline, "the stream was not folded in time"
        time.sleep(0.05)
    return list(state.hub.history(device_id))


def _stream(state: Any, dataset: Path, scenario_class: str, zone: str) -> tuple[str, list[Any]]:
    """Register the first device of the dataset's ``scenario_class`` scenario in ``zone``, send
    its readings and frames through ingest; its id and history once all are folded."""
    scenarios = pd.read_parquet(dataset / "scenarios.parquet").sort_values("scenario_id")
    _, dev, readings, frames = device_stream(
        dataset, scenarios["scenario_class"].tolist().index(scenario_class)
    )
    state.devices.register(dev, name=f"{zone} sensor", zone=zone)
    events = [("thermal", f.t_s, frame_payload(f)) for f in frames.itertuples()]
    events += [("scd41", r.t_s, reading_payload(r)) for r in readings.itertuples()]
    events.sort(key=lambda e: (e[1], e[0] != "thermal"))
    for kind, _, payload in events:
        assert state.ingest.submit("mqtt", dev, kind, payload).stored.result(timeout=30) is None
    return dev, _wait_for(len(readings), state, dev)


def test_a_streamed_fire_raises_an_alarm_served_at_v1_alarms(
    served: Any, frames_dataset: Path
) -> None:
    state = served.client.app.state.service
    dev, history = _stream(state, frames_dataset, "flaming_fire", "kitchen")  # s000001 of seed 4
    onset = next(p for p in history if p.onset)

    listed = served.client.get("/v1/alarms", headers=served.auth("read"))
    assert listed.status_code == 200
    alarm = listed.json()[-1]  # the oldest: the first onset's
    assert (alarm["device_id"], alarm["zone"], alarm["cause"]) == (dev, "kitchen", "model")
    assert alarm["started_t"] == onset.t_s and alarm["state"] == "active"
    assert alarm["peak_p"] == max(p.p_fire for p in history if p.alarm)
    raised = state.metrics.registry.get_sample_value(
        "embercast_alarms_raised_total", {"zone": "kitchen"}
    )
    assert raised == len(listed.json()) == sum(p.onset for p in history)

    one = served.client.get(f"/v1/alarms/{alarm['alarm_id']}", headers=served.auth("read"))
    assert one.status_code == 200
    kinds = [e["kind"] for e in one.json()["events"]]
    assert kinds[0] == "raised" and set(kinds) <= {"raised", "update", "cleared"}

    def ids(query: str) -> list[str]:
        found = served.client.get(f"/v1/alarms?{query}", headers=served.auth("read"))
        assert found.status_code == 200, found.text
        return [a["alarm_id"] for a in found.json()]

    assert alarm["alarm_id"] in ids(f"zone=kitchen&device_id={dev}&since={alarm['started_s']}")
    assert ids("zone=hall") == ids("device_id=other") == ids(f"since={time.time() + 60}") == []
    assert alarm["alarm_id"] in ids(f"state={alarm['state']}&limit=1")
    assert (
        served.client.get("/v1/alarms?limit=1001", headers=served.auth("read")).status_code == 422
    )
    assert served.client.get("/v1/alarms").status_code == 401
    missing = served.client.get("/v1/alarms/no-such-alarm", headers=served.auth("read"))
    assert missing.status_code == 404 and "no-such-alarm" in missing.json()["detail"]


def test_a_restart_clears_an_alarm_the_replayed_stream_does_not_hold(
    service_env: Path, frames_dataset: Path
) -> None:
    from fastapi.testclient import TestClient

    from embercast.config import get_settings
    from embercast.service.app import create_app
    from embercast.service.db import DB_FILE
    from embercast.service.state import ServiceState

    state = ServiceState.open(get_settings())
    state.refresh_model()
    state.ingest.start()
    dev, history = _stream(state, frames_dataset, "hot_machinery", "workshop")
    assert not any(p.alarm for p in history)  # nothing for the recorder to do
    state.ingest.stop()
    state.db.close()
    # an alarm left active by a process that stopped before its decision turned off
    db = ServiceDB(str(service_env / DB_FILE))
    left = AlarmStore(db).open(dev, "workshop", _p(history[-1].t_s, 0.9, True, True), "model")
    db.close()
    app = create_app(get_settings())
    key = app.state.service.keys.create("test-read", "read")[1]
    with TestClient(app) as client:
        found = client.get(f"/v1/alarms/{left.alarm_id}", headers={"X-API-Key": key})
    assert found.status_code == 200
    alarm = found.json()
    assert alarm["state"] == "cleared" and alarm["cleared_t"] == history[-1].t_s
    assert [e["kind"] for e in alarm["events"]] == ["raised", "cleared"]
    assert "restart" in alarm["events"][-1]["detail"]["reason"]
