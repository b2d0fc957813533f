"""Shadow scoring: another model judged on live traffic beside the served one, never alarming.

The other model is the ``challenger`` while there is one (is it good enough to promote?), and
after a promotion the champion it replaced (is the new one worse? then roll back). From the
``risk`` topic (its own group) it takes each reading's model input (``x``) and the served
model's probability and heat evidence, scores the other model on the same input, and runs both
through the alarm decision at each model's own operating point, device by device (the objects
of evaluation and of the live path). Operators' verdicts (``feedback``) say which of the
served model's alarms were false and which were fires; the other model is credited with the
same verdict when it alarmed on that device within ``match_s`` of the alarm.

The live measure (docs/AGENTS.md, "Shadow scoring"): over the same device-hours,

- fires operators confirmed that a model alarmed on (it must not miss one the other caught);
- alarm onsets per 1,000 device-hours, and false alarms operators marked.

:meth:`Shadow.worse` says whether one model is worse than the other by that measure, after at
least ``min_hours`` device-hours. Tallies are kept in a JSON file (written atomically), so a
restart does not start the comparison over.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from embercast.agents.zones import CO2_KEYS, RISK_TOPIC
from embercast.alarm.decision import AlarmDecision, AlarmParams
from embercast.bus.base import Bus
from embercast.store.fs import atomic_write_bytes, resolve

logger = logging.getLogger(__name__)

GROUP = "shadow"
FEEDBACK_GROUP = "shadow"
MAX_GAP_S = 60.0
"""A device's time between readings counts towards its device-hours up to this [s]."""


class Scorer(Protocol):
    """What shadow scoring needs of a model (the service's live model has it)."""

    @property
    def features(self) -> tuple[str, ...]: ...

    @property
    def params(self) -> AlarmParams: ...

    def score(self, X: NDArray[np.float64]) -> NDArray[np.float64]: ...


@dataclass
class Tally:
    """One model's record over the shadow period: alarm onsets and their times by device
    (the last hour's), verdicts it earned."""

    onsets: int = 0
    fires_caught: int = 0
    fires_missed: int = 0
    false_alarms: int = 0
    recent: dict[str, list[float]] = field(default_factory=dict)

    def alarmed_near(self, device: str, t: float, within_s: float) -> bool:
        return any(abs(s - t) <= within_s for s in self.recent.get(device, ()))


@dataclass
class Comparison:
    """The served and the other model over the same ``device_hours``."""

    served: str
    other: str
    device_hours: float
    tallies: dict[str, Tally]

    def rate(self, which: str) -> float:
        """Alarm onsets per 1,000 device-hours of ``which`` (served or other)."""
        hours = max(self.device_hours, 1e-9)
        return 1000.0 * self.tallies[which].onsets / hours


class Shadow:
    """Scores ``other()`` (a model reference, or None for none) on the served model's inputs."""

    def __init__(
        self,
        other: Callable[[], str | None],
        load: Callable[[str], Scorer],
        served: Callable[[], Scorer | None],
        state_file: str,
        *,
        match_s: float = 300.0,
        min_hours: float = 24.0,
        margin: float = 0.0,
    ) -> None:
        self.other = other
        self.load = load
        self.served = served
        self.state_file = state_file
        self.match_s = match_s
        self.min_hours = min_hours
        self.margin = margin
        self._ref: str | None = None
        self._model: Scorer | None = None
        self._take: NDArray[np.intp] | None = None
        self._decisions: dict[str, tuple[AlarmDecision, AlarmDecision]] = {}
        self._last_t: dict[str, float] = {}
        self.device_s = 0.0
        self.tallies = {"served": Tally(), "other": Tally()}
        self.skipped = 0
        self._lock = threading.Lock()
        self._restore()

    # ------------------------------------------------------------------ state
    def _restore(self) -> None:
        try:
            with open(self.state_file) as handle:
                saved = json.load(handle)
        except FileNotFoundError:
            return
        self._ref = saved["other"]
        self.device_s = float(saved["device_s"])
        self.tallies = {k: Tally(**v) for k, v in saved["tallies"].items()}

    def save(self) -> None:
        """Write the tallies (atomically)."""
        with self._lock:
            tallies = {k: asdict(v) for k, v in self.tallies.items()}
            body = {"other": self._ref, "device_s": self.device_s, "tallies": tallies}
        fs, path = resolve(self.state_file)
        atomic_write_bytes(fs, path, json.dumps(body).encode())

    def _bind(self) -> bool:
        """Load the other model when it changed (its tallies start afresh); whether one runs."""
        ref = self.other()
        served = self.served()
        if ref is None or served is None:
            self._model = None
            return False
        if ref != self._ref or self._model is None:
            model = self.load(ref)
            if ref != self._ref:
                logger.info("shadow scoring of %s starts", ref)
                self.device_s, self.tallies = 0.0, {"served": Tally(), "other": Tally()}
            self._ref, self._model, self._decisions = ref, model, {}
            self._take = None
        if self._take is None:
            missing = [n for n in self._model.features if n not in served.features]
            if missing:
                raise RuntimeError(
                    f"{ref} needs features the served model's input lacks: {', '.join(missing)}"
                )
            self._take = np.array([served.features.index(n) for n in self._model.features])
        return True

    # ------------------------------------------------------------------ traffic
    def handle_many(self, risks: Sequence[dict[str, Any]]) -> int:
        """Score a batch of predictions with the other model; how many were compared."""
        with self._lock:
            served = self.served()
            if not self._bind() or served is None:
                return 0
            assert self._model is not None and self._take is not None
            rows = [r for r in risks if len(r.get("x") or ()) == len(served.features)]
            self.skipped += len(risks) - len(rows)
            if not rows:
                return 0
            X = np.array([[np.nan if v is None else v for v in r["x"]] for r in rows], float)
            p_other = self._model.score(X[:, self._take])
            for risk, q in zip(rows, p_other, strict=True):
                self._one(risk, float(q), served.params)
            return len(rows)

    def _one(self, risk: dict[str, Any], q: float, served_params: AlarmParams) -> None:
        assert self._model is not None
        device, t = str(risk["device_id"]), float(risk["t_s"])
        pair = self._decisions.get(device)
        if pair is None:
            pair = (AlarmDecision(served_params), AlarmDecision(self._model.params))
            self._decisions[device] = pair
        last = self._last_t.get(device)
        if last is not None and t > last:
            self.device_s += min(t - last, MAX_GAP_S)
        self._last_t[device] = max(t, last or t)
        p = risk.get("p_fire")
        heat = bool(risk.get("heat"))
        co2 = [math.nan if risk.get(k) is None else float(risk[k]) for k in CO2_KEYS]
        for which, decision, value in (("served", pair[0], p), ("other", pair[1], q)):
            decision.update(t, math.nan if value is None else float(value), heat, *co2)
            if decision.onset:
                tally = self.tallies[which]
                tally.onsets += 1
                times = tally.recent.setdefault(device, [])
                times.append(t)
                del times[: max(0, len(times) - 32)]

    def verdict(self, feedback: dict[str, Any]) -> None:
        """Credit both models with an operator's verdict on an alarm of the served model."""
        alarm_t, fire = float(feedback["alarm_t"]), feedback["verdict"] == "fire"
        with self._lock:
            for which, tally in self.tallies.items():
                near = any(tally.alarmed_near(str(d), alarm_t, self.match_s)
                           for d in feedback.get("devices", ()))  # fmt: skip
                if fire:
                    tally.fires_caught += near
                    tally.fires_missed += not near
                elif near:
                    tally.false_alarms += 1
                logger.debug("verdict %s: %s %s", feedback.get("alarm_id"), which, near)

    # ------------------------------------------------------------------ judgement
    def comparison(self) -> Comparison | None:
        """Where the comparison stands (None while no other model is scored)."""
        with self._lock:
            if self._ref is None:
                return None
            return Comparison("served", self._ref, self.device_s / 3600.0, dict(self.tallies))

    def worse(self, which: str) -> tuple[bool | None, list[str]]:
        """Whether model ``which`` (served or other) did worse than the other one by the live
        measure: None (with the reason) before ``min_hours`` device-hours."""
        found = self.comparison()
        if found is None:
            return None, ["no other model is scored"]
        if found.device_hours < self.min_hours:
            return None, [f"{found.device_hours:.1f} of {self.min_hours:g} device-hours so far"]
        them = "other" if which == "served" else "served"
        mine, theirs = found.tallies[which], found.tallies[them]
        reasons = []
        if mine.fires_missed > theirs.fires_missed:
            reasons.append(f"missed {mine.fires_missed} confirmed fires, the other "
                           f"{theirs.fires_missed}")  # fmt: skip
        if mine.false_alarms > theirs.false_alarms:
            reasons.append(f"{mine.false_alarms} false alarms marked, the other "
                           f"{theirs.false_alarms}")  # fmt: skip
        if found.rate(which) > found.rate(them) * (1 + self.margin) + 1e-9:
            reasons.append(f"{found.rate(which):.1f} alarms per 1,000 device-hours, the other "
                           f"{found.rate(them):.1f}")  # fmt: skip
        return bool(reasons), reasons or [f"not worse over {found.device_hours:.1f} device-hours"]

    def summary(self) -> dict[str, Any] | None:
        """The comparison as plain data: the other model's reference (``other_model``), the
        device-hours, and for ``served`` and ``other`` their tallies (without recent onsets),
        their alarm onsets per 1,000 device-hours, and the live measure's verdict on each (None
        while no other model is scored)."""
        found = self.comparison()
        if found is None:
            return None
        out: dict[str, Any] = {"other_model": found.other, "device_hours": found.device_hours}
        for which in ("served", "other"):
            tally = {k: v for k, v in asdict(found.tallies[which]).items() if k != "recent"}
            worse, reasons = self.worse(which)
            out[which] = {**tally, "onsets_per_1000_device_hours": found.rate(which),
                          "worse": worse, "reasons": reasons}  # fmt: skip
        return out

    # ------------------------------------------------------------------ on the bus
    def step(self, bus: Bus, consumer: str = "shadow-1") -> int:
        """Compare on the predictions waiting and take the verdicts; how many messages."""
        taken = bus.receive(RISK_TOPIC, GROUP, consumer, limit=512, visibility_s=60.0)
        if taken:
            self.handle_many([d.message.payload for d in taken])
            bus.ack_many(taken)
        said = bus.receive("feedback", FEEDBACK_GROUP, consumer, limit=64, visibility_s=60.0)
        for delivery in said:
            self.verdict(delivery.message.payload)
        bus.ack_many(said)
        return len(taken) + len(said)

    def run(
        self,
        bus: Bus,
        stop: threading.Event,
        idle_s: float = 0.2,
        save_s: float = 10.0,
        announce: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """:meth:`step` until ``stop`` is set, saving the tallies every ``save_s`` (and telling
        ``announce`` the :meth:`summary` when it changed, in ``{"summary": ...}``)."""
        saved, told = time.monotonic(), None
        try:
            while not stop.is_set():
                if not self.step(bus):
                    stop.wait(idle_s)
                if time.monotonic() - saved > save_s:
                    self.save()
                    saved = time.monotonic()
                    summary = self.summary()
                    if announce is not None and summary != told:
                        announce({"summary": summary})
                        told = summary
        finally:
            self.save()
