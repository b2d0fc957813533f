"""Prometheus metrics of one service (its own registry, so several apps in one process do not
collide), exposed at ``/metrics``."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServiceMetrics:
    """Requests by route and status, their latency [s], scored rows, rejected inputs by reason,
    and the model being served."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "embercast_requests", "HTTP requests answered", ["route", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "embercast_request_seconds", "Time to answer a request [s]", ["route"],
            buckets=(0.001, 0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )  # fmt: skip
        self.scored = Counter(
            "embercast_scored_rows", "Rows scored by the fire model", registry=self.registry
        )
        self.rejected = Counter(
            "embercast_rejected_inputs", "Readings, frames or requests rejected, by reason",
            ["reason"], registry=self.registry,
        )  # fmt: skip
        self.model_version = Gauge(
            "embercast_model_version", "Registry version of the model being served (0: a file)",
            ["name"], registry=self.registry,
        )  # fmt: skip
        self.ingested = Counter(
            "embercast_ingest_messages", "Device messages by source and outcome (stored, "
            "duplicate, dead_letter)", ["source", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.model_swaps = Counter(
            "embercast_model_swaps", "Times the served model was replaced", registry=self.registry
        )
        self.alarms_raised = Counter(
            "embercast_alarms_raised", "Alarms raised, by zone ('' for an unregistered device)",
            ["zone"], registry=self.registry,
        )  # fmt: skip

        self.agent_up = Gauge(
            "embercast_agent_up", "Whether an agent's loop runs (1) or not (0)", ["agent"],
            registry=self.registry,
        )  # fmt: skip
        self.agent_restarts = Gauge(
            "embercast_agent_restarts", "Times an agent's loop was restarted after a crash",
            ["agent"], registry=self.registry,
        )  # fmt: skip
        self.drift = Counter(
            "embercast_drift", "Changes the drift watch found, by signal (a feature or p_fire)",
            ["signal"], registry=self.registry,
        )  # fmt: skip
        self.trouble = Gauge(
            "embercast_trouble", "The service's own trouble conditions (1 while one holds)",
            ["condition"], registry=self.registry,
        )  # fmt: skip

    def set_agent(self, name: str, running: bool, restarts: int) -> None:
        self.agent_up.labels(name).set(1 if running else 0)
        self.agent_restarts.labels(name).set(restarts)

    def set_trouble(self, condition: str, holds: bool) -> None:
        self.trouble.labels(condition).set(1 if holds else 0)

    def count_drift(self, signal: str) -> None:
        self.drift.labels(signal).inc()

    def count_ingest(self, source: str, outcome: str, n: int) -> None:
        self.ingested.labels(source, outcome).inc(n)


class Measure:
    """ASGI middleware counting each HTTP request by route and status in ``metrics`` and timing
    it until its response starts [s] (a stream's life is not its latency). Pure ASGI: the body
    passes through untouched, so streamed responses (SSE) stream."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                route = getattr(scope.get("route"), "path", "unmatched")
                self.metrics.latency.labels(route).observe(time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(route, str(status)).inc()
