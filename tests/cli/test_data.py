"""Tests of the command line: generate, validate, plot, version, and one-line errors."""

from __future__ import annotations

import functools
import json
import shutil
import socket
import stat
import subprocess
import sys
import types
from pathlib import Path
from typing import Any, cast

import pytest
from typer.testing import CliRunner, Result

import embercast
import embercast.cli as cli
import embercast.engine.executor as executor
import embercast.synth.writer as writer
from embercast.config import get_settings
from embercast.synth.writer import GENERATOR_VERSION, generate_dataset
from helpers import drop_root_override, fake_runner, fake_sampler, generate_fake

EMBERCAST = Path(sys.executable).parent / "embercast"
runner = CliRunner()


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WORKERS", "ENGINE", "DASK_SCHEDULER", "SCENARIOS_PER_TASK", "CONFIG"):
        monkeypatch.delenv(f"EMBERCAST_{name}", raising=False)
    monkeypatch.setenv("EMBERCAST_CONFIG", "")
    get_settings.cache_clear()


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the CLI generate with the fake sampler and runner."""
    monkeypatch.setattr(
        writer,  # the command imports it when it runs
        "generate_dataset",
        functools.partial(
            generate_dataset, sampler=cast(Any, fake_sampler), runner=cast(Any, fake_runner)
        ),
    )


def invoke(*args: str) -> Result:
    return runner.invoke(cli.app, list(args))


def assert_usage_error(result: Result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- generate


@pytest.mark.usefixtures("fakes")
def test_generate_json_prints_one_object(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    result = invoke("generate", "--scenarios", "5", "--seed", "3", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1
    summary = json.loads(result.stdout)
    assert summary["scenarios"] == 5 and summary["rows"] > 0
    assert {"scenarios", "rows", "frames", "seconds", "out", "content_hash"} <= set(summary)
    assert summary["out"] == str(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["arguments"]["frames"] == "sample:12"
    assert manifest["arguments"]["scenarios_per_task"] == 8  # the settings' default
    assert summary["content_hash"] == manifest["content_hash"]


@pytest.mark.usefixtures("fakes")
def test_generate_takes_defaults_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBERCAST_SCENARIOS_PER_TASK", "2")
    get_settings.cache_clear()
    out = tmp_path / "ds"
    result = invoke(
        "generate",
        "-n",
        "4",
        "-o",
        str(out),
        "--frames",
        "none",
        "--classes",
        "normal_day, flaming_fire",
    )
    assert result.exit_code == 0, result.output
    assert "generated 4 scenarios" in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["arguments"]["scenarios_per_task"] == 2
    assert manifest["arguments"]["classes"] == ["normal_day", "flaming_fire"]
    assert manifest["counts"]["frames_stored"] == 0
    again = invoke(
        "generate",
        "-n",
        "4",
        "-o",
        str(out),
        "--frames",
        "none",
        "--classes",
        "normal_day,flaming_fire",
    )
    assert again.exit_code == 0
    assert "already holds this dataset" in again.stdout


@pytest.mark.usefixtures("fakes")
@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--scenarios", "0"], ["--scenarios"]),
        (["--scenarios", "-3"], ["--scenarios"]),
        (["--scenarios", "many"], ["--scenarios"]),
        (["--scenarios", "2", "--frames", "sample:0"], ["frames policy", "--frames"]),
        (["--scenarios", "2", "--frames", "often"], ["frames policy 'often'"]),
        (["-n", "2", "--classes", "flaming_fire,dragon"], ["unknown scenario class 'dragon'"]),
        (["--scenarios", "2", "--engine", "ray"], ["--engine 'ray'"]),
        (["--scenarios", "2", "--workers", "0"], ["--workers"]),
        (["--scenarios", "2", "--bogus"], ["--bogus"]),
    ],
)
def test_generate_bad_input(tmp_path: Path, args: list[str], needles: list[str]) -> None:
    result = invoke("generate", "--out", str(tmp_path / "ds"), *args)
    assert_usage_error(result, *needles)
    assert not (tmp_path / "ds").exists()


def test_generate_needs_out() -> None:
    assert_usage_error(invoke("generate", "--scenarios", "2"), "--out")


def test_unknown_command() -> None:
    assert_usage_error(invoke("make-coffee"), "make-coffee")


@pytest.mark.usefixtures("fakes")
def test_unreachable_scheduler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executor, "DEFAULT_CONNECT_TIMEOUT_S", 1.0)
    address = f"tcp://127.0.0.1:{closed_port()}"
    result = invoke("generate", "-n", "2", "-o", str(tmp_path / "ds"), "--scheduler", address)
    assert_usage_error(result, address)


@pytest.mark.usefixtures("fakes")
def test_scheduler_needs_dask(tmp_path: Path) -> None:
    result = invoke(
        "generate",
        "-n",
        "2",
        "-o",
        str(tmp_path / "ds"),
        "--engine",
        "local",
        "--scheduler",
        "tcp://127.0.0.1:8786",
    )
    assert_usage_error(result, "--engine dask")


@pytest.mark.usefixtures("fakes")
def test_unwritable_output(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    result = invoke("generate", "-n", "2", "-o", str(tmp_path / "file" / "ds"))
    assert_usage_error(result, f"cannot write to '{tmp_path / 'file' / 'ds'}'")


@pytest.mark.usefixtures("fakes")
def test_different_dataset_needs_overwrite(tmp_path: Path) -> None:
    out = str(tmp_path / "ds")
    assert invoke("generate", "-n", "2", "-o", out, "--seed", "1").exit_code == 0
    result = invoke("generate", "-n", "2", "-o", out, "--seed", "2")
    assert_usage_error(result, "different arguments", "--overwrite")
    replaced = invoke("generate", "-n", "2", "-o", out, "--seed", "2", "--overwrite", "--json")
    assert replaced.exit_code == 0, replaced.output
    assert json.loads(replaced.stdout)["status"] == "generated"


# --------------------------------------------------------------------------- validate


def test_validate_ok_and_broken(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    generate_fake(out)
    ok = invoke("validate", str(out))
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.strip().endswith(": ok")
    as_json = json.loads(invoke("validate", str(out), "--json").stdout)
    assert as_json == {"ok": True, "path": str(out), "kind": "dataset", "problems": []}

    (out / "manifest.json").unlink()
    broken = invoke("validate", str(out))
    assert broken.exit_code == 1
    assert "[incomplete]" in broken.stdout
    result = invoke("validate", str(out), "--json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    assert payload["problems"][0]["code"] == "incomplete"
    assert set(payload["problems"][0]) == {"code", "message", "location"}


# --------------------------------------------------------------------------- plot and version


def test_plot_calls_plot_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str, str]] = []

    def plot_scenario(
        dataset: str, scenario_id: str, out: str, *, real_fires: str | None = None
    ) -> str:
        if scenario_id == "s404":
            raise KeyError(scenario_id)
        calls.append((dataset, scenario_id, out))
        return out

    module = types.ModuleType("embercast.synth.plot")
    module.plot_scenario = plot_scenario  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "embercast.synth.plot", module)
    png = str(tmp_path / "s1.png")
    result = invoke("plot", str(tmp_path), "--scenario", "s000001", "--out", png)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == png
    assert calls == [(str(tmp_path), "s000001", png)]
    assert_usage_error(
        invoke("plot", str(tmp_path), "--scenario", "s404", "--out", png), "unknown scenario: s404"
    )


def test_version() -> None:
    result = invoke("version")
    assert result.exit_code == 0
    assert (
        result.stdout.strip()
        == f"embercast {embercast.__version__} (generator {GENERATOR_VERSION})"
    )


# --------------------------------------------------------------------------- the installed script


def run_script(*args: str, drop_override: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EMBERCAST), *args],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=drop_root_override if drop_override else None,
    )


def test_script_runs_and_reports_errors_on_one_line(tmp_path: Path) -> None:
    version = run_script("version")
    assert version.returncode == 0 and version.stdout.startswith("embercast ")
    bad = run_script("generate", "--scenarios", "0", "--out", str(tmp_path / "ds"))
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "--scenarios" in bad.stderr
    out = tmp_path / "fake"
    generate_fake(out)
    checked = run_script("validate", str(out), "--json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["ok"] is True


def test_script_read_only_output(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        result = run_script(
            "generate",
            "-n",
            "1",
            "-o",
            str(locked / "ds"),
            "--classes",
            "normal_day",
            drop_override=True,
        )
    finally:
        locked.chmod(stat.S_IRWXU)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"error: cannot write to '{locked / 'ds'}': Permission denied (EACCES)"
    )


# --------------------------------------------------------------------------- end to end (real core)


def test_script_generates_validates_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "real"
    generated = run_script(
        "generate",
        "--scenarios",
        "2",
        "--seed",
        "5",
        "--out",
        str(out),
        "--frames",
        "sample:24",
        "--json",
    )
    assert generated.returncode == 0, generated.stderr
    summary = json.loads(generated.stdout)
    assert summary["scenarios"] == 2 and summary["rows"] > 0
    checked = run_script("validate", str(out))
    assert checked.returncode == 0, checked.stdout
    scenario = "s000000"
    png = tmp_path / "plot.png"
    plotted = run_script("plot", str(out), "--scenario", scenario, "--out", str(png))
    assert plotted.returncode == 0, plotted.stderr
    assert png.exists() and png.stat().st_size > 0
    shutil.rmtree(out)
