"""Tests of the task executor: in-process, process pool and Dask, errors and addresses."""

from __future__ import annotations

import os
import socket
import time

import pytest

from embercast.engine.executor import SchedulerUnreachableError, TaskExecutor, map_tasks


def square_with_pid(x: int) -> tuple[int, int]:
    """Top-level task: x squared and the process that computed it."""
    return x * x, os.getpid()


def environment_variable(name: str) -> str | None:
    """Top-level task: the value of an environment variable where the task runs."""
    return os.environ.get(name)


def sleep_then_return(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("task 3 failed")
    return x


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_in_process_runs_in_order_and_reports_each_result() -> None:
    done: list[tuple[int, int]] = []
    results = list(map_tasks(square_with_pid, range(5), on_done=done.append))
    assert [r[0] for r in results] == [0, 1, 4, 9, 16]
    assert {r[1] for r in results} == {os.getpid()}
    assert done == results


def test_process_pool_runs_in_other_processes() -> None:
    done: list[tuple[int, int]] = []
    results = list(map_tasks(square_with_pid, range(6), workers=2, on_done=done.append))
    assert sorted(r[0] for r in results) == [0, 1, 4, 9, 16, 25]
    assert os.getpid() not in {r[1] for r in results}
    assert done == results


def test_process_pool_yields_results_as_they_complete() -> None:
    results = list(map_tasks(sleep_then_return, [1.0, 0.0, 0.0], workers=2))
    assert results[0] == 0.0 and results[-1] == 1.0


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_task_stops_the_run(workers: int) -> None:
    with pytest.raises(ValueError, match="task 3 failed"):
        list(map_tasks(fail_on_three, range(6), workers=workers))


def test_dask_local_cluster() -> None:
    done: list[tuple[int, int]] = []
    results = list(
        map_tasks(square_with_pid, range(4), engine="dask", workers=2, on_done=done.append)
    )
    assert sorted(r[0] for r in results) == [0, 1, 4, 9]
    assert os.getpid() not in {r[1] for r in results}
    assert done == results


def test_a_local_dask_cluster_leaves_this_process_environment_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Dask's nanny sets its workers' variables in its own process before it starts them; the
    processes this one starts afterwards must not inherit them."""
    for name in ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    before = dict(os.environ)
    with TaskExecutor(engine="dask", workers=1) as executor:
        assert dict(os.environ) == before
        # the Dask workers themselves still start with them
        assert list(executor.map(environment_variable, ["OMP_NUM_THREADS"])) == ["1"]
    assert dict(os.environ) == before
    later = map_tasks(environment_variable, ["MALLOC_TRIM_THRESHOLD_"] * 2, workers=2)
    assert list(later) == [None, None]


def test_dask_task_errors_propagate() -> None:
    with pytest.raises(ValueError, match="task 3 failed"):
        list(map_tasks(fail_on_three, range(5), engine="dask", workers=1))


def test_unreachable_scheduler_is_a_clear_error() -> None:
    address = f"tcp://127.0.0.1:{closed_port()}"
    started = time.perf_counter()
    with pytest.raises(SchedulerUnreachableError, match=f"Dask scheduler at {address}") as e:
        list(map_tasks(abs, [1], engine="dask", scheduler=address, connect_timeout=1.0))
    assert e.value.address == address
    assert time.perf_counter() - started < 10


def test_executor_connects_on_enter() -> None:
    address = f"tcp://127.0.0.1:{closed_port()}"
    executor = TaskExecutor(engine="dask", scheduler=address, connect_timeout=1.0)
    with pytest.raises(SchedulerUnreachableError):
        executor.__enter__()


def test_executor_runs_several_maps() -> None:
    with TaskExecutor(engine="local", workers=2) as executor:
        assert sorted(executor.map(abs, [-1, -2, 3])) == [1, 2, 3]
        assert list(executor.map(abs, [])) == []
        assert list(executor.map(abs, [-4])) == [4]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"engine": "ray"}, "invalid engine selection 'ray'"),
        ({"workers": 0}, "workers must be an integer >= 1"),
        ({"engine": "local", "scheduler": "tcp://127.0.0.1:8786"}, "needs engine 'dask'"),
    ],
)
def test_bad_arguments_fail_at_once(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        map_tasks(abs, [1], **kwargs)  # type: ignore[arg-type]


def test_no_items_no_work() -> None:
    assert list(map_tasks(abs, [], workers=4)) == []
