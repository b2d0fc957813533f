"""Backup and restore: a home with a champion, keys, a device and its twin, an alarm with its
events, ingested readings, an operator's episode and shadow scoring's tallies, backed up to a
folder and to S3 while its state file is open, deleted, and restored into other places, where
everything is found again (the champion through the verified path); a backup cut short, a
damaged file and existing state are refused; the CLI does the same."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from embercast.config import Settings, get_settings
from embercast.dataset.episodes import read_episodes
from embercast.service.backup import MANIFEST, BackupError, backup
from embercast.service.db import ServiceDB
from embercast.service.home import SHADOW_FILE, episodes_location
from embercast.service.restore import restore
from helpers import invoke

DEV = "cam-1"


@pytest.fixture(scope="module")
def champion(fire_registry: Path) -> Any:
    """The detector of the shared registry's ``fire@champion``."""
    from embercast.lifecycle.registry import Registry

    return Registry(str(fire_registry)).load("fire@champion")


@dataclass
class Home:
    """A service's state, built in ``root`` (its state file left open, as a running service's)."""

    root: Path
    settings: Settings
    db: ServiceDB
    key: str
    alarm_id: str
    alarm: Any
    events: list[Any]
    twin: Any
    readings: pa.Table
    frames: pa.Table
    catalog: list[str]
    episode: dict[str, Any]
    shadow: bytes


def places(root: Path) -> Settings:
    """Settings whose service home, catalog and MLflow store lie in ``root``."""
    return Settings(
        service_home=str(root / "service"),
        catalog_path=str(root / "catalog.sqlite"),
        mlflow_uri=str(root / "registry" / "mlflow.db"),
    )


def _prediction(t: float, p: float, alarm: bool, onset: bool = False) -> Any:
    from embercast.alarm.risk import risk_level
    from embercast.service.device_stream import Prediction

    return Prediction(t, p, risk_level(p), alarm, onset, None, False, "ok")


def _ingest(folder: Path) -> None:
    import numpy as np

    from embercast.features.base import Reading
    from embercast.service.ingest_log import IngestLog
    from embercast.service.messages import Message

    log = IngestLog(str(folder), flush_s=0.0)
    for t in (100.0, 105.0):
        frame = np.full((120, 160), 29_815, dtype=np.uint16)
        log.append([Message(DEV, "thermal", t - 0.1, t, frame=frame)]).result()
        log.append([Message(DEV, "scd41", t, t, reading=Reading(t, 612.0, 21.4, 41.0))]).result()
    log.close()


def read_log(settings: Settings, kind: str) -> pa.Table:
    from embercast.service.ingest_log import IngestLog

    log = IngestLog(str(Path(settings.service_home) / "ingest"))
    try:
        return log.read(kind)
    finally:
        log.close()


def _zones(home: Path) -> None:
    """The kitchen zone in alarm, acknowledged by ana; its notification sent to ops."""
    from embercast.agents.zones import ZoneAgent
    from embercast.alarm.decision import AlarmParams
    from embercast.notify.outbox import Outbox
    from embercast.notify.send import Sent

    zones = ZoneAgent(str(home / "zones.sqlite"), lambda: AlarmParams(delay_on_s=10.0))
    for t in (0.0, 5.0, 10.0):
        zones.handle({"device_id": DEV, "zone": "kitchen", "t_s": t, "p_fire": 0.95})
    assert zones.act("kitchen", "acknowledge", "ana", now=12.0)[0]
    zones.close()
    outbox = Outbox(str(home / "outbox.sqlite"))
    outbox.enqueue("kitchen:alarm:10000", "ops", "FIRE ALARM in kitchen", "...")
    outbox.deliver({"ops": "json://unused"}, sender=lambda *_: Sent(True))
    outbox.close()


EPISODE = "0f3c5a7e9b1d2c4a"


def _learned(settings: Settings) -> bytes:
    """An operator's false-alarm episode in the episodes folder, and shadow scoring's tallies
    of a challenger (its saved file's bytes)."""
    from embercast.agents.shadow import Shadow
    from embercast.dataset.episodes import write_episode
    from embercast.service.home import SHADOW_FILE, episodes_location

    rows = pa.table({"scenario_id": ["x", "x"], "t_s": [1.0, 6.0], "fire": [0, 0]})
    facts = {"verdict": "false_alarm", "cause": "cooking", "device_id": DEV, "t": 100.0}
    write_episode(episodes_location(settings), EPISODE, "extended", facts, rows)
    state = Path(settings.service_home) / SHADOW_FILE
    shadow = Shadow(lambda: None, lambda _ref: None, lambda: None, str(state))  # type: ignore[arg-type,return-value]
    shadow.device_s, shadow.tallies["other"].onsets = 7200.0, 3
    shadow.save()
    return state.read_bytes()


def build_home(root: Path, detector: Any, dataset: Path) -> Home:
    """A home in ``root``: ``fire@champion`` registered in its own MLflow store (artifacts
    beside it), a dataset in its catalog, an admin key, a device with a twin and a command, an
    alarm raised, raised higher and cleared, and two readings and frames ingested."""
    from embercast.lifecycle.registry import Registry
    from embercast.service.alarm_recorder import AlarmRecorder
    from embercast.service.alarms import AlarmStore
    from embercast.service.devices import DeviceStore
    from embercast.service.keys import KeyStore
    from embercast.store.lineage import open_catalog

    settings = places(root)
    registry = Registry(settings.mlflow_uri)
    registry.log_training(detector, params={"model": "gbm"}, metrics={}, tags={}, register="fire")
    assert registry.resolve("fire@champion") == ("fire", 1)
    with open_catalog(settings.catalog_path) as catalog:
        catalog.register(str(dataset))
        listed = [a.location for a in catalog.list()]
    db = ServiceDB(str(root / "service" / "service.sqlite"))
    _, key = KeyStore(db).create("ops", "admin")
    devices = DeviceStore(db)
    devices.register(DEV, "kitchen", "Kitchen camera")
    devices.desire(DEV, {"interval_s": 5}, 0)
    twin = devices.report(DEV, {"fw": "1.2.0"})
    devices.send(DEV, "ffc", {}, timeout_s=600)
    recorder = AlarmRecorder(AlarmStore(db), {DEV: "kitchen"}.get, lambda: None)
    for prediction in (_prediction(10, 0.75, True, onset=True), _prediction(20, 0.95, True),
                       _prediction(90, 0.1, False)):  # fmt: skip
        recorder.update(DEV, prediction)
    (alarm,) = recorder.store.list()
    events = recorder.store.events(alarm.alarm_id)
    assert [e.kind for e in events] == ["raised", "update", "cleared"]
    _zones(root / "service")
    _ingest(root / "service" / "ingest")
    readings, frames = read_log(settings, "scd41"), read_log(settings, "thermal")
    assert readings.num_rows == frames.num_rows == 2
    shadow = _learned(settings)
    episode = read_episodes(episodes_location(settings)).facts[EPISODE]
    return Home(root, settings, db, key, alarm.alarm_id, alarm, events, twin, readings, frames,
                listed, episode, shadow)  # fmt: skip


@pytest.fixture
def home(tmp_path: Path, champion: Any, features: Path) -> Iterator[Home]:
    made = build_home(tmp_path / "old", champion, features.parent)
    yield made
    made.db.close()


@pytest.fixture(scope="module")
def made(
    tmp_path_factory: pytest.TempPathFactory, champion: Any, features: Path
) -> Iterator[tuple[Home, Path]]:
    """One home and a local backup of it, for the tests that only read them."""
    built = build_home(tmp_path_factory.mktemp("home"), champion, features.parent)
    out = tmp_path_factory.mktemp("backups") / "b1"
    backup(built.settings, str(out))
    yield built, out
    built.db.close()


def use(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``settings``' places those of the process (as the CLI and the service read them)."""
    monkeypatch.setenv("EMBERCAST_SERVICE_HOME", settings.service_home)
    monkeypatch.setenv("EMBERCAST_CATALOG_PATH", settings.catalog_path)
    monkeypatch.setenv("EMBERCAST_MLFLOW_URI", settings.mlflow_uri)
    get_settings.cache_clear()


def check_restored(home: Home, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything of ``home`` is found at ``settings``' places, and nothing there names the
    old home."""
    from embercast.service.alarms import AlarmStore
    from embercast.service.devices import DeviceStore
    from embercast.service.keys import KeyStore
    from embercast.service.live_model import load_live_model
    from embercast.store.lineage import open_catalog

    use(settings, monkeypatch)
    live = load_live_model("fire@champion")  # checks the model's bytes against its SHA-256
    assert (live.name, live.version) == ("fire", 1)
    store = Path(settings.mlflow_uri)
    assert (store.parent / "mlartifacts").is_dir()
    conn = sqlite3.connect(store)
    try:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                assert not any(isinstance(v, str) and str(home.root) in v for v in row), row
        (location,) = conn.execute("SELECT storage_location FROM model_versions").fetchone()
    finally:
        conn.close()
    assert location.startswith((store.parent / "mlartifacts").as_uri() + "/")
    db = ServiceDB(str(Path(settings.service_home) / "service.sqlite"))
    try:
        found = KeyStore(db).verify(home.key)
        assert found is not None and found.scope == "admin"
        devices = DeviceStore(db)
        assert devices.get(DEV).zone == "kitchen"
        assert devices.twin(DEV) == home.twin
        assert [c.name for c in devices.commands(DEV)] == ["ffc"]
        alarms = AlarmStore(db)
        assert alarms.get(home.alarm_id) == home.alarm
        assert alarms.events(home.alarm_id) == home.events
    finally:
        db.close()
    from embercast.agents.zones import ZoneAgent
    from embercast.alarm.decision import AlarmParams
    from embercast.notify.outbox import Outbox

    zones = ZoneAgent(str(Path(settings.service_home) / "zones.sqlite"), lambda: AlarmParams())
    (kitchen,) = zones.zones()
    assert (kitchen.zone, kitchen.state, kitchen.latched, kitchen.acknowledged) == (
        "kitchen", "alarm", True, True,
    )  # fmt: skip
    assert ("acknowledged", "ana") in [(e["kind"], e["who"]) for e in zones.audit("kitchen")]
    zones.close()
    outbox = Outbox(str(Path(settings.service_home) / "outbox.sqlite"))
    assert outbox.states()[("kitchen:alarm:10000", "ops")]["state"] == "sent"
    outbox.close()
    assert read_log(settings, "scd41").equals(home.readings)
    assert read_log(settings, "thermal").equals(home.frames)
    assert read_episodes(episodes_location(settings)).facts == {EPISODE: home.episode}
    assert (Path(settings.service_home) / SHADOW_FILE).read_bytes() == home.shadow
    with open_catalog(settings.catalog_path) as catalog:
        assert [a.location for a in catalog.list()] == home.catalog


@pytest.mark.parametrize("where", ["folder", "s3"])
def test_a_backup_restores_everything_elsewhere_after_the_original_is_gone(
    where: str,
    home: Home,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    if where == "s3":
        url = f"s3://{request.getfixturevalue('s3_bucket')}/backups/2026-12-05"
    else:
        url = str(tmp_path / "backups" / "2026-12-05")
    summary = backup(home.settings, url)  # the state file open, its last writes in the WAL
    # the service's state, the zones' and the outbox
    # the service's state, the zones', the outbox and shadow.json; the episode's three files
    assert summary.files == {"service": 4, "catalog": 1, "mlflow": 1, "ingest": 4, "episodes": 3,
                             "artifacts": summary.files["artifacts"]}  # fmt: skip
    assert summary.files["artifacts"] >= 3
    home.db.close()
    shutil.rmtree(home.root)
    target = Settings(
        service_home=str(tmp_path / "new" / "state" / "home"),
        catalog_path=str(tmp_path / "new" / "lineage" / "cat.sqlite"),
        mlflow_uri=str(tmp_path / "new" / "models" / "store.db"),
        learning_episodes=str(tmp_path / "new" / "learned"),
    )
    restored = restore(url, target)
    assert restored.targets["episodes"] == str(tmp_path / "new" / "learned")
    assert restored.files == summary.files and restored.rewritten > 0
    check_restored(home, target, monkeypatch)


def test_a_backup_cut_short_is_refused(
    made: tuple[Home, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import embercast.service.backup as module

    home, _ = made
    copied = 0
    upload = module._upload

    def failing(*args: Any) -> tuple[int, str]:
        nonlocal copied
        copied += 1
        if copied == 7:  # after the five databases and a first ingest part
            raise OSError(28, "No space left on device")
        return upload(*args)

    monkeypatch.setattr(module, "_upload", failing)
    out = tmp_path / "cut"
    with pytest.raises(OSError, match="No space left"):
        backup(home.settings, str(out))
    assert any(out.rglob("*.parquet")) and not (out / MANIFEST).exists()
    target = places(tmp_path / "new")
    with pytest.raises(BackupError, match=f"holds no {MANIFEST}: .*cut short"):
        restore(str(out), target)
    assert not (tmp_path / "new").exists()


def test_a_compaction_during_a_backup_loses_no_ingested_message(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service merges the parts the backup has listed and deletes them before they are
    copied: the merged parts, made since the listing, are in the backup."""
    import time

    import embercast.service.backup as module
    from embercast.service.ingest_log import IngestLog

    before = {kind: read_log(home.settings, kind) for kind in ("scd41", "thermal")}
    upload = module._upload
    compacted = 0

    def compacting(source: str, *args: Any) -> tuple[int, str]:
        nonlocal compacted
        if "/ingest/" in source and not compacted:  # the first part, as the service compacts
            log = IngestLog(str(Path(home.settings.service_home) / "ingest"))
            compacted = log.compact(time.time() + 7200.0)
            log.close()
        return upload(source, *args)

    monkeypatch.setattr(module, "_upload", compacting)
    url = str(tmp_path / "backups" / "during")
    summary = backup(home.settings, url)
    assert compacted == 4 and summary.files["ingest"] == 2  # a merged part for each kind
    target = places(tmp_path / "new")
    restore(url, target)
    for kind, table in before.items():
        assert read_log(target, kind).equals(table)


@pytest.mark.parametrize("damage", ["changed", "missing"])
def test_a_damaged_backup_is_refused_naming_the_file(
    damage: str, made: tuple[Home, Path], tmp_path: Path
) -> None:
    _, original = made
    out = tmp_path / "copy"
    shutil.copytree(original, out)
    part = sorted((out / "service" / "ingest").rglob("*.parquet"))[-1]
    name = part.relative_to(out).as_posix()
    if damage == "changed":
        data = bytearray(part.read_bytes())
        data[len(data) // 2] ^= 0xFF
        part.write_bytes(bytes(data))
        expected = f"damaged: {name} has SHA-256"
    else:
        part.unlink()
        expected = f"incomplete: {name} is missing"
    with pytest.raises(BackupError, match=re.escape(expected)):
        restore(str(out), places(tmp_path / "new"))
    assert not (tmp_path / "new").exists()


def test_restore_replaces_existing_state_only_with_force(
    made: tuple[Home, Path], tmp_path: Path
) -> None:
    from embercast.service.keys import KeyStore

    home, out = made
    target = places(tmp_path / "new")
    restore(str(out), target)
    db = ServiceDB(str(Path(target.service_home) / "service.sqlite"))
    _, extra = KeyStore(db).create("later", "read")
    db.close()
    stray = Path(target.service_home) / "ingest" / "readings" / "day=2030-01-01" / "part-x.parquet"
    stray.parent.mkdir(parents=True)
    shutil.copy(next((Path(target.service_home) / "ingest").rglob("*.parquet")), stray)
    from embercast.dataset.episodes import write_episode

    later = pa.table({"scenario_id": ["y"], "t_s": [2.0], "fire": [1]})
    write_episode(episodes_location(target), "later", "extended", {"verdict": "fire"}, later)
    with pytest.raises(BackupError, match="would replace the service state .*--force"):
        restore(str(out), target)
    db = ServiceDB(str(Path(target.service_home) / "service.sqlite"))
    assert KeyStore(db).verify(extra) is not None  # untouched
    db.close()
    restore(str(out), target, force=True)
    db = ServiceDB(str(Path(target.service_home) / "service.sqlite"))
    assert KeyStore(db).verify(extra) is None and KeyStore(db).verify(home.key) is not None
    db.close()
    assert not stray.exists()
    assert read_log(target, "scd41").equals(home.readings)
    assert list(read_episodes(episodes_location(target)).facts) == [EPISODE]


def test_a_tracking_server_cannot_be_backed_up(made: tuple[Home, Path], tmp_path: Path) -> None:
    server = made[0].settings.model_copy(update={"mlflow_uri": "http://127.0.0.1:5000"})
    with pytest.raises(BackupError, match="tracking server: only a SQLite store"):
        backup(server, str(tmp_path / "b"))
    assert not (tmp_path / "b").exists()


def test_the_cli_backs_up_and_restores(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "backup"
    use(home.settings, monkeypatch)
    made = invoke("backup", "--out", str(out), "--json")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["files"]["ingest"] == 4
    again = invoke("backup", "--out", str(out))
    assert again.exit_code == 2 and "error: the backup location" in again.output
    assert "not empty" in again.output
    home.db.close()
    shutil.rmtree(home.root)
    target = places(tmp_path / "elsewhere")
    use(target, monkeypatch)
    done = invoke("restore", str(out))
    assert done.exit_code == 0, done.output
    assert "restored from" in done.stdout
    refused = invoke("restore", str(out))
    assert refused.exit_code == 2 and refused.output.startswith("error: restoring")
    assert "--force" in refused.output
    forced = invoke("restore", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    check_restored(home, target, monkeypatch)
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = invoke("restore", str(empty), "--force")
    assert nothing.exit_code == 2 and f"holds no {MANIFEST}" in nothing.output
