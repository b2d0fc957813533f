"""The floors of the package hold (scripts/check_layers.py, also run by ``make lint``)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layers", ROOT / "scripts/check_layers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_package_keeps_its_floors() -> None:
    assert _checker().violations(ROOT / "src") == []


def test_an_upward_import_and_a_cycle_are_found(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "embercast", src / "embercast")
    physics = src / "embercast" / "physics" / "plume.py"
    physics.write_text(physics.read_text() + "\nfrom embercast.synth import runner  # noqa\n")
    scene = src / "embercast" / "scene" / "objects.py"
    scene.write_text(scene.read_text() + "\nimport embercast.scene.render  # noqa\n")
    problems = _checker().violations(src)
    assert any("embercast.physics.plume imports embercast.synth.runner" in p for p in problems)
    assert any(p.startswith("import cycle:") and "embercast.scene.objects" in p for p in problems)
    assert not any("embercast.scene.objects imports" in p for p in problems)  # same package


def test_a_package_on_no_floor_is_named(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "embercast", src / "embercast")
    (src / "embercast" / "gadgets").mkdir()
    (src / "embercast" / "gadgets" / "__init__.py").write_text('"""New."""\n')
    problems = _checker().violations(src)
    assert any("embercast.gadgets is on no floor" in p for p in problems)
