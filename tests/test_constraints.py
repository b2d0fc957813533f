"""constraints.txt pins every distribution embercast[dev,nets] installs, and the venv the Makefile
built holds exactly those releases (a dataset's content hash depends on them)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

CONSTRAINTS = Path(__file__).resolve().parents[1] / "constraints.txt"


def pins(text: str) -> dict[str, str]:
    """The ``name==version`` lines of a constraints file, by canonical name."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"constraints.txt: not a pin: {line!r}"
        out[canonicalize_name(name)] = version
    return out


def installed_requirements(name: str, extras: set[str]) -> dict[str, str]:
    """Every installed distribution ``name[extras]`` requires, directly or not, with its
    installed version (without a local label such as ``+cpu``)."""
    found: dict[str, str] = {}
    extras_of: dict[str, set[str]] = {}

    def walk(dist_name: str, wanted: set[str]) -> None:
        key = canonicalize_name(dist_name)
        new = wanted - extras_of.get(key, set())
        if key in extras_of and not new:
            return
        extras_of.setdefault(key, set()).update(wanted)
        dist = distribution(dist_name)
        found[key] = dist.version.split("+", 1)[0]
        for raw in dist.requires or []:
            req = Requirement(raw)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in wanted | {""}):
                try:
                    walk(req.name, set(req.extras))
                except PackageNotFoundError:
                    raise AssertionError(f"{dist_name} requires {req}: not installed") from None

    walk(name, extras)
    del found[canonicalize_name(name)]
    return found


def test_every_installed_requirement_is_pinned_at_its_installed_release() -> None:
    pinned = pins(CONSTRAINTS.read_text())
    installed = installed_requirements("embercast", {"dev", "nets"})
    assert sorted(set(installed) - set(pinned)) == [], "installed, not pinned (make constraints)"
    assert sorted(set(pinned) - set(installed)) == [], "pinned, not required (make constraints)"
    differ = {n: (v, pinned[n]) for n, v in installed.items() if pinned[n] != v}
    assert differ == {}, f"installed release differs from constraints.txt: {differ}"
