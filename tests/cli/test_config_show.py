"""``embercast config show``: every setting by section, with where its value comes from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import embercast.cli as cli
from embercast.config import SECTIONS, Settings, field_section, get_settings

runner = CliRunner()


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "embercast.toml"
    path.write_text('workers = 2\nalarm_false_alarm_budget = 0.01\nengine = "local"\n')
    monkeypatch.setenv("EMBERCAST_CONFIG", str(path))
    monkeypatch.setenv("EMBERCAST_ENGINE", "dask")
    monkeypatch.delenv("EMBERCAST_WORKERS", raising=False)
    get_settings.cache_clear()
    return path


def test_every_setting_has_a_section() -> None:
    assert {field_section(name) for name in Settings.model_fields} <= set(SECTIONS)


def test_show_groups_values_and_names_their_source(config: Path) -> None:
    result = runner.invoke(cli.app, ["config", "show"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"  workers = 2  ({config})" in lines
    assert "  engine = 'dask'  (EMBERCAST_ENGINE)" in lines  # the variable wins over the file
    assert "  compile_min_rows = 2000000  (default)" in lines
    assert lines.index("[alarm]  " + SECTIONS["alarm"]) < lines.index(
        f"  alarm_false_alarm_budget = 0.01  ({config})"
    )


def test_show_says_what_every_setting_does(config: Path) -> None:
    result = runner.invoke(cli.app, ["config", "show"])
    assert result.exit_code == 0, result.output
    comments = " ".join(
        line.strip().removeprefix("# ")
        for line in result.stdout.splitlines()
        if line.startswith("      # ")
    )
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no description"
        assert " ".join(field.description.split()) in comments, name


def test_show_as_json(config: Path) -> None:
    result = runner.invoke(cli.app, ["config", "show", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["engine"] == {"engine": "dask", "workers": 2, "dask_scheduler": None}
    assert shown["alarm"]["alarm_false_alarm_budget"] == 0.01
    assert list(shown) == [s for s in SECTIONS if s in shown]


def test_a_bad_setting_is_one_line(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBERCAST_WORKERS", "0")
    get_settings.cache_clear()
    result = runner.invoke(cli.app, ["config", "show"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: invalid setting 'workers'")


def test_a_config_file_that_is_not_toml_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "embercast.toml"
    path.write_text("workers = = 2\n")
    monkeypatch.setenv("EMBERCAST_CONFIG", str(path))
    get_settings.cache_clear()
    result = runner.invoke(cli.app, ["config", "show"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path} is not valid TOML: ")


def test_an_unknown_setting_in_the_file_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "embercast.toml"
    path.write_text("workers = 2\nworker = 4\n")
    monkeypatch.setenv("EMBERCAST_CONFIG", str(path))
    get_settings.cache_clear()
    result = runner.invoke(cli.app, ["generate", "-n", "1", "--out", str(tmp_path / "ds")])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip() == (
        f"error: {path}: unknown setting 'worker' (did you mean 'workers'?); a setting "
        "embercast does not know (embercast config show lists every setting)"
    )
    assert not (tmp_path / "ds").exists()


def test_a_missing_config_file_is_an_error_and_empty_means_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EMBERCAST_CONFIG", str(tmp_path / "missing.toml"))
    get_settings.cache_clear()
    result = runner.invoke(cli.app, ["config", "show"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: EMBERCAST_CONFIG names {tmp_path / 'missing.toml'},")
    monkeypatch.setenv("EMBERCAST_CONFIG", "")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "embercast.toml").write_text("workers = 3\n")  # not read: empty means none
    get_settings.cache_clear()
    shown = runner.invoke(cli.app, ["config", "show"])
    assert shown.exit_code == 0 and "config file: (none)" in shown.stdout
    assert "  workers = 1  (default)" in shown.stdout.splitlines()
    monkeypatch.delenv("EMBERCAST_CONFIG")
    get_settings.cache_clear()
    assert "  workers = 3  (embercast.toml)" in runner.invoke(cli.app, ["config", "show"]).stdout


def test_a_child_process_gets_the_same_settings_from_settings_env(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embercast.config import settings_env

    settings = get_settings().model_copy(
        update={
            "service_port": 9123,
            "service_fold_in_service": False,
            "bus_partitions": 4,
            "model_ref": "fire@challenger",
        }  # fmt: skip
    )
    for name in list(Settings.model_fields):
        monkeypatch.delenv(f"EMBERCAST_{name.upper()}", raising=False)
    for key, value in settings_env(settings).items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    child = get_settings()  # as `embercast agent fold` reads them, the TOML file left out
    assert child == settings
    assert (child.workers, child.engine, child.service_port) == (2, "dask", 9123)
