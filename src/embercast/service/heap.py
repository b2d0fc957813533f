"""Full garbage collections kept out of the live path.

CPython's full (generation-2) collection stops every thread for a time that grows with the
number of objects the collector tracks, and a process folding thousands of device streams holds
millions of them (their windows, extractors and prediction histories). Left to CPython's own
schedule, full collections come each time the long-lived objects grow by a quarter, and the
live path stops for each. While :func:`full_collections_every` holds, young collections run as
usual (they look only at new objects), no full one starts by itself, and one runs every
``period_s`` on a thread of its own, freeing the cyclic garbage that only a full collection
finds.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

NEVER = 2**31 - 1
"""A generation-2 threshold no count of generation-1 collections reaches."""


def _collect(period_s: float, stop: threading.Event) -> None:
    while not stop.wait(period_s):
        began = time.perf_counter()
        found = gc.collect()
        logger.info("full collection: %d unreachable objects in %.0f ms, %d tracked", found,
                    1e3 * (time.perf_counter() - began), len(gc.get_objects()))  # fmt: skip


@contextmanager
def full_collections_every(period_s: float) -> Iterator[None]:
    """No automatic full collection while the context lasts, one every ``period_s`` [s]
    instead (0: CPython's own schedule, nothing changes); the thresholds are restored after."""
    if period_s <= 0:
        yield
        return
    before = gc.get_threshold()
    gc.set_threshold(before[0], before[1], NEVER)
    stop = threading.Event()
    thread = threading.Thread(target=_collect, args=(period_s, stop), name="full-gc",
                              daemon=True)  # fmt: skip
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        gc.set_threshold(*before)
