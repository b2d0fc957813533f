"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from embercast.service.deps import Reader, State
from embercast.service.misuse import SECURITY

router = APIRouter()


@router.get("/healthz", tags=["health"], summary="The process answers (no key needed)")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", tags=["health"], summary="Ready to serve (no key needed)")
def readyz(state: State) -> JSONResponse:
    model = state.models.current
    checks = {
        "model": "ok" if model is not None else f"not loaded: {state.models.error or 'loading'}",
        "store": "ok" if state.db.writable() else f"{state.db.path} cannot be written",
    }
    if state.mqtt is not None:
        broker = f"{state.mqtt.address.host}:{state.mqtt.address.port}"
        checks["broker"] = "ok" if state.mqtt.connected.is_set() else f"not connected to {broker}"
    ready = all(v == "ok" for v in checks.values())
    body: dict[str, object] = {"status": "ready" if ready else "not ready", "checks": checks}
    if state.self_check is not None:
        active = state.self_check.active.items()  # misuse, naming addresses, is not public
        body["troubles"] = {k: v for k, v in active if not k.startswith(SECURITY)}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", tags=["health"], summary="Prometheus metrics (read scope)")
def metrics(state: State, _: Reader) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
