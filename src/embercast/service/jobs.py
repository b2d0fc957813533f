"""Background jobs of the service: work that may take minutes (a promotion whose gate measures
both versions again) runs on a worker thread while the request that asked for it gets ``202``
and a job to poll. Jobs are kept in the state file: a job that was running when the service
stopped is marked ``failed`` at the next start, never left ``running``."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from embercast.errors import EmbercastError
from embercast.service.db import ServiceDB

logger = logging.getLogger(__name__)

JobStatus = Literal["queued", "running", "succeeded", "failed"]
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS jobs (
        job_id TEXT PRIMARY KEY, kind TEXT NOT NULL, args TEXT NOT NULL, status TEXT NOT NULL,
        result TEXT, error TEXT, actor TEXT NOT NULL, created_s REAL NOT NULL,
        started_s REAL, finished_s REAL
    )""",
)
_COLUMNS = "job_id, kind, args, status, result, error, actor, created_s, started_s, finished_s"


class JobNotFound(EmbercastError, LookupError):
    """No job with that id."""


@dataclass(frozen=True)
class Job:
    """A job: what (``kind``, ``args``), who asked (``actor``: the key's id), its status, its
    result (JSON) or error, and when it was created, started and finished [Unix s]."""

    job_id: str
    kind: str
    args: dict[str, Any]
    status: JobStatus
    result: dict[str, Any] | None
    error: str | None
    actor: str
    created_s: float
    started_s: float | None
    finished_s: float | None


def _job(row: tuple[Any, ...]) -> Job:
    jid, kind, args, status, result, error, actor, created, started, finished = row
    return Job(str(jid), str(kind), json.loads(args), status,
               None if result is None else json.loads(result), error, str(actor), float(created),
               started, finished)  # fmt: skip


class Jobs:
    """Jobs in ``db``, run one at a time on a worker thread."""

    def __init__(self, db: ServiceDB) -> None:
        self.db = db
        db.ensure(SCHEMA)
        with db.write() as conn:
            conn.execute(
                "UPDATE jobs SET status = 'failed', error = 'the service stopped while it ran', "
                "finished_s = ? WHERE status IN ('queued', 'running')",
                (time.time(),),
            )
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job")
        self._lock = threading.Lock()

    def submit(
        self, kind: str, args: dict[str, Any], actor: str, work: Callable[[], dict[str, Any]]
    ) -> Job:
        """Queue ``work`` as a job; the job as queued."""
        job_id = str(uuid.uuid4())
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO jobs (job_id, kind, args, status, actor, created_s) "
                "VALUES (?,?,?,?,?,?)",
                (job_id, kind, json.dumps(args), "queued", actor, time.time()),
            )
        self._pool.submit(self._run, job_id, work)
        return self.get(job_id)

    def _run(self, job_id: str, work: Callable[[], dict[str, Any]]) -> None:
        self._set(job_id, "status = 'running', started_s = ?", time.time())
        try:
            result = work()
        except Exception as exc:  # the job failed; the service goes on
            logger.warning("job %s failed: %s", job_id, exc)
            self._set(job_id, "status = 'failed', error = ?, finished_s = ?", str(exc),
                      time.time())  # fmt: skip
            return
        self._set(job_id, "status = 'succeeded', result = ?, finished_s = ?",
                  json.dumps(result, default=str), time.time())  # fmt: skip

    def _set(self, job_id: str, assignments: str, *values: Any) -> None:
        with self.db.write() as conn:
            conn.execute(f"UPDATE jobs SET {assignments} WHERE job_id = ?", (*values, job_id))

    def get(self, job_id: str) -> Job:
        rows = self.db.query(f"SELECT {_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,))
        if not rows:
            raise JobNotFound(f"no job {job_id!r}")
        return _job(rows[0])

    def wait(self, job_id: str, timeout_s: float = 60.0) -> Job:
        """The job once it has finished (or as it is after ``timeout_s`` [s])."""
        deadline = time.monotonic() + timeout_s
        job = self.get(job_id)
        while job.status in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.05)
            job = self.get(job_id)
        return job

    def close(self) -> None:
        self._pool.shutdown(wait=True)
