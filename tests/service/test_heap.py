"""Full garbage collections kept out of the live path: none starts by itself while the policy
holds, one runs on its own thread every period and frees cyclic garbage, and the thresholds
come back after."""

from __future__ import annotations

import gc
import time
import weakref
from typing import Any

from embercast.service.heap import NEVER, full_collections_every


class Node:
    def __init__(self) -> None:
        self.other: Any = self


def test_full_collections_run_on_their_own_schedule_only() -> None:
    before = gc.get_threshold()
    full: list[float] = []

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] == 2:
            full.append(time.monotonic())

    gc.callbacks.append(count)
    try:
        with full_collections_every(3600.0):
            assert gc.get_threshold() == (before[0], before[1], NEVER)
            kept = [Node() for _ in range(200_000)]  # by default, full collections come
            assert full == []  # young collections only
            del kept
        assert gc.get_threshold() == before
        with full_collections_every(0.05):
            cycle = Node()
            dead = weakref.ref(cycle)
            gc.collect(1)  # still held: moved to the oldest generation
            del cycle  # garbage now, which only a full collection finds
            assert dead() is not None  # no young collection frees it
            deadline = time.monotonic() + 10
            while (dead() is not None or not full) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert dead() is None and full  # freed by the periodic full collection
        with full_collections_every(0.0):  # off: CPython's own schedule
            assert gc.get_threshold() == before
    finally:
        gc.callbacks.remove(count)
    assert gc.get_threshold() == before
