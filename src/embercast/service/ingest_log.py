"""The durable log of ingested readings, frames and edge rows: group commit to Parquet.

:meth:`IngestLog.append` queues checked messages and returns a future that completes once they
are on disk: a writer thread gathers what arrives within ``flush_s`` and writes each kind as
one Parquet part, atomically (a temporary file, fsync, rename, fsync of the folder), so a crash
leaves whole parts only. Callers acknowledge a message (HTTP 202, MQTT PUBACK) only when its
future is done: nothing acknowledged is lost.

Layout under the log's root: ``readings/day=YYYY-MM-DD/part-<ns>-<seq>.parquet`` and the same
for ``frames`` and ``edge`` (thermal features computed on the device: feature set and version,
status, and the values by name, exactly as received) (day of receipt, UTC), so retention
deletes whole days. A part's name holds when it was written (``<ns>``, the service's clock), so
what reads recent history (the replay at start-up, the charts) opens only the recent parts and
days, however much the retention keeps.
"""

from __future__ import annotations

import datetime
import logging
import math
import os
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from embercast.dataset.schema import FRAME_HEIGHT, FRAME_WIDTH
from embercast.features.base import Reading
from embercast.features.edge import EdgeProblem, edge_row
from embercast.service.messages import EDGE, Message
from embercast.store.fs import resolve, write_table_atomic

logger = logging.getLogger(__name__)

READINGS = pa.schema(
    [
        pa.field("device_id", pa.string(), nullable=False),
        pa.field("ts", pa.float64(), nullable=False),
        pa.field("co2_ppm", pa.float64()),
        pa.field("temperature_c", pa.float64()),
        pa.field("humidity_pct", pa.float64()),
        pa.field("received_s", pa.float64(), nullable=False),
    ]
)
FRAMES = pa.schema(
    [
        pa.field("device_id", pa.string(), nullable=False),
        pa.field("ts", pa.float64(), nullable=False),
        pa.field("ffc", pa.bool_(), nullable=False),
        pa.field("gain", pa.string(), nullable=False),
        pa.field("frame", pa.binary(FRAME_HEIGHT * FRAME_WIDTH * 2), nullable=False),
        pa.field("received_s", pa.float64(), nullable=False),
    ]
)
EDGE_ROWS = pa.schema(
    [
        pa.field("device_id", pa.string(), nullable=False),
        pa.field("ts", pa.float64(), nullable=False),
        pa.field("feature_set", pa.string(), nullable=False),
        pa.field("feature_version", pa.int32(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("features", pa.map_(pa.string(), pa.float64()), nullable=False),
        pa.field("received_s", pa.float64(), nullable=False),
    ]
)
"""Stored edge rows: ``features`` maps each thermal feature to its value (NaN where missing)."""
FOLDERS = {"scd41": "readings", "thermal": "frames", EDGE: "edge"}
"""Message kind -> folder of the log."""
SCHEMAS = {"scd41": READINGS, "thermal": FRAMES, EDGE: EDGE_ROWS}
"""Message kind -> its Parquet schema."""


def _day(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%d")


def part_name(written_ns: int, seq: int) -> str:
    """The folder and file name of the ``seq``-th part written at ``written_ns`` [Unix ns]
    (the day of receipt, UTC; the write time first, so names sort in the order written).

    >>> part_name(1_796_601_600_000_000_000, 42)
    'day=2026-12-07/part-01796601600000000000-000042.parquet'
    """
    return f"day={_day(written_ns / 1e9)}/part-{written_ns:020d}-{seq:06d}.parquet"


def written_s(part: str) -> float:
    """When the part at path ``part`` was written [Unix s] (from its name: :func:`part_name`).

    >>> written_s("readings/day=2026-12-07/part-01796601600000000000-000042.parquet")
    1796601600.0
    """
    return int(os.path.basename(part)[5:25]) / 1e9


def _table(kind: str, messages: list[Message]) -> pa.Table:
    if kind == "scd41":
        readings = [m.reading for m in messages]
        assert all(r is not None for r in readings)
        return pa.table(
            {
                "device_id": [m.device_id for m in messages],
                "ts": [m.ts for m in messages],
                "co2_ppm": [r.co2_ppm for r in readings],  # type: ignore[union-attr]
                "temperature_c": [r.temperature_c for r in readings],  # type: ignore[union-attr]
                "humidity_pct": [r.humidity_pct for r in readings],  # type: ignore[union-attr]
                "received_s": [m.received_s for m in messages],
            },
            schema=READINGS,
        )
    if kind == EDGE:
        rows = [m.edge for m in messages if m.edge is not None]
        assert len(rows) == len(messages)
        return pa.table(
            {
                "device_id": [m.device_id for m in messages],
                "ts": [m.ts for m in messages],
                "feature_set": [r.feature_set for r in rows],
                "feature_version": [r.version for r in rows],
                "status": [r.status for r in rows],
                "features": [list(zip(r.names, r.values, strict=True)) for r in rows],
                "received_s": [m.received_s for m in messages],
            },
            schema=EDGE_ROWS,
        )
    frames = [m.frame for m in messages]
    assert all(f is not None for f in frames)
    return pa.table(
        {
            "device_id": [m.device_id for m in messages],
            "ts": [m.ts for m in messages],
            "ffc": [m.ffc for m in messages],
            "gain": [m.gain for m in messages],
            "frame": [f.astype("<u2").tobytes() for f in frames],  # type: ignore[union-attr]
            "received_s": [m.received_s for m in messages],
        },
        schema=FRAMES,
    )


def _edge_message(device_id: str, ts: float, stored: dict[str, Any]) -> Message | None:
    """The message of a stored edge row (one row of :data:`EDGE_ROWS` as a dict), checked again
    by this code; None (with a warning) when it cannot be used any more."""
    values = {k: (None if math.isnan(v) else v) for k, v in stored["features"]}
    try:
        row = edge_row(ts, stored["feature_set"], stored["feature_version"], stored["status"],
                       values)  # fmt: skip
    except EdgeProblem as exc:
        logger.warning("stored edge row of %s at ts=%s skipped: %s", device_id, ts, exc)
        return None
    return Message(device_id, EDGE, ts, stored["received_s"], edge=row)


class IngestLog:
    """Group-committed Parquet log under ``root`` (a local folder)."""

    def __init__(self, root: str, flush_s: float = 0.05) -> None:
        self.root = root
        self.flush_s = flush_s
        self._fs, _ = resolve(root)
        self._pending: list[list[Message]] = []
        self._group: Future[None] | None = None
        """What the messages pending (the next group commit) complete on."""
        self._cond = threading.Condition()
        self._closed = False
        self._seq = 0
        self.written = 0
        """Messages written since the log was opened."""
        self._thread = threading.Thread(target=self._run, name="ingest-log", daemon=True)
        self._thread.start()

    def append(self, messages: list[Message]) -> Future[None]:
        """Queue ``messages``; the future completes when they are on disk (or fails with the
        error that kept them off it: they were not stored, so they must not be acknowledged).
        Every append of one group commit shares its future."""
        if not messages:
            done: Future[None] = Future()
            done.set_result(None)
            return done
        with self._cond:
            if self._closed:
                raise RuntimeError("the ingest log is closed")
            if self._group is None:
                self._group = Future()
            self._pending.append(messages)
            self._cond.notify()
            return self._group

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending and self._closed:
                    return
            time.sleep(self.flush_s)  # let a group gather
            with self._cond:
                batch, self._pending = self._pending, []
                group, self._group = self._group, None
            assert group is not None
            try:
                self._write([m for msgs in batch for m in msgs])
            except BaseException as exc:  # nothing of the batch is acknowledged
                logger.error("cannot write %d ingested message groups: %s", len(batch), exc)
                group.set_exception(exc)
                continue
            group.set_result(None)

    def _write(self, messages: list[Message]) -> None:
        for kind, folder in FOLDERS.items():
            mine = [m for m in messages if m.kind == kind]
            if not mine:
                continue
            self._seq += 1  # its day and name from one reading of the clock
            path = os.path.join(self.root, folder, part_name(time.time_ns(), self._seq))
            write_table_atomic(self._fs, path, _table(kind, mine), compression="zstd")
        self.written += len(messages)

    def close(self) -> None:
        """Write what is queued, then stop the writer."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()

    def parts(self, kind: str, since_s: float | None = None) -> list[str]:
        """The stored parts of ``kind`` in the order they were written (those written at or after
        ``since_s`` [Unix s]: older days' folders are not listed)."""
        base = os.path.join(self.root, FOLDERS[kind])
        if not os.path.isdir(base):
            return []
        first_day = None if since_s is None else f"day={_day(since_s)}"
        found = []
        for day in sorted(os.listdir(base)):
            if first_day is not None and day < first_day:
                continue
            folder = os.path.join(base, day)
            found += [os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".parquet")]
        if since_s is not None:
            found = [p for p in found if written_s(p) >= since_s]
        return sorted(found, key=os.path.basename)

    def newest_s(self) -> float | None:
        """When the newest part of any kind was written [Unix s]; None for an empty log."""
        newest = None
        for folder in FOLDERS.values():
            base = os.path.join(self.root, folder)
            if not os.path.isdir(base):
                continue
            days = sorted(d for d in os.listdir(base) if d.startswith("day="))
            for day in reversed(days):  # the last day with a part
                names = [n for n in os.listdir(os.path.join(base, day)) if n.endswith(".parquet")]
                if names:
                    last = written_s(max(names))
                    newest = last if newest is None else max(newest, last)
                    break
        return newest

    def read(self, kind: str, since_s: float | None = None) -> pa.Table:
        """Every stored message of ``kind`` in the order written (of the parts written at or
        after ``since_s`` [Unix s]; empty when none)."""
        schema = SCHEMAS[kind]
        tables = [pq.read_table(p, schema=schema) for p in self.parts(kind, since_s)]
        return pa.concat_tables(tables) if tables else schema.empty_table()

    def recent(self, kind: str, span_s: float, newest_s: float | None = None) -> pa.Table:
        """The stored messages of ``kind`` in the parts written within ``span_s`` [s] of the
        log's newest part (``newest_s`` when the caller has it; what a restart takes up again;
        empty when none)."""
        newest = self.newest_s() if newest_s is None else newest_s
        if newest is None:
            return SCHEMAS[kind].empty_table()
        return self.read(kind, since_s=newest - span_s)

    def window(self, device_id: str, start_s: float, end_s: float) -> tuple[pa.Table, pa.Table]:
        """What ``device_id`` sent with times in [``start_s``, ``end_s``] (device clock):
        its readings and frames, each in time order, a repeated message once."""
        found = []
        for kind in ("scd41", "thermal"):
            where = [("device_id", "=", device_id), ("ts", ">=", start_s), ("ts", "<=", end_s)]
            tables = [pq.read_table(p, schema=SCHEMAS[kind], filters=where)
                      for p in self.parts(kind)]  # fmt: skip
            table = pa.concat_tables(tables) if tables else SCHEMAS[kind].empty_table()
            ts = table["ts"].to_numpy()
            _, first = np.unique(ts, return_index=True)  # sorted by time, repeats dropped
            found.append(table.take(pa.array(first)))
        return found[0], found[1]

    def replay(self, window_s: float) -> Iterator[Message]:
        """Each device's stored messages from ``window_s`` before its last one, frames, edge
        rows and readings merged in time order (in that order at equal times), duplicates
        dropped. An edge row this code can no longer use (another feature set version) is
        skipped with a warning.

        Only the parts written within twice ``window_s`` of the newest part are read, and a
        device last heard from (received) more than ``window_s`` before the newest part is not
        replayed: a device silent for longer than the window starts anew, as it would after
        the window anyway, and a restart reads the last hours, not the whole retention."""
        newest_part = self.newest_s()  # once for the three kinds
        tables = {kind: self.recent(kind, 2.0 * window_s, newest_part)
                  for kind in ("thermal", EDGE, "scd41")}  # fmt: skip
        keys = {k: (t["device_id"].to_pylist(), t["ts"].to_pylist()) for k, t in tables.items()}
        last: dict[str, float] = {}
        heard: dict[str, float] = {}
        for (devs, times), table in zip(keys.values(), tables.values(), strict=True):
            received = table["received_s"].to_pylist()
            for dev, ts, got in zip(devs, times, received, strict=True):
                last[dev] = max(last.get(dev, -np.inf), ts)
                heard[dev] = max(heard.get(dev, -np.inf), got)
        newest = max(heard.values(), default=-np.inf)
        merged: list[tuple[str, float, int, int]] = []
        for order, (devs, times) in enumerate(keys.values()):
            for i, (dev, ts) in enumerate(zip(devs, times, strict=True)):
                if ts >= last[dev] - window_s and heard[dev] >= newest - window_s:
                    merged.append((dev, ts, order, i))
        merged.sort()
        readings, frames, edge = tables["scd41"], tables["thermal"], tables[EDGE]
        r = {c: readings[c].to_pylist() for c in READINGS.names}
        f = {c: frames[c].to_pylist() for c in ("ffc", "gain", "received_s")}
        e = {c: edge[c].to_pylist() for c in EDGE_ROWS.names}
        seen: set[tuple[str, float, int]] = set()
        for dev, ts, order, i in merged:
            if (dev, ts, order) in seen:
                continue
            seen.add((dev, ts, order))
            if order == 2:
                values = (r[c][i] for c in ("co2_ppm", "temperature_c", "humidity_pct"))
                reading = Reading(ts, *(np.nan if v is None else float(v) for v in values))
                yield Message(dev, "scd41", ts, r["received_s"][i], reading=reading)
            elif order == 1:
                message = _edge_message(dev, ts, {c: v[i] for c, v in e.items()})
                if message is not None:
                    yield message
            else:
                raw = frames["frame"][i].as_py()
                pixels = np.frombuffer(raw, "<u2").reshape(FRAME_HEIGHT, FRAME_WIDTH)
                yield Message(
                    dev, "thermal", ts, f["received_s"][i], frame=pixels.astype(np.uint16),
                    ffc=bool(f["ffc"][i]), gain=str(f["gain"][i]),
                )  # fmt: skip

    def prune(self, older_than_s: float, now: float | None = None) -> list[str]:
        """Delete the days of readings, frames and edge rows received before
        ``now - older_than_s``; the folders deleted."""
        cutoff = _day((time.time() if now is None else now) - older_than_s)
        gone = []
        for folder in FOLDERS.values():
            base = os.path.join(self.root, folder)
            if not os.path.isdir(base):
                continue
            for day in sorted(os.listdir(base)):
                if day.startswith("day=") and day[4:] < cutoff:
                    shutil.rmtree(os.path.join(base, day))
                    gone.append(os.path.join(folder, day))
        return gone
