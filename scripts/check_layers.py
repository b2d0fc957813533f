"""Check that embercast's floors hold: a module imports only lower floors and its own package,
and no chain of imports (function-level ones included) comes back to where it started.

    python scripts/check_layers.py [SRC]    # exit 1 and one line per violation

The floors follow the data (README, "Layout"): generator -> dataset -> features -> model ->
evaluation -> lifecycle -> service -> command line. ``store.wal`` (the live system's SQLite
files) sits beside the settings, ``store.fs`` (files) below the dataset contract; the lineage
catalog and SQL (the rest of ``store``) sit above it, since they read manifests.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

FLOORS: tuple[tuple[str, ...], ...] = (
    ("embercast", "embercast.errors", "embercast.jsonio"),
    ("embercast.config", "embercast.store.wal"),
    (
        "embercast.physics",
        "embercast.sensors",
        "embercast.store.fs",
        "embercast.engine",
        "embercast.bus",
        "embercast.notify",
    ),
    ("embercast.dataset",),
    ("embercast.store",),
    ("embercast.scene",),
    ("embercast.synth",),
    ("embercast.features",),
    ("embercast.models",),
    ("embercast.alarm",),
    ("embercast.evaluation",),
    ("embercast.lifecycle",),
    ("embercast.agents",),
    ("embercast.service",),
    ("embercast.cli",),
)
"""Components from the ground floor up; a component may import lower floors and itself."""


def module_name(path: Path, src: Path) -> str:
    """``src/embercast/store/fs.py`` -> ``embercast.store.fs`` (a package's ``__init__`` is the
    package)."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, module: str) -> Iterator[tuple[int, str]]:
    """(line, imported embercast module) for every import in the file, wherever it stands."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:  # ``from embercast.models import compiled``
                yield node.lineno, f"{target}.{alias.name}"


def component(module: str) -> tuple[int, str] | None:
    """(floor, component) of a module: its longest prefix listed in :data:`FLOORS` (the package
    root ``embercast`` is a component of its own, not a prefix of every module)."""
    best: tuple[int, str] | None = None
    for floor, names in enumerate(FLOORS):
        for name in names:
            if module == name or (name != "embercast" and module.startswith(name + ".")):
                if best is None or len(name) > len(best[1]):
                    best = (floor, name)
    return best


def graph(src: Path) -> tuple[dict[str, Path], dict[str, dict[str, int]]]:
    """Modules and, per module, the embercast modules it imports (with the first line)."""
    files = {module_name(p, src): p for p in sorted((src / "embercast").rglob("*.py"))}
    edges: dict[str, dict[str, int]] = {}
    for module, path in files.items():
        found: dict[str, int] = {}
        for line, target in imports(path, module):
            if target in files and target != module:
                found.setdefault(target, line)
        edges[module] = found
    return files, edges


def floor_violations(
    files: Mapping[str, Path], edges: Mapping[str, Mapping[str, int]]
) -> list[str]:
    """An import of a higher floor, of another component of the same floor, or from a module
    no floor lists."""
    problems = []
    for module, targets in edges.items():
        here = component(module)
        if here is None:
            problems.append(f"{files[module]}: {module} is on no floor (add it to FLOORS)")
            continue
        for target, line in targets.items():
            there = component(target)
            if there is None or there[1] == here[1]:
                continue
            if there[0] >= here[0]:
                relation = "a higher floor" if there[0] > here[0] else "its own floor"
                problems.append(
                    f"{files[module]}:{line}: {module} imports {target}, on {relation} "
                    f"({there[1]} above or beside {here[1]})"
                )
    return problems


def cycles(edges: Mapping[str, Mapping[str, int]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                group.append(item)
                if item == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def violations(src: Path) -> list[str]:
    """Every floor violation and import cycle under ``src``."""
    files, edges = graph(src)
    problems = floor_violations(files, edges)
    problems += [f"import cycle: {' <-> '.join(group)}" for group in cycles(edges)]
    return problems


def main(argv: list[str]) -> int:
    src = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1] / "src"
    problems = violations(src)
    for problem in problems:
        print(problem)
    if not problems:
        print(f"floors hold: {len(graph(src)[0])} modules, no upward import, no cycle")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
