"""The service's restart against the size of its ingest log.

A log of ``days`` of readings from ``devices`` devices (one reading each every 5 s, one part per
``part_s`` of receipt, each part named as if written when its readings came, as the service
names them) is replayed as the service does at start-up (:meth:`IngestLog.replay`, the default
``service_replay_s`` of 2 h). Beside it, in the same run, the baseline: reading every part the
log keeps (:meth:`IngestLog.read` of each kind), which is what a replay did before it read only
the recent parts.

Then the learning agent's read of one device's 20 minutes around a verdict
(:meth:`IngestLog.window`) on the parts as written, the compaction of every hour gone by
(:meth:`IngestLog.compact`, what the service runs every 10 minutes) and the same read on the
compacted log.

Last, the replay of cameras sending raw frames (a frame and a reading each every 5 s) in a
process of its own, its peak memory with the frames' pixels read for as many devices as
``REPLAY_FRAME_BYTES`` (256 MiB) holds, beside a budget that holds every device's at once (the
replay before held more: every frame of the parts it read, twice the window, in one table).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from embercast.service import ingest_log
from embercast.service.ingest_log import FRAMES, READINGS, IngestLog, part_name

REPLAY_S = 7200.0
"""The replay window measured (the default ``service_replay_s``) [s]."""


def build_log(root: Path, days: float, devices: int, part_s: float, now: float) -> int:
    """Write the log (see the module docstring) under ``root``, ending at ``now``; its parts."""
    parts = 0
    t = now - days * 86400.0
    while t <= now:
        times = [t - k * 5.0 for k in range(int(part_s // 5.0) or 1)]
        rows = [(f"d{d:03d}", ts) for ts in times for d in range(devices)]
        table = pa.table(
            {"device_id": [d for d, _ in rows], "ts": [ts for _, ts in rows],
             "co2_ppm": [450.0] * len(rows), "temperature_c": [21.0] * len(rows),
             "humidity_pct": [40.0] * len(rows), "received_s": [t] * len(rows)},
            schema=READINGS,
        )  # fmt: skip
        path = root / "readings" / part_name(int(t * 1e9), parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        parts += 1
        t += part_s
    return parts


def measure(days: float, devices: int, part_s: float) -> dict[str, float]:
    """Seconds to replay the log and to read all of it, the messages replayed and the parts;
    seconds of a device's window, of the compaction and of the window after it, and the parts
    left."""
    with tempfile.TemporaryDirectory(prefix="embercast-bench-restart-") as work:
        root = Path(work) / "ingest"
        now = time.time()
        parts = build_log(root, days, devices, part_s, now)
        log = IngestLog(str(root))
        try:
            t0 = time.perf_counter()
            replayed = sum(1 for _ in log.replay(REPLAY_S))
            replay_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            everything = sum(log.read(kind).num_rows for kind in ingest_log.FOLDERS)
            read_s = time.perf_counter() - t0
            span = (now - 3600.0, now - 2400.0)  # a verdict's 20 minutes, an hour ago
            t0 = time.perf_counter()
            before = log.window("d000", *span)
            window_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            log.compact(now)
            compact_s = time.perf_counter() - t0
            after_parts = sum(1 for _ in root.rglob("*.parquet"))
            t0 = time.perf_counter()
            after = log.window("d000", *span)
            window_after_s = time.perf_counter() - t0
            if not (before[0].equals(after[0]) and before[1].equals(after[1])):
                raise AssertionError("the compacted log reads another window")
        finally:
            log.close()
    return {"days": days, "parts": parts, "replayed": replayed, "stored": everything,
            "replay_s": replay_s, "read_s": read_s, "window_s": window_s,
            "compact_s": compact_s, "after_parts": after_parts,
            "window_after_s": window_after_s}  # fmt: skip


def build_frames_log(root: Path, hours: float, devices: int, now: float) -> int:
    """Write ``hours`` of a frame and a reading of each of ``devices`` every 5 s, a part per
    kind every 30 s, ending at ``now``, under ``root``; the frames."""
    pixels = np.full((120, 160), 29_815, dtype="<u2").tobytes()
    frames, seq = 0, 0
    for t in np.arange(now - hours * 3600.0, now, 30.0):
        times = [float(t) + 5.0 * k for k in range(6)]
        rows = [(f"cam{d:03d}", ts) for ts in times for d in range(devices)]
        columns = {"device_id": [d for d, _ in rows], "ts": [ts for _, ts in rows],
                   "received_s": [ts for _, ts in rows]}  # fmt: skip
        tables = {
            "frames": pa.table(columns | {"ffc": [False] * len(rows), "gain": ["high"] * len(rows),
                                          "frame": [pixels] * len(rows)}, schema=FRAMES),
            "readings": pa.table(columns | {"co2_ppm": [450.0] * len(rows),
                                            "temperature_c": [21.0] * len(rows),
                                            "humidity_pct": [40.0] * len(rows)}, schema=READINGS),
        }  # fmt: skip
        seq += 1
        for folder, table in tables.items():
            path = root / folder / part_name(int((t + 30.0) * 1e9), seq)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, path)
        frames += len(rows)
    return frames


_REPLAY = """
import json, sys, time
from embercast.service import ingest_log
ingest_log.REPLAY_FRAME_BYTES = int(sys.argv[2])
log = ingest_log.IngestLog(sys.argv[1])
t0 = time.perf_counter()
n = sum(1 for _ in log.replay(7200.0))
seconds = time.perf_counter() - t0
log.close()
# VmHWM: this process's own peak (ru_maxrss keeps the parent's across exec)
status = open("/proc/self/status").read().split("VmHWM:")[1]
peak = int(status.split()[0]) * 1024
print(json.dumps({"messages": n, "seconds": seconds, "peak": peak}))
"""


def measure_frames(hours: float, devices: int, budget: int) -> dict[str, float]:
    """The replay (2 h) of a raw-frame log in a process of its own at frame budget ``budget``
    [B]: messages, seconds and peak resident memory [B]."""
    with tempfile.TemporaryDirectory(prefix="embercast-bench-frames-") as work:
        root = Path(work) / "ingest"
        frames = build_frames_log(root, hours, devices, time.time())
        done = subprocess.run([sys.executable, "-c", _REPLAY, str(root), str(budget)],
                              capture_output=True, text=True, check=True)  # fmt: skip
    return {"frames": frames, **json.loads(done.stdout.splitlines()[-1])}


def restart_section(
    quick: bool, *, sizes: tuple[float, ...] | None = None, devices: int = 10, part_s: float = 30.0
) -> list[str]:
    """The "Restart" part of BENCHMARKS.md (``sizes``: days of log, other than the defaults)."""
    sizes = sizes or ((0.5, 1.0) if quick else (1.0, 3.0, 7.0))
    runs = [measure(days, devices, part_s) for days in sizes]
    cameras, hours = (2, 1.0) if quick else (10, 4.0)
    budgets = {"a group of devices at a time (256 MiB)": ingest_log.REPLAY_FRAME_BYTES,
               "every device at once": 2**62}  # fmt: skip
    frames = {name: measure_frames(hours, cameras, budget) for name, budget in budgets.items()}
    lines = [
        "## Restart (the ingest log's replay at start-up)",
        "",
        f"A log of {devices} devices, a reading each every 5 s, one part per {part_s:g} s of "
        "receipt, for each number of days; the replay of the last 2 h (`service_replay_s`) as "
        "`embercast serve` runs it at start-up, beside reading every part the log keeps (what "
        "the replay did before it read only the recent parts), in the same run. Then the "
        "learning agent's read of one device's 20 minutes (`IngestLog.window`) on the parts as "
        "written, the compaction of every hour gone by, and the same read after it.",
        "",
        "| days kept | parts | readings kept | replayed | replay s | read everything s | ratio "
        "| window s | compaction s | parts after | window after s | ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        lines.append(
            f"| {run['days']:g} | {run['parts']:,} | {run['stored']:,} | {run['replayed']:,} | "
            f"{run['replay_s']:.2f} | {run['read_s']:.2f} | "
            f"{run['read_s'] / max(run['replay_s'], 1e-9):.1f}x | {run['window_s']:.2f} | "
            f"{run['compact_s']:.2f} | {run['after_parts']:,} | {run['window_after_s']:.3f} | "
            f"{run['window_s'] / max(run['window_after_s'], 1e-9):.1f}x |"
        )
    lines += [
        "",
        "- The replay's time stays that of the last hours whatever the retention keeps; reading "
        "everything grows with it.",
        "- A device's window opens every part the retention keeps (its times are the device's "
        "clock, so the parts cannot be chosen by their write time); compacted, a part an hour.",
        "",
        f"The replay of {cameras} cameras sending raw frames (a frame and a reading each every "
        f"5 s, {hours:g} h kept) in a process of its own: peak resident memory with the frames' "
        "pixels read a group of devices at a time, beside every device's at once, in the same "
        "run.",
        "",
        "| frames read | frames kept | messages replayed | replay s | peak memory MB |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {name} | {run['frames']:,} | {run['messages']:,} | {run['seconds']:.2f} | "
            f"{run['peak'] / 2**20:,.0f} |"
            for name, run in frames.items()
        ),  # fmt: skip
        "",
    ]
    return lines
