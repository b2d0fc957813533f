"""``POST /v1/predict``: feature rows or a device's raw data, scored by the served model (or by
another registry reference, admin scope)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool

from embercast.errors import InputError
from embercast.service.deps import Reader, Served, State
from embercast.service.keys import ApiKey
from embercast.service.live_model import LiveModel
from embercast.service.predict import predict_device, predict_rows
from embercast.service.schemas import PredictionOut, PredictRequest, PredictResponse
from embercast.service.state import ServiceState

router = APIRouter(prefix="/v1", tags=["predict"])


def _model(state: ServiceState, key: ApiKey, served: LiveModel, ref: str | None) -> LiveModel:
    if ref is None or ref == served.ref:
        return served
    if not key.allows("admin"):
        raise HTTPException(403, "scoring with another model (model=...) needs the 'admin' scope")
    try:
        return state.other_model(ref)
    except InputError as exc:
        raise HTTPException(404, f"model {ref!r} cannot be loaded: {exc}") from None


INLINE_ROWS = 64
"""Feature rows scored on the event loop itself (under a millisecond); more rows, and a
device's raw data, are scored on a worker thread."""


@router.post("/predict", response_model=PredictResponse, summary="Fire probability and alarm")
async def predict(
    body: PredictRequest, state: State, key: Reader, served: Served
) -> PredictResponse:
    served_one = body.model is None or body.model == served.ref  # another may need loading
    if served_one and body.rows is not None and len(body.rows) <= INLINE_ROWS:
        return _predict(body, state, key, served)
    return await run_in_threadpool(_predict, body, state, key, served)


def _predict(
    body: PredictRequest, state: ServiceState, key: ApiKey, served: LiveModel
) -> PredictResponse:
    model = _model(state, key, served, body.model)
    rejected: dict[str, int] = {}
    predictions: list[PredictionOut]
    try:
        if body.rows is not None:
            predictions = predict_rows(model, body.rows)
        else:
            assert body.device is not None
            predictions, counted = predict_device(model, body.device)
            rejected = dict(counted)
    except InputError as exc:
        state.metrics.rejected.labels("predict_input").inc()
        raise HTTPException(422, str(exc)) from None
    state.metrics.scored.inc(len(predictions))
    for reason, n in rejected.items():
        state.metrics.rejected.labels(reason).inc(n)
    summary = model.summary()
    summary.pop("features")
    return PredictResponse(model=summary, predictions=predictions, rejected=rejected)
