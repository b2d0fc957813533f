"""What the routes of one service share: settings, state file, API keys, the served model,
limits and metrics (kept on ``app.state.service``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

from embercast.agents.coordinator import Coordinator, Loop
from embercast.agents.drift import DriftWatch
from embercast.agents.learning import LearningAgent
from embercast.agents.model_events import LearningView
from embercast.agents.monitoring import DeviceWatch, publisher, take_reports, told
from embercast.agents.response import ResponseAgent
from embercast.agents.shadow import Shadow
from embercast.agents.steward import ModelSteward
from embercast.agents.zone_requests import RemoteZones, Zones
from embercast.agents.zones import ZoneAgent
from embercast.alarm.decision import AlarmParams
from embercast.alarm.device_quality import QualityParams
from embercast.alarm.zone import ZoneParams
from embercast.alarm.zone_config import ZoneParamsOf, load_zone_config
from embercast.bus import Bus, bus_from_settings
from embercast.bus.partitions import members_prefix
from embercast.bus.presence import present
from embercast.config import Settings, settings_env
from embercast.lifecycle.registry import Registry, is_ref, parse_ref
from embercast.notify.outbox import Outbox
from embercast.notify.recipients import load_recipients
from embercast.service.alarm_recorder import AlarmRecorder, chained, service_recorder
from embercast.service.alarms import AlarmStore
from embercast.service.commands import Command
from embercast.service.db import DB_FILE, ServiceDB
from embercast.service.devices import DeviceStore
from embercast.service.fold_topic import READINGS_TOPIC, publish_stored
from embercast.service.fold_worker import GROUP as FOLD_GROUP
from embercast.service.fold_worker import run_fold_process
from embercast.service.home import (
    INGEST_DIR,
    OUTBOX_FILE,
    SHADOW_FILE,
    ZONES_FILE,
    episodes_location,
)
from embercast.service.hub import HISTORY, StreamHub
from embercast.service.ingest import Ingest
from embercast.service.jobs import Jobs
from embercast.service.keys import KeyStore
from embercast.service.limits import RateLimiter
from embercast.service.live_model import LiveModel, ModelHolder, load_live_model
from embercast.service.messages import Message
from embercast.service.metrics import ServiceMetrics
from embercast.service.misuse import MisuseWatch
from embercast.service.mqtt import MqttIngest
from embercast.service.notifications import NotificationLog
from embercast.service.risk_feed import RiskFeed, RiskView
from embercast.service.self_check import SelfCheck
from embercast.service.sessions import SessionStore
from embercast.service.zone_topics import ZonePublisher

RESTORE_MAX = 100_000
"""With fold workers, predictions a starting service puts back in the dashboard's history at
most: an hour of them (``HISTORY``) for up to ~140 devices, less per device beyond."""


def stream_hub(settings: Settings, models: ModelHolder) -> StreamHub:
    """The devices' streams as ``settings`` set them, scored by the model ``models`` serves
    (the service's, or a fold worker's)."""
    quality = QualityParams(
        ffc_window_s=settings.monitoring_ffc_window_s,
        dead_pixels=settings.monitoring_dead_pixels,
        clock_skew_s=settings.monitoring_clock_skew_s,
    )
    return StreamHub(lambda: models.current, settings.service_reading_wait_s,
                     threads=settings.service_fold_threads, quality=quality)  # fmt: skip


def fold_workers(bus: Bus) -> tuple[list[str], int]:
    """The fold workers running on ``bus`` (their names) and the messages waiting for them."""
    workers = bus.holders(members_prefix(READINGS_TOPIC, FOLD_GROUP)).values()
    waiting = bus.waiting(FOLD_GROUP)
    return sorted(workers), waiting


def zone_params_of(settings: Settings) -> ZoneParamsOf:
    """Each zone's parameters: from ``zones_config``, else the defaults."""
    if settings.zones_config:
        return load_zone_config(settings.zones_config)
    return lambda _zone: ZoneParams()


def agents_apart(settings: Settings) -> list[str]:
    """The agents ``settings`` leave to ``embercast agent NAME`` processes (fold workers
    aside: :func:`fold_workers`)."""
    apart = {
        "response": bool(settings.notify_recipients) and not settings.notify_in_service,
        "drift": not settings.learning_drift_in_service,
        "learning": not settings.learning_in_service,
        "shadow": is_ref(settings.model_ref) and not settings.learning_shadow_in_service,
        "monitoring": not settings.monitoring_in_service,
        "zones": not settings.zones_in_service,
    }
    return [name for name, away in apart.items() if away]


def model_steward(
    settings: Settings,
    served: Callable[[], LiveModel | None],
    announce: Callable[[str], Callable[[dict[str, Any]], None]] | None = None,
) -> ModelSteward | None:
    """The steward of the registered model ``model_ref`` serves, with its shadow scoring
    beside ``served`` (None when ``model_ref`` names a file); ``announce(kind)`` tells others
    of its actions and comparison (an agent in a process of its own)."""
    if not is_ref(settings.model_ref):
        return None
    steward = ModelSteward(
        parse_ref(settings.model_ref)[0], lambda: Registry(settings.mlflow_uri),
        auto_promote=settings.learning_auto_promote,
        auto_rollback=settings.learning_auto_rollback,
        announce=None if announce is None else announce("steward"),
    )  # fmt: skip
    steward.shadow = Shadow(
        steward.other, load_live_model, served,
        os.path.join(settings.service_home, SHADOW_FILE),
        min_hours=settings.learning_shadow_hours,
    )  # fmt: skip
    return steward


@dataclass
class ServiceState:
    settings: Settings
    db: ServiceDB
    keys: KeyStore
    models: ModelHolder
    limiter: RateLimiter
    devices: DeviceStore
    hub: StreamHub
    ingest: Ingest
    alarms: AlarmStore
    alarm_recorder: AlarmRecorder
    jobs: Jobs
    """Background jobs (promotion, rollback)."""
    """The hub's sink: keeps ``alarms`` in step with the devices' decisions."""
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    mqtt: MqttIngest | None = None
    """The broker subscription, when settings name a broker (``mqtt_url``)."""
    bus: Bus | None = None
    """The message bus between the service and its agents (``bus_url``)."""
    zones: Zones | None = None
    """The zones' state machines, fed by the predictions on the bus (in this process, or in
    ``embercast agent zones``)."""
    response: ResponseAgent | None = None
    """Notifications of zone events, when ``notify_recipients`` names recipients."""
    agents: Coordinator | None = None
    """The agents' loops (risk feed, zones, response, MQTT zones, self-check)."""
    self_check: SelfCheck | None = None
    """The service's own trouble conditions."""
    learning: LearningAgent | None = None
    """Operators' verdicts into labelled episodes."""
    drift: DriftWatch | None = None
    """Changes in the live inputs and scores."""
    steward: ModelSteward | None = None
    """Shadow scoring of the challenger (or the replaced champion), promotion and roll-back."""
    notifications: NotificationLog | None = None
    """Every attempt to notify, as the response agents publish them."""
    learning_view: LearningView | None = None
    """What learning agents in processes of their own publish (drifts, shadow, steward)."""
    misuse: MisuseWatch = field(default_factory=MisuseWatch)
    """Authentication failures by client address and message bursts by device."""
    _others: dict[str, LiveModel] = field(default_factory=dict)
    sessions: SessionStore = field(init=False)
    """The dashboard's browser sessions."""

    def __post_init__(self) -> None:
        self.sessions = SessionStore(self.db)

    @classmethod
    def open(cls, settings: Settings) -> ServiceState:
        db = ServiceDB(os.path.join(settings.service_home, DB_FILE))
        models = ModelHolder(settings.model_ref)
        devices = DeviceStore(db)
        metrics = ServiceMetrics()
        hub = stream_hub(settings, models)
        bus = bus_from_settings(settings)
        publish = None
        if not settings.service_fold_in_service:  # fold workers fold the devices
            zone_of = lru_cache(maxsize=100_000)(devices.zone_of)  # a device keeps its zone

            def publish(messages: list[Message]) -> int:
                return publish_stored(bus, messages, zone_of, settings.bus_partitions)

        misuse = MisuseWatch(auth_failures=settings.monitoring_auth_failures,
                             burst_messages=settings.monitoring_burst_messages)  # fmt: skip
        ingest = Ingest(
            os.path.join(settings.service_home, INGEST_DIR), db, hub,
            flush_s=settings.service_flush_s, replay_s=settings.service_replay_s,
            known=devices.refusal, counted=metrics.count_ingest, submitted=misuse.message,
            publish=publish,
        )  # fmt: skip
        alarms = AlarmStore(db)
        recorder = service_recorder(alarms, devices, models, metrics)
        risk = RiskFeed(bus, devices.zone_of)

        def operating_point() -> AlarmParams | None:
            model = models.current
            return None if model is None else model.params

        zones_file = os.path.join(settings.service_home, ZONES_FILE)
        zones: ZoneAgent | None = None
        if settings.zones_in_service:
            zones = ZoneAgent(zones_file, operating_point, bus, zone_params_of(settings))
            shown_zones: Zones = zones
            report = told(zones)
        else:  # `embercast agent zones` runs them: the service reads and asks
            remote = RemoteZones(zones_file, bus)
            shown_zones, report = remote, publisher(bus)
        watch = DeviceWatch(report, silent_min_s=settings.monitoring_silent_s)
        learning = LearningAgent(
            episodes_location(settings),
            ingest.log.window,
            lambda: None if models.current is None else models.current.feature_set,
            before_s=settings.learning_before_s, after_s=settings.learning_after_s,
        )  # fmt: skip
        drift = DriftWatch(lambda: None if models.current is None else models.current.features,
                           counted=metrics.count_drift)  # fmt: skip
        loops: dict[str, Loop] = {}
        if settings.service_fold_in_service:
            hub.sink = chained(hub.sink, recorder.update, risk.update)
            loops["risk-feed"] = risk.run
        else:  # the fold workers' predictions, as the service's own
            hub.sink = chained(hub.sink, recorder.update)
            shown = max(1, len(devices.list()))  # a start restores ~100,000 at most
            history_s = min(HISTORY * 5.0, RESTORE_MAX * 5.0 / shown)
            loops["risk-view"] = RiskView(bus, hub.mirror, hub.restore, history_s).run
            for n in range(settings.service_fold_workers):
                loops[f"fold-{n + 1}"] = partial(run_fold_process, settings_env(settings))
        loops["bus-prune"] = partial(bus.run_pruning, settings.bus_retention_days * 86_400.0)
        loops["ingest-upkeep"] = partial(
            ingest.log.run_upkeep, retention_s=settings.service_retention_days * 86_400.0
        )
        notifications = NotificationLog(db)
        loops["notifications"] = partial(notifications.run, bus)
        if zones is not None:
            loops["zones"] = partial(zones.run, bus)
        else:
            loops["zone-replies"] = remote.run
        if settings.monitoring_in_service:
            loops["monitoring"] = lambda stop: watch.run(bus, stop)
        elif zones is not None:  # `embercast agent monitoring` watches: its silences, to zones
            loops["silences"] = partial(take_reports, zones, bus)
        if settings.learning_in_service:
            loops["learning"] = lambda stop: learning.run(bus, stop)
        if settings.learning_drift_in_service:
            loops["drift"] = lambda stop: drift.run(bus, stop)
        steward = model_steward(settings, lambda: models.current)
        if steward is not None and settings.learning_shadow_in_service:
            loops["shadow"] = lambda stop: steward.shadow.run(  # type: ignore[union-attr]
                bus, stop, save_s=settings.learning_shadow_save_s
            )
            loops["steward"] = steward.run
        elif steward is not None:  # `embercast agent shadow` scores: the service shows it
            steward.shadow = None
        view = LearningView(
            None if settings.learning_drift_in_service else drift,
            None if settings.learning_shadow_in_service else steward,
        )
        if view.drift is not None or view.steward is not None:
            loops["learning-view"] = lambda stop: view.run(bus, stop)
        response = None
        if settings.notify_recipients and settings.notify_in_service:
            outbox = Outbox(os.path.join(settings.service_home, OUTBOX_FILE))
            response = ResponseAgent(outbox, load_recipients(settings.notify_recipients))
            loops["response"] = lambda stop: response.run(bus, stop)
        mqtt = None
        if settings.mqtt_url:
            mqtt = MqttIngest(
                ingest, settings.mqtt_url, settings.mqtt_client_id,
                tls_ca=settings.mqtt_tls_ca, keepalive_s=settings.mqtt_keepalive_s,
                devices=devices, registry=metrics.registry,
            )  # fmt: skip
            zone_topics = ZonePublisher(shown_zones, mqtt.publish_confirmed)
            loops["mqtt-zones"] = lambda stop: zone_topics.run(bus, stop)
        coordinator = Coordinator(loops)
        check = SelfCheck(
            bus, connected=mqtt.connected.is_set if mqtt is not None else None,
            model_loaded=lambda: models.current is not None, waiting=ingest.backlog,
            home=settings.service_home, agents=coordinator, set_gauge=metrics.set_trouble,
            set_agent=metrics.set_agent, misuse=misuse.conditions,
            fold=None if settings.service_fold_in_service else partial(fold_workers, bus),
            apart=lambda: {name: present(bus, name) for name in agents_apart(settings)},
        )  # fmt: skip
        coordinator.add("self-check", check.run)
        return cls(
            settings=settings, db=db, keys=KeyStore(db), models=models,
            limiter=RateLimiter(settings.service_rate_per_s), devices=devices, hub=hub,
            ingest=ingest, metrics=metrics, mqtt=mqtt,
            alarms=alarms, alarm_recorder=recorder, jobs=Jobs(db),
            bus=bus, zones=shown_zones, response=response, agents=coordinator, self_check=check,
            learning=learning, drift=drift, steward=steward, learning_view=view, misuse=misuse,
            notifications=notifications,
        )  # fmt: skip

    def send_command(
        self, device_id: str, name: str, args: dict[str, Any], timeout_s: float
    ) -> Command:
        """A new pending command (:meth:`DeviceStore.send`), published to the device at once
        when the broker is connected (marked delivered on its PUBACK), else at the next
        connection; without a broker it stays pending."""
        command = self.devices.send(device_id, name, args, timeout_s)
        if self.mqtt is not None and self.mqtt.commands is not None:
            self.mqtt.commands.offer(command)
        return command

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
                self.hub.use(model)
            self.metrics.model_version.clear()
            self.metrics.model_version.labels(model.name).set(model.version or 0)
        return changed
