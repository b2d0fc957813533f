"""A worker process of the partition test: handles its partitions of ``readings`` for the group
``analysis`` and writes one line per message handled (worker, device, message id, start and end
times) to its log, synced before the acknowledgement.

    python partition_worker.py BUS_URL OWNER LOG PARTITIONS
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from embercast.bus import open_bus
from embercast.bus.base import Delivery
from embercast.bus.partitions import run_partitioned


def main() -> None:
    url, owner, log_path, partitions = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - open for the process's life

    def handle(d: Delivery) -> None:
        started = time.time()
        time.sleep(0.004)  # the work of one message
        log.write(f"{owner} {d.message.key} {d.message.message_id} {started!r} {time.time()!r}\n")
        log.flush()
        os.fsync(log.fileno())

    with open_bus(url) as bus:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        run_partitioned(bus, "readings", "analysis", owner, partitions, handle, stop,
                        lease_s=1.0, visibility_s=1.0, batch=8)  # fmt: skip


if __name__ == "__main__":
    main()
