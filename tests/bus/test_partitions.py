"""Partitions: each device's messages handled by one worker at a time; workers share the
partitions, and a killed worker's partitions and unacknowledged messages are taken over."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from components import Redis
from embercast.bus import Bus, open_bus
from embercast.bus.partitions import PartitionOwner, partition_of, publish_keyed

WORKER = Path(__file__).with_name("partition_worker.py")


@pytest.fixture(params=["sqlite", "redis"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "bus.sqlite")
        return
    server = Redis(tmp_path / "redis")
    server.start()
    yield server.url
    server.kill()


def test_leases_are_held_renewed_and_released(url: str) -> None:
    with open_bus(url) as bus:
        assert bus.hold("partition.x.0", "a", 0.3)
        assert not bus.hold("partition.x.0", "b", 0.3)  # a holds it
        assert bus.hold("partition.x.0", "a", 0.3)  # renewed
        assert bus.hold("partition.x.1", "b", 5)
        assert bus.holders("partition.x.") == {"partition.x.0": "a", "partition.x.1": "b"}
        time.sleep(0.4)  # a's lease runs out
        assert bus.holders("partition.x.") == {"partition.x.1": "b"}
        assert bus.hold("partition.x.0", "b", 5)
        bus.release("partition.x.0", "a")  # not a's any more: nothing changes
        assert bus.holders("partition.") == {"partition.x.0": "b", "partition.x.1": "b"}
        bus.release("partition.x.0", "b")
        assert bus.holders("partition.") == {"partition.x.1": "b"}


def test_workers_share_the_partitions_fairly_and_take_over_on_a_clean_stop(url: str) -> None:
    with open_bus(url) as bus:
        a = PartitionOwner(bus, "readings", "analysis", "a", 8, lease_s=5)
        assert a.update() == set(range(8))  # alone: all of them
        b = PartitionOwner(bus, "readings", "analysis", "b", 8, lease_s=5)
        assert b.update() == set()  # a holds them all until it gives some back
        assert len(a.update()) == 4
        assert b.update() == set(range(8)) - a.get()
        a.close()
        assert b.update() == set(range(8))


def test_a_device_keeps_its_partition() -> None:
    assert {partition_of("hall-1", 8) for _ in range(3)} == {partition_of("hall-1", 8)}
    assert len({partition_of(f"dev-{i}", 8) for i in range(100)}) == 8


def _publish(bus: Bus, devices: int, per_device: int, partitions: int) -> set[str]:
    ids = set()
    for n in range(per_device):
        for d in range(devices):
            mid = f"dev-{d}.{n}"
            publish_keyed(bus, "readings", {"n": n}, f"dev-{d}", partitions, message_id=mid)
            ids.add(mid)
    return ids


def _handled(logs: list[Path]) -> list[tuple[str, str, str, float, float]]:
    rows = []
    for log in logs:
        if log.exists():
            for line in log.read_text().splitlines():
                worker, device, mid, start, end = line.split()
                rows.append((worker, device, mid, float(start), float(end)))
    return rows


def test_two_worker_processes_one_killed_nothing_lost_one_worker_per_device_at_a_time(
    url: str, tmp_path: Path
) -> None:
    partitions, logs = 8, [tmp_path / "a.log", tmp_path / "b.log"]
    with open_bus(url) as bus:
        published = _publish(bus, devices=24, per_device=40, partitions=partitions)
    workers = {
        name: subprocess.Popen(
            [sys.executable, str(WORKER), url, name, str(log), str(partitions)],
            stdout=subprocess.PIPE,
        )
        for name, log in zip(("a", "b"), logs, strict=True)
    }
    try:
        for w in workers.values():
            assert w.stdout is not None and w.stdout.readline() == b"ready\n"
        deadline = time.monotonic() + 60
        while len(_handled(logs)) < len(published) // 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert {r[0] for r in _handled(logs)} == {"a", "b"}  # both had partitions
        workers["a"].kill()  # SIGKILL: no clean stop, leases and messages left held
        killed_at = time.time()
        workers["a"].wait()
        while {r[2] for r in _handled(logs)} != published and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        for w in workers.values():
            w.kill()
            w.wait()
    rows = _handled(logs)
    assert {r[2] for r in rows} == published  # nothing lost
    duplicates = len(rows) - len(published)  # handled by a, not acknowledged before the kill
    assert 0 <= duplicates <= 8 * partitions
    assert not [r for r in rows if r[0] == "a" and r[3] > killed_at]  # a is dead
    assert [r for r in rows if r[0] == "b" and r[3] > killed_at + 1.0]  # b took a's share
    by_device: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for worker, device, _, start, end in rows:
        by_device[device].append((start, end, worker))
    for device, spans in by_device.items():
        spans.sort()
        for (_, e0, w0), (s1, _, w1) in zip(spans, spans[1:], strict=False):
            assert w0 == w1 or s1 >= e0, f"{device} handled by {w0} and {w1} at once"


def test_a_heartbeat_keeps_the_partitions_through_a_batch_longer_than_a_lease(url: str) -> None:
    from embercast.bus.partitions import Heartbeat

    # leases long enough that a beat held up by a busy machine (a write waiting its turn, the
    # other test workers on the cores) still renews in time: with 0.3 s one was seen to miss
    with open_bus(url) as bus:
        a = PartitionOwner(bus, "readings", "fold", "a", 4, lease_s=1.0)
        b = PartitionOwner(bus, "readings", "fold", "b", 4, lease_s=1.0)
        assert a.update() == set(range(4))
        with Heartbeat(a):
            time.sleep(3.0)  # a long batch: three leases long
            assert b.update() == set()  # a's leases were renewed meanwhile
        assert a.get() == set(range(4))
        time.sleep(1.2)  # no heartbeat, no renewal: a's leases and membership run out
        assert b.update() == set(range(4))
