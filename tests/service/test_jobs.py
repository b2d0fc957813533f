"""Promotion and rollback through the API run as background jobs: 202, a job to poll, and the
served model follows; a job cut short by a stop is never left running."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from helpers import invoke


def _finished(client: Any, auth: dict[str, str], location: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(location, headers=auth).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"{location} never finished")


def test_promote_and_rollback_are_jobs_and_the_service_follows(served: Any, features: Path) -> None:
    # a second version trained the same way: the gate finds it no worse
    made = invoke("train", str(features), "--model", "gbm", "--register", "fire",
                  "--alarm-on", "val")  # fmt: skip
    assert made.exit_code == 0, made.output
    client, admin = served.client, served.auth("admin")
    refused = client.post("/v1/models/fire/2/promote", headers=served.auth("read"))
    assert refused.status_code == 403
    answer = client.post("/v1/models/fire/2/promote", headers=admin)
    assert answer.status_code == 202 and answer.headers["Location"].startswith("/v1/jobs/")
    job = _finished(client, admin, answer.json()["location"])
    assert job["status"] == "succeeded" and job["result"]["promoted"] is True, job
    assert job["kind"] == "promote" and job["finished_s"] >= job["started_s"]
    current = client.get("/v1/models/current", headers=admin).json()
    assert current["version"] == 2  # swapped at once, not at the next poll
    back = client.post("/v1/models/fire/rollback", headers=admin)
    job = _finished(client, admin, back.json()["location"])
    assert job["status"] == "succeeded" and job["result"] == {"champion": 1}
    assert client.get("/v1/models/current", headers=admin).json()["version"] == 1
    # a job that fails says why; an unknown job is 404
    bad = client.post("/v1/models/fire/9/promote", headers=admin)
    job = _finished(client, admin, bad.json()["location"])
    assert job["status"] == "failed" and "fire/9" in job["error"]
    assert client.get("/v1/jobs/nope", headers=admin).status_code == 404


def test_a_job_running_when_the_service_stopped_is_marked_failed(tmp_path: Path) -> None:
    import threading

    from embercast.service.db import ServiceDB
    from embercast.service.jobs import Jobs

    db = ServiceDB(str(tmp_path / "s.sqlite"))
    jobs = Jobs(db)
    release = threading.Event()
    started = jobs.submit("slow", {}, "k1", lambda: {"done": release.wait(10)})
    deadline = time.monotonic() + 10
    while jobs.get(started.job_id).status != "running" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert jobs.get(started.job_id).status == "running"
    again = Jobs(ServiceDB(str(tmp_path / "s.sqlite")))  # the service starts again
    cut = again.get(started.job_id)
    assert cut.status == "failed" and cut.error == "the service stopped while it ran"
    release.set()
    jobs.close()
