"""``embercast bus stats|dead-letters|replay`` on the bus the settings name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embercast.bus import RetryPolicy, open_bus
from embercast.cli import app
from embercast.config import get_settings
from helpers import free_port

runner = CliRunner()


@pytest.fixture
def bus_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = str(tmp_path / "bus.sqlite")
    monkeypatch.setenv("EMBERCAST_BUS_URL", path)
    get_settings.cache_clear()
    with open_bus(path, RetryPolicy(max_attempts=1)) as bus:
        bus.publish("notifications", {"to": "ops"}, message_id="n-1", key="kitchen")
        bus.publish("notifications", {"to": "owner"}, message_id="n-2")
        first, second = bus.receive("notifications", "send", "s1", limit=2)
        bus.fail(first, "webhook answered 500")
        bus.ack(second)
    return path


def test_stats_dead_letters_and_replay(bus_file: str) -> None:
    stats = runner.invoke(app, ["bus", "stats"])
    assert stats.exit_code == 0, stats.output
    assert stats.stdout.strip() == (
        "notifications / send: published 2, waiting 0, leased 0, handled 1, dead 1"
    )
    dead = runner.invoke(app, ["bus", "dead-letters"])
    assert dead.stdout.strip() == (
        "notifications / send n-1 (key kitchen): 1 attempts, webhook answered 500"
    )
    (doc,) = json.loads(runner.invoke(app, ["bus", "dead-letters", "--json"]).stdout)
    assert doc["message"]["payload"] == {"to": "ops"} and doc["error"] == "webhook answered 500"
    assert runner.invoke(app, ["bus", "dead-letters", "--group", "other"]).stdout == (
        "no dead letters\n"
    )
    replay = runner.invoke(app, ["bus", "replay", "notifications", "send", "--id", "n-1"])
    assert replay.stdout.strip() == "replayed 1 dead letters of notifications / send"
    (after,) = json.loads(runner.invoke(app, ["bus", "stats", "--json"]).stdout)
    assert (after["waiting"], after["dead"], after["handled"]) == (1, 0, 1)
    with open_bus(bus_file) as bus:
        (again,) = bus.receive("notifications", "send", "s2")
    assert again.message.message_id == "n-1" and again.attempt == 1


def test_an_unreachable_bus_is_one_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    monkeypatch.setenv("EMBERCAST_BUS_URL", url)
    get_settings.cache_clear()
    result = runner.invoke(app, ["bus", "stats"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: the bus at {url} cannot be reached")


def test_prune_keeps_the_retention_and_the_dead_letter(
    bus_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    kept = runner.invoke(app, ["bus", "prune"])  # bus_retention_days (2): nothing that old
    assert kept.exit_code == 0 and kept.stdout.strip() == (
        "0 messages pruned; the last 2 days are kept"
    )
    time.sleep(0.01)
    done = runner.invoke(app, ["bus", "prune", "--older-than-days", "0", "--json"])
    assert json.loads(done.stdout) == {"pruned": 1, "kept_days": 0.0}  # n-2; n-1 is dead
    stats = runner.invoke(app, ["bus", "stats"])
    assert stats.stdout.strip() == (
        "notifications / send: published 2, waiting 0, leased 0, handled 1, dead 1"
    )
    with open_bus(bus_file) as bus:  # what the service runs hourly
        bus.publish("notifications", {"to": "a"}, message_id="n-3")
        (d,) = bus.receive("notifications", "send", "s1")
        bus.ack(d)
        time.sleep(0.01)
        stop = threading.Event()
        loop = threading.Thread(target=bus.run_pruning, args=(0.0, stop, 0.05))
        loop.start()
        deadline = time.monotonic() + 10
        while bus._query("SELECT count(*) FROM bus_messages")[0][0] > 1:  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, "not pruned"
            time.sleep(0.05)
        stop.set()
        loop.join(5)
        assert not loop.is_alive()
        assert [m.message.message_id for m in bus.dead_letters()] == ["n-1"]
