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
