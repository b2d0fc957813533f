"""The library logs through module loggers; the command line shows them with -v and -vv."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import embercast.cli as cli
from embercast.config import get_settings
from embercast.engine.workflow import Step, Workflow

runner = CliRunner()


@pytest.fixture(autouse=True)
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EMBERCAST_CONFIG", "")
    monkeypatch.setenv("EMBERCAST_CATALOG_PATH", str(tmp_path / "catalog.sqlite"))
    get_settings.cache_clear()


def _generate(tmp_path: Path, *flags: str) -> str:
    args = [*flags, "generate", "--scenarios", "2", "--seed", "3", "--frames", "none"]
    result = runner.invoke(cli.app, [*args, "--out", str(tmp_path / f"ds{len(flags)}")])
    assert result.exit_code == 0, result.output
    return result.stderr


def test_verbose_flags_show_the_library_logs(tmp_path: Path) -> None:
    quiet = _generate(tmp_path)
    assert "INFO" not in quiet and "DEBUG" not in quiet
    verbose = _generate(tmp_path, "-v")
    assert "INFO embercast.synth.writer: generating 2 scenarios" in verbose
    assert "INFO embercast.synth.writer: wrote " in verbose and "DEBUG" not in verbose
    debug = _generate(tmp_path, "-v", "-v")
    assert "DEBUG embercast.synth.writer: task 0 finished" in debug


def test_the_workflow_logs_each_step(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    def one(args: dict[str, Any], upstream: dict[str, Any]) -> dict[str, Any]:
        return {"n": args["n"]}

    workflow = Workflow([Step("one", one, {"n": 1})], tmp_path / "state.json")
    with caplog.at_level(logging.INFO, logger="embercast"):
        workflow.run()
        workflow.run()
    messages = [r.getMessage() for r in caplog.records if r.name == "embercast.engine.workflow"]
    assert messages[0] == "step one: running"
    assert messages[1].startswith("step one: done in ")
    assert messages[2] == "step one: cached (inputs unchanged)"
