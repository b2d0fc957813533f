"""One error base class: every error embercast defines is an EmbercastError, and the command
line prints one as a single line with exit status 2, while a defect keeps its traceback."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import embercast
import embercast.cli as cli
import embercast.lifecycle.detectors as detectors
from embercast.config import get_settings
from embercast.errors import EmbercastError, InputError

SRC = Path(embercast.__file__).parent
runner = CliRunner()


def _error_classes() -> list[type[BaseException]]:
    found = []
    for info in pkgutil.walk_packages([str(SRC)], "embercast."):
        if info.name.startswith("embercast.models.sequence"):
            continue  # needs the optional torch; defines no error
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == info.name
            ):
                found.append(value)
    return found


def test_every_error_embercast_defines_is_an_embercast_error() -> None:
    classes = _error_classes()
    names = {c.__name__ for c in classes}
    assert {"CatalogError", "OutputLocationError", "SchedulerUnreachableError"} <= names
    assert [c.__name__ for c in classes if not issubclass(c, EmbercastError)] == []


def test_bad_input_keeps_its_builtin_class() -> None:
    assert issubclass(InputError, ValueError)
    from embercast.store.fs import OutputLocationError

    assert issubclass(OutputLocationError, OSError)


@pytest.fixture(autouse=True)
def no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EMBERCAST_CONFIG", "")
    monkeypatch.setenv("EMBERCAST_CATALOG_PATH", str(tmp_path / "catalog.sqlite"))
    get_settings.cache_clear()


def test_the_command_line_prints_an_embercast_error_on_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def refuse(ref: str) -> object:
        raise InputError(f"no detector {ref!r}:\n  nothing by that name")

    monkeypatch.setattr(detectors, "load_detector", refuse)
    out = str(tmp_path / "p.parquet")
    result = runner.invoke(cli.app, ["predict", "--model", "m", "--input", "x", "--out", out])
    assert result.exit_code == 2
    assert result.stderr == "error: no detector 'm': nothing by that name\n"


def test_a_defect_is_not_dressed_as_bad_input(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def broken(ref: str) -> object:
        raise ValueError("an index out of step")  # not an EmbercastError: a bug

    monkeypatch.setattr(detectors, "load_detector", broken)
    out = str(tmp_path / "p.parquet")
    result = runner.invoke(cli.app, ["predict", "--model", "m", "--input", "x", "--out", out])
    assert result.exit_code == 1
    assert isinstance(result.exception, ValueError)
    assert "error:" not in result.stderr


def test_commands_do_not_catch_value_or_os_errors_broadly() -> None:
    """Only the one handler in cli/common.py turns errors into messages."""
    broad = {"ValueError", "OSError", "Exception"}
    found = []
    for path in sorted((SRC / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                types = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
                names = {t.id for t in types if isinstance(t, ast.Name)}
                if names & broad and not (path.name == "common.py" and names == {"OSError"}):
                    found.append(f"{path.name}:{node.lineno}")
    assert found == []
