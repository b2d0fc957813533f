"""Run one top-level task function over many items, here or on a Dask cluster.

The same task function runs

* in this process (``engine="local"``, ``workers=1``),
* in a :class:`concurrent.futures.ProcessPoolExecutor` (``engine="local"``, ``workers > 1``),
* on Dask distributed (``engine="dask"``): on the scheduler at ``scheduler`` when an address is
  given, else on a :class:`distributed.LocalCluster` of ``workers`` single-threaded processes.

Results come back as tasks complete (not in input order), so callers can drive progress bars.
Task functions and items must be picklable; task functions must be importable top-level functions.

>>> list(map_tasks(abs, [-1, -2]))
[1, 2]
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Literal, TypeVar

from embercast.errors import EmbercastError, InputError

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT_S",
    "DEFAULT_WORKER_TIMEOUT_S",
    "ENGINES",
    "Engine",
    "SchedulerUnreachableError",
    "TaskExecutor",
    "map_tasks",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

Engine = Literal["local", "dask"]
ENGINES: tuple[str, ...] = ("local", "dask")

DEFAULT_CONNECT_TIMEOUT_S = 5.0
"""How long to try to reach a Dask scheduler before giving up [s]."""
DEFAULT_WORKER_TIMEOUT_S = 30.0
"""How long to wait for a reachable Dask scheduler to have at least one worker [s]."""


class SchedulerUnreachableError(EmbercastError, RuntimeError):
    """The Dask scheduler at ``address`` cannot be reached or has no workers."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"cannot use the Dask scheduler at {address}: {reason}")
        self.address = address
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.address, self.reason))


def _distributed() -> Any:
    """The ``distributed`` module, imported on first use (it is slow to import)."""
    import distributed

    return distributed


@contextmanager
def _environment_kept() -> Iterator[None]:
    """This process's environment as it was before the block, whatever the block set in it.

    A Dask nanny sets its ``distributed.nanny.pre-spawn-environ`` (``MALLOC_TRIM_THRESHOLD_``,
    ``OMP_NUM_THREADS=1`` ...) in its own process's environment before it starts a worker, so
    that the worker starts with them; left there, every process this one starts later (a local
    process pool, the service's processes) would run with one thread and trim its heap after
    every free.
    """
    before = dict(os.environ)
    try:
        yield
    finally:
        for name in set(os.environ) - set(before):
            del os.environ[name]
        os.environ.update(before)


def _check_arguments(engine: str, workers: int, scheduler: str | None) -> None:
    if engine not in ENGINES:
        raise InputError(f"invalid engine selection {engine!r}: expected one of {ENGINES}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be an integer >= 1, got {workers!r}")
    if scheduler is not None and engine != "dask":
        raise InputError(f"a scheduler address ({scheduler}) needs engine 'dask', got {engine!r}")


class TaskExecutor:
    """A context manager that owns the workers; :meth:`map` runs tasks on them.

    Entering connects to the Dask scheduler (or starts a local Dask cluster), so an unreachable
    scheduler fails before any work starts. Process pools start on the first :meth:`map`.

    >>> with TaskExecutor(engine="local", workers=1) as executor:
    ...     sorted(executor.map(len, ["ab", "c"]))
    [1, 2]
    """

    def __init__(
        self,
        *,
        engine: Engine | str = "local",
        workers: int = 1,
        scheduler: str | None = None,
        connect_timeout: float | None = None,
        worker_timeout: float | None = None,
        tasks: int | None = None,
    ) -> None:
        _check_arguments(engine, workers, scheduler)
        self.engine = engine
        self.workers = workers if tasks is None else max(1, min(workers, tasks))
        """Worker processes to start: ``workers``, but no more than ``tasks`` when known."""
        if self.workers < workers:
            logger.info("%d tasks: starting %d workers, not %d", tasks, self.workers, workers)
        self.scheduler = scheduler
        self.connect_timeout = (
            DEFAULT_CONNECT_TIMEOUT_S if connect_timeout is None else connect_timeout
        )
        self.worker_timeout = DEFAULT_WORKER_TIMEOUT_S if worker_timeout is None else worker_timeout
        self._client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> TaskExecutor:
        if self.engine == "dask":
            self._connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Disconnect from Dask and stop a local cluster (idempotent)."""
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    def _connect(self) -> None:
        dist = _distributed()
        if self.scheduler is not None:
            address = self.scheduler
            try:
                client = dist.Client(address, timeout=self.connect_timeout, set_as_default=False)
            except (OSError, ValueError, TypeError) as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise SchedulerUnreachableError(address, reason) from None
            try:
                client.wait_for_workers(1, timeout=self.worker_timeout)
            except (TimeoutError, OSError):
                client.close()
                raise SchedulerUnreachableError(
                    address, f"no worker joined within {self.worker_timeout:g} s"
                ) from None
            self._client = client
            return
        with _environment_kept():
            cluster = dist.LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        self._cluster = cluster
        self._client = dist.Client(cluster, set_as_default=False)

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        on_done: Callable[[R], object] | None = None,
    ) -> Iterator[R]:
        """Run ``fn`` on every item; yield each result as its task completes.

        ``on_done`` is called with each result before it is yielded. The first task that raises
        stops the run: tasks not started are cancelled and the exception propagates.
        """
        todo = list(items)
        if not todo:
            return
        if self.engine == "dask":
            results = self._map_dask(fn, todo)
        elif self.workers == 1 or len(todo) == 1:
            results = (fn(item) for item in todo)
        else:
            results = self._map_pool(fn, todo)
        for result in results:
            if on_done is not None:
                on_done(result)
            yield result

    def _map_pool(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        # spawn: children start clean (no inherited threads or locks) with this process's
        # environment and sys.path at the time of the call
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(items)), mp_context=context)
        futures: list[Future[R]] = []
        try:
            futures = [pool.submit(fn, item) for item in items]
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)

    def _map_dask(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        dask_as_completed = _distributed().as_completed
        if self._client is None:
            self._connect()
        client = self._client
        futures = client.map(fn, items, pure=False)
        try:
            for future in dask_as_completed(futures, loop=client.loop):
                yield future.result()
        finally:
            client.cancel(futures)


def map_tasks(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    engine: Engine | str = "local",
    workers: int = 1,
    scheduler: str | None = None,
    on_done: Callable[[R], object] | None = None,
    connect_timeout: float | None = None,
) -> Iterator[R]:
    """Run ``fn`` over ``items`` on the chosen engine; yield results as tasks complete.

    Arguments are checked at once (``ValueError``); workers start, and an unreachable scheduler
    raises :class:`SchedulerUnreachableError`, when iteration starts. Consume the iterator (or
    close it) to release the workers.

    Parameters
    ----------
    fn
        Top-level (picklable) task function.
    items
        Task inputs (picklable).
    engine
        ``"local"`` (this process or a process pool) or ``"dask"``.
    workers
        Worker processes (local pool or local Dask cluster); ``1`` runs in this process.
    scheduler
        Address of a running Dask scheduler, ``tcp://host:port`` (engine ``"dask"`` only).
    on_done
        Called with each result as it arrives.
    connect_timeout
        Seconds to try to reach the scheduler [s] (default :data:`DEFAULT_CONNECT_TIMEOUT_S`).
    """
    _check_arguments(engine, workers, scheduler)
    todo = list(items)

    def run() -> Iterator[R]:
        with TaskExecutor(
            engine=engine,
            workers=workers,
            scheduler=scheduler,
            connect_timeout=connect_timeout,
            tasks=len(todo),
        ) as executor:
            yield from executor.map(fn, todo, on_done=on_done)

    return run()
