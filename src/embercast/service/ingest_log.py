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

A group commit writes a part per kind, up to ``1 / flush_s`` parts a second:
:meth:`IngestLog.compact` merges the parts of each hour gone by into a few
(``part-<last ns>-c<first ns>.parquet``: the span of write times it holds, rows in the order
written), so that a month of retention is a few thousand files, not millions. A compacted part
is renamed into place before its sources are deleted, and readers leave out a part whose write
time lies in a compacted part's span of the same day: a crash between the two reads each
message once, and the next compaction deletes the sources left over.
"""

from __future__ import annotations

import bisect
import datetime
import itertools
import logging
import math
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from embercast.dataset.schema import FRAME_HEIGHT, FRAME_WIDTH
from embercast.features.base import Reading
from embercast.features.edge import EdgeProblem, edge_row
from embercast.service.messages import EDGE, Message
from embercast.store.fs import resolve, write_table_atomic

logger = logging.getLogger(__name__)

T = TypeVar("T")

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


COMPACT_SLOT_NS = 3_600_000_000_000
"""Parts are compacted by the hour (UTC) they were written in, once that hour is over [ns]."""
COMPACT_BYTES = 64 * 2**20
"""Most source bytes merged into one compacted part (what a compaction holds in memory) [B]."""
_NAME_LEN = len("part-") + 20


_PART = re.compile(r"part-\d{20}-(\d{6}|c\d{20})\.parquet")
"""A part's base name: a group commit's (:func:`part_name`) or a compacted one's."""


def _part_names(directory: str) -> list[str]:
    """The base names of the parts in ``directory`` (other files, such as the temporaries of
    writes cut short, are no parts)."""
    return [n for n in os.listdir(directory) if _PART.fullmatch(n)]


def _is_compacted(name: str) -> bool:
    """Whether a part's base name is a compacted part's (``part-<last>-c<first>.parquet``)."""
    return name[_NAME_LEN + 1 : _NAME_LEN + 2] == "c"


def _span(name: str) -> tuple[int, int]:
    """The write times [Unix ns] a part's base name covers: (ns, ns) for a part of a group
    commit, (first, last) for a compacted one.

    >>> _span("part-00000000000000000200-000007.parquet")
    (200, 200)
    >>> _span("part-00000000000000000900-c00000000000000000100.parquet")
    (100, 900)
    """
    last = int(name[5:_NAME_LEN])
    if _is_compacted(name):
        return int(name[_NAME_LEN + 2 : _NAME_LEN + 22]), last
    return last, last


def _visible(names: list[str]) -> list[str]:
    """The part names of one day folder a reader takes: every compacted part, and each part of
    a group commit no compacted part covers (one a compaction cut short left behind is)."""
    spans = sorted(_span(n) for n in names if _is_compacted(n))
    if not spans:
        return names
    firsts = [first for first, _ in spans]
    kept = []
    for name in names:
        if not _is_compacted(name):
            ns = _span(name)[0]
            i = bisect.bisect_right(firsts, ns) - 1
            if i >= 0 and ns <= spans[i][1]:
                continue
        kept.append(name)
    return kept


def _batches(directory: str, names: list[str], open_slot: int) -> Iterator[list[str]]:
    """The runs of group-commit parts to merge among ``names`` (one day folder's, in the order
    written): consecutive, of one hour before ``open_slot`` (the hour going on, in
    :data:`COMPACT_SLOT_NS`), broken by compacted parts, of at most :data:`COMPACT_BYTES`; a run
    of one part is left as it is."""
    batch: list[str] = []
    size = slot = 0
    for name in names:
        hour = _span(name)[0] // COMPACT_SLOT_NS
        takes = not _is_compacted(name) and hour < open_slot
        nbytes = os.path.getsize(os.path.join(directory, name)) if takes else 0
        if batch and (not takes or hour != slot or size + nbytes > COMPACT_BYTES):
            if len(batch) > 1:
                yield batch
            batch, size = [], 0
        if takes:
            batch.append(name)
            size, slot = size + nbytes, hour
    if len(batch) > 1:
        yield batch


REPLAY_FRAME_BYTES = 256 * 2**20
"""Most frame pixels a replay holds at once [B] (the frames of one device at least)."""
_FRAME_BYTES = FRAME_HEIGHT * FRAME_WIDTH * 2


def _device_groups(
    merged: list[tuple[str, float, int, int]],
) -> Iterator[list[tuple[str, float, int, int]]]:
    """``merged`` (device, time, kind order, row), sorted, cut into runs of whole devices
    whose frames (kind order 0) come to at most :data:`REPLAY_FRAME_BYTES` (a device's alone
    may come to more)."""
    group: list[tuple[str, float, int, int]] = []
    frames = 0
    for _, entries in itertools.groupby(merged, key=lambda entry: entry[0]):
        device = list(entries)
        mine = sum(entry[2] == 0 for entry in device) * _FRAME_BYTES
        if group and frames + mine > REPLAY_FRAME_BYTES:
            yield group
            group, frames = [], 0
        group += device
        frames += mine
    if group:
        yield group


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
        self._last_ns: int | None = None
        """The newest part's write time [Unix ns]: a new part is named later than every part
        there is, whatever the clock says, so that it never falls in a compacted part's span."""
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
            if self._last_ns is None:
                self._last_ns = self._newest_ns() or 0
            self._last_ns = max(time.time_ns(), self._last_ns + 1)  # day and name: one reading
            self._seq += 1
            path = os.path.join(self.root, folder, part_name(self._last_ns, self._seq))
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
            names = _part_names(folder)
            found += [os.path.join(folder, n) for n in _visible(names)]
        if since_s is not None:
            found = [p for p in found if written_s(p) >= since_s]
        return sorted(found, key=os.path.basename)

    def newest_s(self) -> float | None:
        """When the newest part of any kind was written [Unix s]; None for an empty log."""
        newest = self._newest_ns()
        return None if newest is None else newest / 1e9

    def _newest_ns(self) -> int | None:
        newest = None
        for folder in FOLDERS.values():
            base = os.path.join(self.root, folder)
            if not os.path.isdir(base):
                continue
            days = sorted(d for d in os.listdir(base) if d.startswith("day="))
            for day in reversed(days):  # the last day with a part
                try:
                    names = _part_names(os.path.join(base, day))
                except FileNotFoundError:  # pruned since the days were listed
                    continue
                if names:
                    last = max(_span(n)[1] for n in names)
                    newest = last if newest is None else max(newest, last)
                    break
        return newest

    def _tables(
        self,
        kind: str,
        since_s: float | None = None,
        filters: list[Any] | None = None,
        columns: list[str] | None = None,
    ) -> list[pa.Table]:
        """The stored parts of ``kind`` (written at or after ``since_s`` [Unix s]) read in the
        order written, rows matching ``filters`` (pyarrow's), the ``columns`` named (all when
        None; ``received_s`` among them). A compacted part's rows are taken from ``since_s`` on
        by their receipt time."""
        return self._each_part(
            kind, since_s, lambda path: self._read_part(path, kind, since_s, filters, columns)
        )

    def _each_part(self, kind: str, since_s: float | None, read: Callable[[str], T]) -> list[T]:
        """``read`` of each stored part of ``kind`` written at or after ``since_s`` [Unix s], in
        the order written. A part that a compaction (in the service's process) deleted between
        listing and reading makes the parts listed again."""
        for attempt in range(3):
            try:
                return [read(path) for path in self.parts(kind, since_s)]
            except FileNotFoundError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _read_part(
        path: str,
        kind: str,
        since_s: float | None,
        filters: list[Any] | None,
        columns: list[str] | None,
    ) -> pa.Table:
        """One part of ``kind`` as :meth:`_tables` reads it."""
        table = pq.read_table(path, schema=SCHEMAS[kind], filters=filters, columns=columns)
        first, _ = _span(os.path.basename(path))
        if since_s is not None and first < since_s * 1e9:
            received = table["received_s"].to_numpy()
            table = table.filter(pa.array(received >= since_s))
        return table

    def read(self, kind: str, since_s: float | None = None) -> pa.Table:
        """Every stored message of ``kind`` in the order written (of the parts written at or
        after ``since_s`` [Unix s]; empty when none)."""
        tables = self._tables(kind, since_s)
        return pa.concat_tables(tables) if tables else SCHEMAS[kind].empty_table()

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
            tables = self._tables(kind, filters=where)
            table = pa.concat_tables(tables) if tables else SCHEMAS[kind].empty_table()
            ts = table["ts"].to_numpy()
            _, first = np.unique(ts, return_index=True)  # sorted by time, repeats dropped
            found.append(table.take(pa.array(first)))
        return found[0], found[1]

    def replay(self, window_s: float) -> Iterator[Message]:
        """Each device's stored messages from ``window_s`` before its last one, frames, edge
        rows and readings merged in time order (in that order at equal times), duplicates
        dropped (the first written kept), device after device. An edge row this code can no
        longer use (another feature set version) is skipped with a warning.

        Only the parts written within twice ``window_s`` of the newest part are read, and a
        device last heard from (received) more than ``window_s`` before the newest part is not
        replayed: a device silent for longer than the window starts anew, as it would after
        the window anyway, and a restart reads the last hours, not the whole retention. The
        frames' pixels are read for a group of devices at a time, at most
        :data:`REPLAY_FRAME_BYTES` of them held (one device's at least)."""
        newest_part = self.newest_s()  # once for the three kinds
        since = None if newest_part is None else newest_part - 2.0 * window_s
        keys_only = [c for c in FRAMES.names if c != "frame"]
        tables = {}
        for kind, columns in (("thermal", keys_only), (EDGE, None), ("scd41", None)):
            schema = SCHEMAS[kind] if columns is None else pa.schema(
                [SCHEMAS[kind].field(c) for c in columns])  # fmt: skip
            read = [] if since is None else self._tables(kind, since, columns=columns)
            tables[kind] = pa.concat_tables(read) if read else schema.empty_table()
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
        for group in _device_groups(merged):
            devices = {dev for dev, *_ in group}
            first = min(last[dev] for dev in devices) - window_s
            pixels = (
                self._frames_of(devices, first, since) if any(o == 0 for *_, o, _ in group) else {}
            )
            for dev, ts, order, i in group:
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
                elif (dev, ts) not in pixels:
                    logger.warning("stored frame of %s at ts=%s is gone: not replayed", dev, ts)
                else:
                    image = np.frombuffer(pixels[dev, ts], "<u2").reshape(FRAME_HEIGHT, FRAME_WIDTH)
                    yield Message(
                        dev, "thermal", ts, f["received_s"][i], frame=image.astype(np.uint16),
                        ffc=bool(f["ffc"][i]), gain=str(f["gain"][i]),
                    )  # fmt: skip
            del pixels  # before the next group's are read

    def _frames_of(
        self, devices: set[str], first_ts: float, since_s: float | None
    ) -> dict[tuple[str, float], bytes]:
        """The pixels of the frames of ``devices`` from ``first_ts`` [device s] on, in the
        parts written at or after ``since_s`` [Unix s], by (device, time): the first written
        of a repeated one. Listed anew: a compaction since the replay's first read moves
        them, not away."""
        where = [("device_id", "in", sorted(devices)), ("ts", ">=", first_ts)]
        columns = ["device_id", "ts", "frame", "received_s"]

        def pixels(path: str) -> list[tuple[str, float, bytes]]:  # only those kept are held
            table = self._read_part(path, "thermal", since_s, where, columns)
            return list(zip(table["device_id"].to_pylist(), table["ts"].to_pylist(),
                            table["frame"].to_pylist(), strict=True))  # fmt: skip

        found: dict[tuple[str, float], bytes] = {}
        for part in self._each_part("thermal", since_s, pixels):
            for dev, ts, raw in part:
                found.setdefault((dev, ts), raw)
        return found

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

    def compact(self, now_s: float | None = None) -> int:
        """Merge the parts of each hour (UTC, write time) over before ``now_s`` [Unix s] into
        compacted parts of at most :data:`COMPACT_BYTES` of sources each, rows in the order
        written; delete the parts a compaction cut short left behind. The number of parts
        merged. An hour holding a part that cannot be read is left as it is (logged). Run by
        the process that writes the log (the service)."""
        now_ns = time.time_ns() if now_s is None else int(now_s * 1e9)
        merged = 0
        for kind, folder in FOLDERS.items():
            base = os.path.join(self.root, folder)
            if not os.path.isdir(base):
                continue
            for day in sorted(d for d in os.listdir(base) if d.startswith("day=")):
                directory = os.path.join(base, day)
                names = sorted(_part_names(directory), key=_span)
                visible = _visible(names)
                for name in set(names) - set(visible):  # merged already, then cut short
                    os.remove(os.path.join(directory, name))
                for batch in _batches(directory, visible, now_ns // COMPACT_SLOT_NS):
                    try:
                        merged += self._merge(kind, directory, batch)
                    except pa.ArrowInvalid as exc:  # a damaged part: its hour stays as it is
                        logger.error("cannot compact %s/%s..%s: %s", directory, batch[0],
                                     batch[-1], exc)  # fmt: skip
        return merged

    def _merge(self, kind: str, directory: str, names: list[str]) -> int:
        """Write the parts ``names`` (one hour's, in the order written) as one compacted part,
        then delete them; how many were merged."""
        paths = [os.path.join(directory, n) for n in names]
        table = pa.concat_tables([pq.read_table(p, schema=SCHEMAS[kind]) for p in paths])
        first, last = _span(names[0])[0], _span(names[-1])[1]
        name = f"part-{last:020d}-c{first:020d}.parquet"
        write_table_atomic(self._fs, os.path.join(directory, name), table, compression="zstd")
        for path in paths:
            os.remove(path)
        return len(paths)

    def run_upkeep(
        self, stop: threading.Event, retention_s: float | None = None, period_s: float = 600.0
    ) -> None:
        """Every ``period_s`` [s], first at once, until ``stop`` is set: :meth:`prune` the days
        older than ``retention_s`` [s] (None: keep every day), then :meth:`compact`. A failure
        is logged and tried again next time (nothing is deleted before its copy is stored)."""
        while not stop.is_set():
            try:
                gone = [] if retention_s is None else self.prune(retention_s)
                merged = self.compact()
            except OSError as exc:
                logger.error("cannot prune or compact the ingest log %s: %s", self.root, exc)
            else:
                if gone or merged:
                    logger.info("ingest log: %d days pruned, %d parts compacted", len(gone),
                                merged)  # fmt: skip
            stop.wait(period_s)
