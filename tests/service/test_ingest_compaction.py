"""The ingest log's compaction: an hour's parts of group commits become a few, and every read
(the whole log, the recent part, a device's window, the replay) gives what it gave before; and
the replay's frames, read a group of devices at a time."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import embercast.service.ingest_log as ingest_log
from embercast.features.base import Reading
from embercast.service.ingest_log import IngestLog, part_name
from embercast.service.messages import Message
from embercast.store.fs import resolve, write_table_atomic

HOUR = 3600.0
NOW = 1_796_601_600.0 + 1_900.0
"""00:31:40 UTC on 2026-12-07 (Unix s): the two hours before (the day before) are over, the
third is not."""


def _reading(device: str, ts: float) -> Message:
    return Message(device, "scd41", ts, ts, reading=Reading(ts, 400.0 + ts % 97, 21.0, 40.0))


def _frame(device: str, ts: float) -> Message:
    pixels = np.full((120, 160), int(ts) % 4000 + 29_000, dtype=np.uint16)
    return Message(device, "thermal", ts, ts, frame=pixels, ffc=False, gain="high")


def _write_log(root: Path, now: float = NOW) -> None:
    """Parts as group commits write them, from 2.5 h before ``now`` [Unix s] to it: readings of
    two devices every 60 s, a frame of one every 300 s, each part written 10 ms after its rows
    were received (150 parts of readings and 30 of frames)."""
    fs, _ = resolve(str(root))
    seq = 0
    for k, t in enumerate(np.arange(now - 2.5 * HOUR, now, 60.0)):
        groups = {"scd41": [_reading("a", t), _reading("b", t - 1.0)]}
        if k % 5 == 0:
            groups["thermal"] = [_frame("a", t)]
        for kind, messages in groups.items():
            seq += 1
            name = part_name(int((t + 0.01) * 1e9), seq)
            table = ingest_log._table(kind, messages)
            path = root / ingest_log.FOLDERS[kind] / name
            write_table_atomic(fs, str(path), table, compression="zstd")


def _reads(log: IngestLog) -> dict[str, Any]:
    """Every way the service reads the log, as plain values."""
    replayed = [
        (m.device_id, m.kind, m.ts, m.received_s,
         None if m.reading is None else m.reading.co2_ppm,
         None if m.frame is None else m.frame.tobytes())
        for m in log.replay(HOUR)
    ]  # fmt: skip
    readings, frames = log.window("a", NOW - 2 * HOUR, NOW - 0.4 * HOUR)
    return {
        "readings": log.read("scd41").to_pylist(),
        "frames": log.read("thermal").to_pylist(),
        "recent": log.recent("scd41", 1800.0).to_pylist(),
        "window": (readings.to_pylist(), frames.to_pylist()),
        "replay": replayed,
    }


@pytest.fixture
def written(tmp_path: Path) -> Iterator[tuple[Path, IngestLog]]:
    """The log of :func:`_write_log` (the time :data:`NOW`), and the log opened on it."""
    root = tmp_path / "ingest"
    _write_log(root)
    log = IngestLog(str(root))
    yield root, log
    log.close()


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))


def test_each_hour_gone_by_becomes_one_part_and_every_read_stays_the_same(
    written: tuple[Path, IngestLog],
) -> None:
    root, log = written
    before, files = _reads(log), _files(root)
    assert len(before["readings"]) == 300 and len(before["frames"]) == 30
    merged = log.compact(NOW)
    after = _files(root)
    # the two hours over: 59 + 60 readings parts and 12 + 12 frames parts merged into one
    # part each; the 31 + 6 parts of the open hour's 31:40 are left to grow
    open_hour = [f for f in files if ingest_log._span(Path(f).name)[0] >= 1_796_601_600e9]
    assert merged == 143 and len(open_hour) == 37
    assert len(after) == 4 + 37 and set(open_hour) < set(after)
    compacted = [f for f in after if ingest_log._is_compacted(Path(f).name)]
    assert [f.split("/")[0] for f in compacted] == ["frames", "frames", "readings", "readings"]
    assert _reads(log) == before
    assert log.compact(NOW) == 0 and _files(root) == after  # nothing more to merge
    assert log.newest_s() == pytest.approx(NOW - 60.0 + 0.01)
    # an hour later the third hour goes the same way, and the reads still do not change
    assert log.compact(NOW + HOUR) == 37 and len(_files(root)) == 6
    assert _reads(log) == before


def test_the_parts_of_an_hour_are_merged_within_the_byte_budget(
    written: tuple[Path, IngestLog], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, log = written
    sizes = [p.stat().st_size for p in (root / "readings").rglob("*.parquet")]
    monkeypatch.setattr(ingest_log, "COMPACT_BYTES", 10 * max(sizes))
    before = _reads(log)
    log.compact(NOW + HOUR)
    parts = list((root / "readings").rglob("*.parquet"))
    compacted = [p for p in parts if ingest_log._is_compacted(p.name)]
    # 59, 60 and 31 parts an hour, about 10 at a time (the parts' sizes differ a little):
    # 14 to 18 compacted parts; no part left but the last one of an hour, alone
    assert 14 <= len(compacted) <= 18 and len(parts) - len(compacted) <= 3
    assert all(p.stat().st_size < 10 * max(sizes) for p in compacted)
    assert _reads(log) == before
    spans = sorted(ingest_log._span(p.name) for p in parts)
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False))
    hour = ingest_log.COMPACT_SLOT_NS
    assert all(first // hour == last // hour for first, last in spans)


def test_a_compaction_cut_short_reads_each_message_once_and_the_next_one_finishes_it(
    written: tuple[Path, IngestLog], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, log = written
    before, files = _reads(log), _files(root)
    removed: list[str] = []
    real_remove = os.remove

    def crash_after_three(path: str) -> None:  # the process dies deleting the sources
        if len(removed) == 3:
            raise OSError(5, "Input/output error", path)
        removed.append(path)
        real_remove(path)

    monkeypatch.setattr(ingest_log.os, "remove", crash_after_three)
    with pytest.raises(OSError):
        log.compact(NOW)
    monkeypatch.setattr(ingest_log.os, "remove", real_remove)
    # a compacted part beside 56 of the 59 sources it holds: each message is read once
    assert len(_files(root)) == len(files) - 3 + 1
    assert _reads(log) == before
    assert log.compact(NOW) == 60 + 12 + 12  # the next hour's readings, both hours' frames
    assert len(_files(root)) == 4 + 37 and _reads(log) == before


def test_a_damaged_part_keeps_its_hour_as_written_and_other_files_are_no_parts(
    written: tuple[Path, IngestLog], caplog: pytest.LogCaptureFixture
) -> None:
    root, log = written
    hours = sorted((root / "readings").rglob("*.parquet"))
    damaged = hours[5]  # in the first hour
    damaged.write_bytes(b"PAR1 not a table")
    stray = root / "readings" / hours[0].parent.name / "notes.parquet"
    stray.write_text("kept by an operator")
    with caplog.at_level("ERROR", logger="embercast.service.ingest_log"):
        merged = log.compact(NOW)
    assert merged == 143 - 59 and damaged.exists() and stray.exists()
    assert f"cannot compact {damaged.parent}" in caplog.text
    assert str(stray) not in log.parts("scd41")
    assert len(list((root / "readings").rglob("*.parquet"))) == 59 + 1 + 1 + 31


def test_the_newest_part_is_found_while_a_day_is_pruned_under_the_listing(
    written: tuple[Path, IngestLog], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upkeep may delete a day (a retention shorter than the service was down) while a
    start-up replay looks for the newest part: the days left answer."""
    root, log = written
    newest = log.newest_s()
    part_names = ingest_log._part_names

    def pruned_meanwhile(directory: str) -> list[str]:
        if directory.endswith("day=2026-12-07"):
            shutil.rmtree(directory)
        return part_names(directory)

    monkeypatch.setattr(ingest_log, "_part_names", pruned_meanwhile)
    assert newest is not None and newest > NOW - 61.0
    left = log.newest_s()
    assert left is not None and left < NOW - 1_900.0  # the day before's last part


def test_a_reader_lists_the_parts_again_when_a_compaction_took_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fold workers and the learning agent read the log while the service compacts it."""
    root = tmp_path / "ingest"
    _write_log(root)
    reader, writer = IngestLog(str(root)), IngestLog(str(root))
    try:
        expected = reader.read("scd41").to_pylist()
        listed = reader.parts("scd41")  # listed, then the service compacts them away
        writer.compact(NOW)
        lists = [listed]
        real_parts = reader.parts
        monkeypatch.setattr(
            reader,
            "parts",
            lambda kind, since_s=None: lists.pop() if lists else real_parts(kind, since_s),
        )
        assert reader.read("scd41").to_pylist() == expected
    finally:
        reader.close()
        writer.close()


def test_a_new_part_is_named_after_every_part_there_is_whatever_the_clock_says(
    tmp_path: Path,
) -> None:
    """A clock set back must not name a part inside a compacted part's span (where readers
    would take it for a source already merged)."""
    root = tmp_path / "ingest"
    ahead = time.time() + 10 * HOUR  # parts written by a clock that ran ahead
    _write_log(root, ahead)
    log = IngestLog(str(root), flush_s=0.0)
    try:
        log.compact(ahead + HOUR)  # compacted (an hour's first part may be alone: left)
        there = set(root.rglob("*.parquet"))
        newest = max(ingest_log._span(p.name)[1] for p in there)
        assert newest > time.time_ns() and any(ingest_log._is_compacted(p.name) for p in there)
        log.append([_reading("a", ahead + 5.0)]).result(10)
        (new,) = set(root.rglob("*.parquet")) - there
        assert ingest_log._span(new.name)[0] > newest
        rows = log.read("scd41").to_pylist()
        assert len(rows) == 301 and rows[-1]["ts"] == ahead + 5.0
    finally:
        log.close()


def _one_part_an_hour(root: Path) -> bool:
    """Whether each hour of each kind is one file (a compacted part, or a part alone)."""
    hours = [
        (p.parent.parent.name, ingest_log._span(p.name)[0] // ingest_log.COMPACT_SLOT_NS)
        for p in root.rglob("*.parquet")
    ]
    return len(hours) == len(set(hours))


def _old_day(root: Path, days: float) -> Path:
    """A part of readings received ``days`` before now, in its day's folder; that folder."""
    fs, _ = resolve(str(root))
    t = time.time() - days * 86_400.0
    path = root / "readings" / part_name(int(t * 1e9), 1)
    write_table_atomic(fs, str(path), ingest_log._table("scd41", [_reading("a", t)]))
    return path.parent


def test_the_upkeep_prunes_the_days_past_retention_then_compacts_in_the_background(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ingest"
    _write_log(root, time.time() - 4 * HOUR)  # hours over by the real clock
    old, kept = _old_day(root, 40.0), _old_day(root, 20.0)
    log = IngestLog(str(root))
    stop = threading.Event()
    runner = threading.Thread(target=log.run_upkeep, args=(stop, 30 * 86_400.0, 0.05))
    runner.start()
    try:
        deadline = time.monotonic() + 30.0
        while (old.exists() or not _one_part_an_hour(root)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _one_part_an_hour(root) and len(_files(root)) <= 2 * 4 + 1
        assert not old.exists() and kept.exists()
    finally:
        stop.set()
        runner.join(10)
        log.close()
    assert not runner.is_alive()


def test_the_service_compacts_the_log_of_its_home(service_env: Path) -> None:
    """``embercast serve`` runs the upkeep among its agents' loops, on its own ingest log and
    with its retention (``service_retention_days``, 30 by default)."""
    from fastapi.testclient import TestClient

    from embercast.config import get_settings
    from embercast.service.app import create_app
    from embercast.service.home import INGEST_DIR

    root = service_env / INGEST_DIR
    _write_log(root, time.time() - 4 * HOUR)
    old = _old_day(root, 31.0)
    with TestClient(create_app(get_settings())):
        deadline = time.monotonic() + 60.0
        while (old.exists() or not _one_part_an_hour(root)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _one_part_an_hour(root) and not old.exists()


def _fleet_log(root: Path, devices: int, now: float) -> None:
    """A frame and a reading of each of ``devices`` every 30 s for the 3 h before ``now``, a
    group commit (a part per kind) every 30 s."""
    fs, _ = resolve(str(root))
    for seq, t in enumerate(np.arange(now - 3 * HOUR, now, 30.0)):
        names = [f"cam-{d}" for d in range(devices)]
        for kind, messages in (("thermal", [_frame(n, t - 0.5) for n in names]),
                               ("scd41", [_reading(n, t) for n in names])):  # fmt: skip
            path = root / ingest_log.FOLDERS[kind] / part_name(int((t + 0.01) * 1e9), seq)
            write_table_atomic(fs, str(path), ingest_log._table(kind, messages))


def _replayed(log: IngestLog) -> list[tuple[Any, ...]]:
    return [
        (m.device_id, m.kind, m.ts, m.received_s, m.ffc, m.gain,
         None if m.reading is None else m.reading.co2_ppm,
         None if m.frame is None else m.frame.tobytes())
        for m in log.replay(HOUR)
    ]  # fmt: skip


def test_the_replay_holds_the_frames_of_a_group_of_devices_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restart of 10 cameras at a frame per 5 s read 4 h of frames at once (about 1.1 GB);
    the frames are now read for as many devices as :data:`REPLAY_FRAME_BYTES` holds."""
    root = tmp_path / "ingest"
    _fleet_log(root, 4, time.time())
    log = IngestLog(str(root))
    try:
        at_once = _replayed(log)
        # the hour before each device's last reading: 121 readings and 120 frames
        assert len(at_once) == 4 * 241 and sum(m[1] == "thermal" for m in at_once) == 4 * 120
        assert [m[0] for m in at_once] == sorted(m[0] for m in at_once)
        held: list[int] = []
        frames_of = log._frames_of

        def counted(*args: Any) -> dict[tuple[str, float], bytes]:
            found = frames_of(*args)
            held.append(len(found))
            return found

        monkeypatch.setattr(log, "_frames_of", counted)
        monkeypatch.setattr(ingest_log, "REPLAY_FRAME_BYTES", 100 * 160 * 120 * 2)
        assert _replayed(log) == at_once and held == [120, 120, 120, 120]  # a device at a time
        held.clear()
        monkeypatch.setattr(ingest_log, "REPLAY_FRAME_BYTES", 250 * 160 * 120 * 2)
        assert _replayed(log) == at_once and held == [240, 240]  # two at a time
    finally:
        log.close()


def test_a_compaction_between_the_replays_reads_moves_the_frames_not_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fold workers replay while the service compacts: the frames are found where they went."""
    root = tmp_path / "ingest"
    _fleet_log(root, 2, time.time())
    log, service = IngestLog(str(root)), IngestLog(str(root))
    try:
        expected = _replayed(log)
        frames_of = log._frames_of

        def compacted_first(*args: Any) -> dict[tuple[str, float], bytes]:
            service.compact(time.time() + 2 * HOUR)
            return frames_of(*args)

        monkeypatch.setattr(log, "_frames_of", compacted_first)
        assert _replayed(log) == expected
        assert any(ingest_log._is_compacted(p.name) for p in root.rglob("*.parquet"))
    finally:
        log.close()
        service.close()
