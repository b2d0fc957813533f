"""The FastAPI application: ``create_app(settings)`` builds it; ``embercast serve`` runs it
under uvicorn.

At start-up the app opens its state file (settings' ``service_home``) and loads ``model_ref``;
a background task asks the registry every ``service_model_poll_s`` where the reference points
and swaps the model between requests when it has moved. Every route but ``/healthz`` and
``/readyz`` needs an API key (``embercast keys create``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from embercast import __version__
from embercast.config import Settings, get_settings
from embercast.service.heap import full_collections_every
from embercast.service.limits import BodyLimit
from embercast.service.live_feed import LiveFeed
from embercast.service.metrics import Measure
from embercast.service.openapi import openapi_of
from embercast.service.routes import (
    alarms,
    devices,
    health,
    ingest,
    models,
    notifications,
    predict,
    system,
    zones,
)
from embercast.service.routes.dashboard import router as dashboard_router
from embercast.service.routes.live import router as live_router
from embercast.service.state import ServiceState

logger = logging.getLogger(__name__)


async def _follow_model(state: ServiceState) -> None:
    while True:
        await asyncio.sleep(state.settings.service_model_poll_s)
        await run_in_threadpool(state.refresh_model)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service's app on ``settings`` (default: :func:`get_settings`)."""
    settings = settings or get_settings()
    state = ServiceState.open(settings)
    feed = LiveFeed(state)  # the dashboard's events, fed by the hub

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with full_collections_every(settings.service_gc_full_s):
            async with _running(app):
                yield

    @contextlib.asynccontextmanager
    async def _running(app: FastAPI) -> AsyncIterator[None]:
        feed.start(asyncio.get_running_loop())
        await run_in_threadpool(state.refresh_model)
        await run_in_threadpool(state.ingest.start)
        await run_in_threadpool(state.alarm_recorder.reconcile, state.hub)
        if state.mqtt is not None:
            state.mqtt.start()
        if state.agents is not None:
            state.agents.start()
        follower = asyncio.create_task(_follow_model(state))
        try:
            yield
        finally:
            feed.stop()
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            if state.mqtt is not None:
                await run_in_threadpool(state.mqtt.stop)
            await run_in_threadpool(state.ingest.stop)
            if state.agents is not None:
                await run_in_threadpool(state.agents.stop)
            await run_in_threadpool(state.jobs.close)
            if state.response is not None:
                state.response.outbox.close()
            if state.zones is not None:
                state.zones.close()
            if state.bus is not None:
                state.bus.close()
            state.keys.flush()
            state.db.close()

    app = FastAPI(
        title="embercast",
        version=__version__,
        summary="Fire prediction from a thermal camera and a CO2 sensor",
        lifespan=lifespan,
    )
    app.state.service = state
    app.state.live = feed

    app.add_middleware(Measure, metrics=state.metrics)
    app.add_middleware(BodyLimit, max_bytes=settings.service_max_body_bytes)
    for module in (health, predict, models, devices, ingest, alarms, zones, notifications, system):
        app.include_router(module.router)
    app.include_router(models.jobs_router)
    app.include_router(live_router)
    app.include_router(dashboard_router)
    app.openapi = openapi_of(app)  # type: ignore[method-assign]
    return app
