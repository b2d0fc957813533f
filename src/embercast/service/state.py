"""What the routes of one service share: settings, state file, API keys, the served model,
limits and metrics (kept on ``app.state.service``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from embercast.config import Settings
from embercast.service.db import DB_FILE, ServiceDB
from embercast.service.devices import DeviceStore
from embercast.service.keys import KeyStore
from embercast.service.limits import RateLimiter
from embercast.service.live_model import LiveModel, ModelHolder, load_live_model
from embercast.service.metrics import ServiceMetrics


@dataclass
class ServiceState:
    settings: Settings
    db: ServiceDB
    keys: KeyStore
    models: ModelHolder
    limiter: RateLimiter
    devices: DeviceStore
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    _others: dict[str, LiveModel] = field(default_factory=dict)

    @classmethod
    def open(cls, settings: Settings) -> ServiceState:
        db = ServiceDB(os.path.join(settings.service_home, DB_FILE))
        return cls(
            settings, db, KeyStore(db), ModelHolder(settings.model_ref),
            RateLimiter(settings.service_rate_per_s), DeviceStore(db),
        )  # fmt: skip

    def other_model(self, ref: str) -> LiveModel:
        """Another reference's model for one request (kept for the next; a few at most)."""
        if ref not in self._others:
            if len(self._others) >= 4:
                self._others.pop(next(iter(self._others)))
            self._others[ref] = load_live_model(ref)
        return self._others[ref]

    def refresh_model(self) -> bool:
        """Follow ``model_ref``; whether the served model changed (counted and shown)."""
        before = self.models.current
        changed = self.models.refresh()
        model = self.models.current
        if changed and model is not None:
            if before is not None:
                self.metrics.model_swaps.inc()
            self.metrics.model_version.clear()
            self.metrics.model_version.labels(model.name).set(model.version or 0)
        return changed
