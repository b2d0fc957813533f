"""``/v1/models``: the registry's versions and the model being served; promotion and rollback
(admin) run as background jobs (``202`` and ``/v1/jobs/{id}`` to poll), since the gate may
measure both versions again."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse

from embercast.errors import InputError
from embercast.lifecycle.registry import Registry
from embercast.service.deps import Admin, Reader, Served, State
from embercast.service.jobs import JobNotFound
from embercast.service.overview import learning_summary

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("/current", summary="The model being served, its features and operating point")
def current(_: Reader, served: Served) -> dict[str, Any]:
    return served.summary()


@router.get(
    "/learning",
    summary="What the live system learns: drift found, the shadow comparison, the steward's "
    "actions",
)
def learning(_: Reader, state: State) -> dict[str, Any]:
    """The last 50 drifts (oldest first), the challenger's (or the replaced champion's) shadow
    comparison by the live measure (null when none is scored) and the model steward's settings
    and last 50 actions (null when the service does not serve a registered model)."""
    return learning_summary(state)


@router.get("", summary="Every registered version with its aliases and held-out metrics")
def versions(_: Reader, name: str | None = None) -> list[dict[str, Any]]:
    try:
        rows = Registry().versions()
    except InputError as exc:  # the registry cannot be reached or read
        raise HTTPException(503, str(exc)) from None
    found = [v for v in rows if name is None or v["name"] == name]
    if name is not None and not found:
        raise HTTPException(404, f"no registered model {name!r}")
    return found


@router.get("/{name}/{version}", summary="One registered version")
def version(name: str, version: int, _: Reader) -> dict[str, Any]:
    try:
        rows = Registry().versions()
        found = [v for v in rows if v["name"] == name and int(v["version"]) == version]
    except InputError as exc:
        raise HTTPException(503, str(exc)) from None
    if not found:
        raise HTTPException(404, f"no model version {name}/{version}")
    return found[0]


def _accepted(job: Any) -> JSONResponse:
    body = {"job_id": job.job_id, "status": job.status, "location": f"/v1/jobs/{job.job_id}"}
    return JSONResponse(body, status_code=202, headers={"Location": body["location"]})


@router.post(
    "/{name}/{version}/promote",
    status_code=202,
    summary="Make a version champion if it passes the promotion gate (a job to poll)",
)
def promote(name: str, version: int, state: State, key: Admin) -> JSONResponse:
    def work() -> dict[str, Any]:
        decision = Registry().promote(f"{name}/{version}")
        state.refresh_model()
        return {"promoted": decision.passed, "reasons": decision.reasons,
                "compared_on": decision.compared_on}  # fmt: skip

    job = state.jobs.submit("promote", {"name": name, "version": version}, key.key_id, work)
    return _accepted(job)


@router.post(
    "/{name}/rollback",
    status_code=202,
    summary="Give the champion alias back to the previous champion (a job to poll)",
)
def rollback(name: str, state: State, key: Admin) -> JSONResponse:
    def work() -> dict[str, Any]:
        champion = Registry().rollback(name)
        state.refresh_model()
        return {"champion": champion}

    return _accepted(state.jobs.submit("rollback", {"name": name}, key.key_id, work))


jobs_router = APIRouter(prefix="/v1/jobs", tags=["models"])


@jobs_router.get("/{job_id}", summary="A background job: status, result or error")
def job(job_id: str, state: State, _: Reader) -> dict[str, Any]:
    try:
        return asdict(state.jobs.get(job_id))
    except JobNotFound as exc:
        raise HTTPException(404, str(exc)) from None
