"""Keeping alarms in step with the devices' alarm decisions (DESIGN 4.5, 4.7).

:class:`AlarmRecorder` is the hub's sink: it opens a device's alarm on the reading that raised
the decision (``onset``), raises its peak while the decision holds and clears it once the
decision turns off, all through an :class:`~embercast.service.alarms.AlarmStore`. The start-up
replay rebuilds the streams with the sink off, so after a restart
:meth:`AlarmRecorder.reconcile` makes the table agree with each replayed decision.
:func:`chained` runs several sinks as one; :func:`service_recorder` builds one service's
recorder.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from typing import Any, Protocol

from embercast.alarm.decision import AlarmParams, co2_evidence
from embercast.service.alarm_events import stored_p
from embercast.service.alarms import Alarm, AlarmStore, Cause
from embercast.service.device_stream import Prediction
from embercast.service.devices import DeviceStore
from embercast.service.hub import Sink
from embercast.service.live_model import ModelHolder
from embercast.service.metrics import ServiceMetrics

logger = logging.getLogger(__name__)


class Streams(Protocol):
    """What :meth:`AlarmRecorder.reconcile` reads of the devices' streams (a
    :class:`~embercast.service.hub.StreamHub`)."""

    def devices(self) -> list[str]: ...

    def latest(self, device_id: str) -> Prediction | None: ...

    def history(self, device_id: str) -> list[Prediction]: ...


def cause_of(prediction: Prediction, params: AlarmParams | None = None) -> Cause:
    """What raised the alarm of the reading ``prediction``: ``heat`` with heat evidence, else
    ``model`` when p is at or above ``params.threshold`` (or without params), else ``co2`` when
    the CO2 path's evidence holds with p at or above its gate, else ``slow``.

    >>> p = Prediction(60.0, 0.62, "medium", True, True, None, False, "ok")
    >>> cause_of(p, AlarmParams(threshold=0.9, slow_threshold=0.6))
    'slow'
    >>> rising = Prediction(60.0, 0.3, "low", True, True, None, False, "ok", co2_rate_ppm_s=4.0)
    >>> cause_of(rising, AlarmParams(threshold=0.9, co2_gate=0.2, co2_rate_ppm_s=2.5))
    'co2'
    """
    if prediction.heat is not None:
        return "heat"
    if params is None or prediction.p_fire >= params.threshold:
        return "model"
    gate = params.co2_gate
    if (
        gate is not None
        and prediction.p_fire >= gate
        and co2_evidence(params, prediction.co2_ppm, prediction.co2_rate_ppm_s)
    ):
        return "co2"
    return "slow"


def chained(*sinks: Sink | None) -> Sink:
    """One sink calling each of ``sinks`` in turn; one that fails is logged, the rest still
    run."""
    found = [s for s in sinks if s is not None]

    def sink(device_id: str, prediction: Prediction) -> None:
        for each in found:
            try:
                each(device_id, prediction)
            except Exception:
                logger.exception("a prediction sink failed on %s at t=%s", device_id,
                                 prediction.t_s)  # fmt: skip

    return sink


class AlarmRecorder:
    """The hub's sink that keeps ``store`` in step with each device's alarm decision.

    ``zone_of(device_id)`` names a device's zone (None: unknown), ``params()`` the served
    model's operating point (to tell ``model`` from ``slow``), and ``on_raised(alarm)`` hears of
    every alarm raised. The active alarms are read back from ``store`` at construction.
    """

    def __init__(
        self, store: AlarmStore, zone_of: Callable[[str], str | None] | None = None,
        params: Callable[[], AlarmParams | None] | None = None,
        on_raised: Callable[[Alarm], None] | None = None,
    ) -> None:  # fmt: skip
        self.store = store
        self._zone_of, self._params, self._on_raised = zone_of, params, on_raised
        self._lock = threading.Lock()
        active = store.list("active", limit=None)
        self._open = {a.device_id: (a.alarm_id, a.peak_p) for a in active}
        self._seen: dict[str, float] = {}
        """Device time [s] of the last prediction seen of each device."""

    def active(self, device_id: str) -> str | None:
        """The id of ``device_id``'s active alarm, or None."""
        with self._lock:
            found = self._open.get(device_id)
            return None if found is None else found[0]

    def update(self, device_id: str, prediction: Prediction) -> None:
        """Take one prediction of ``device_id``: open, raise the peak of, or clear its alarm."""
        with self._lock:
            self._seen[device_id] = prediction.t_s
            if prediction.alarm:
                if device_id not in self._open:
                    self._raise(device_id, prediction, {})
                self._peak(device_id, prediction)
            elif device_id in self._open:
                self._clear(device_id, prediction, "the alarm decision turned off")

    def reconcile(self, hub: Streams) -> int:
        """Make the active alarms agree with the streams ``hub`` rebuilt at start (the replay
        runs without the sink); the number of alarms opened or cleared. An alarm whose device's
        replayed decision is off is cleared; a device whose decision is on gets an alarm from
        its last onset in the history. A device with no replayed prediction keeps its alarm
        until its next prediction."""
        with self._lock:
            devices = set(self._open) | set(hub.devices())
        latest = {d: hub.latest(d) for d in sorted(devices)}
        changed = 0
        with self._lock:
            for device_id, last in latest.items():
                if last is None or self._seen.get(device_id, -math.inf) >= last.t_s:
                    continue  # nothing replayed, or news since: the sink has dealt with it
                if last.alarm and device_id not in self._open:
                    history = [p for p in hub.history(device_id) if p.t_s <= last.t_s]
                    onsets = [i for i, p in enumerate(history) if p.onset]
                    since = history[onsets[-1] :] if onsets else [last]
                    reason = "after a restart the replayed decision is on"
                    self._raise(device_id, since[0], {"reason": reason})
                    for p in since:
                        self._peak(device_id, p)
                    changed += 1
                elif not last.alarm and device_id in self._open:
                    self._clear(device_id, last, "after a restart the replayed decision is off")
                    changed += 1
        if changed:
            logger.info("reconciled %d alarm(s) with the replayed streams", changed)
        return changed

    def _raise(self, device_id: str, onset: Prediction, detail: dict[str, Any]) -> None:
        if not onset.onset:
            detail = {**detail, "note": "the decision was already on"}
        params = self._params() if self._params is not None else None
        zone = self._zone_of(device_id) if self._zone_of is not None else None
        alarm = self.store.open(device_id, zone, onset, cause_of(onset, params), detail)
        self._open[device_id] = (alarm.alarm_id, alarm.peak_p)
        if self._on_raised is not None:
            self._on_raised(alarm)

    def _peak(self, device_id: str, prediction: Prediction) -> None:
        alarm_id, peak = self._open[device_id]
        p = stored_p(prediction.p_fire)
        if p is not None and (peak is None or p > peak):
            self.store.peak(alarm_id, prediction)
            self._open[device_id] = (alarm_id, p)

    def _clear(self, device_id: str, prediction: Prediction, reason: str) -> None:
        self.store.clear(self._open[device_id][0], prediction, reason)
        del self._open[device_id]


def service_recorder(
    store: AlarmStore, devices: DeviceStore, models: ModelHolder, metrics: ServiceMetrics
) -> AlarmRecorder:
    """The recorder of one service: zones from ``devices``, the operating point of the model
    ``models`` serves, and ``embercast_alarms_raised`` counted by zone."""

    def params() -> AlarmParams | None:
        model = models.current
        return None if model is None else model.params

    def raised(alarm: Alarm) -> None:
        metrics.alarms_raised.labels(alarm.zone or "").inc()

    return AlarmRecorder(store, devices.zone_of, params, raised)
