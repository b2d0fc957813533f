"""Check a feature set against its manifest, the feature-table contract and its lineage.

:func:`validate_feature_set` returns a list of :class:`~embercast.dataset.validate.Problem`
(empty when the feature set is sound), with the codes of dataset validation where they mean the
same thing. Checks:

* ``incomplete`` / ``manifest-invalid`` / ``missing-file`` / ``unlisted-file`` /
  ``hash-mismatch``: the manifest exists and is complete, its content hash matches the hashes
  it lists, every listed file exists with the listed size and SHA-256, no part is unlisted;
* ``schema``: the feature set and version are known and name the feature columns this version
  computes; every part has the manifest's columns in order, with KEY_COLUMNS, FLAG_COLUMNS and
  LABEL_COLUMNS;
* ``invariant``: the keys (scenario_id, device_id, t_s) are unique and sorted within a part, no
  scenario spans parts, fire is 0 or 1, split_group is a known split, the counts match;
* ``lineage``: the parent dataset is found intact (at its recorded location, the folder around
  the feature set, or a copy the catalog knows) with the recorded content hash, and every
  scenario of the feature set is one of its scenarios.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from embercast.dataset.feature_table import FLAG_COLUMNS, KEY_COLUMNS, LABEL_COLUMNS
from embercast.dataset.manifest import (
    FEATURES_DIR,
    FEATURES_FORMAT,
    MANIFEST,
    SCENARIOS_FILE,
)
from embercast.dataset.schema import SPLIT_GROUPS
from embercast.dataset.validate import Problem, listed_file_problems
from embercast.features.sets import FEATURE_VERSIONS, feature_names
from embercast.store.fs import join, list_names, read_table
from embercast.store.integrity import IntegrityError, open_parent
from embercast.store.lineage import CatalogError, canonical_location, read_manifest

__all__ = ["validate_feature_set"]

_REQUIRED = ("feature_set", "feature_version", "parent", "columns", "features", "counts", "files")


class _Checker:
    def __init__(self, path: str) -> None:
        self.path = path.rstrip("/") or path
        self.problems: list[Problem] = []
        self.canonical, self.fs, self.root = canonical_location(path)

    def add(self, code: str, message: str, rel: str | None = None) -> None:
        self.problems.append(
            Problem(code, message, self.path if rel is None else f"{self.path}/{rel}")
        )

    def manifest(self) -> dict[str, Any] | None:
        try:
            _, manifest = read_manifest(self.path)
        except CatalogError as exc:
            self.add("incomplete", str(exc), MANIFEST)
            return None
        if manifest.get("format") != FEATURES_FORMAT or manifest.get("kind") != "features":
            self.add(
                "manifest-invalid",
                f"not a feature set: manifest format {manifest.get('format')!r}, expected "
                f"{FEATURES_FORMAT!r} (embercast validate checks a dataset as a dataset)",
                MANIFEST,
            )
            return None
        missing = [key for key in (*_REQUIRED, "content_hash") if key not in manifest]
        if missing:
            self.add("manifest-invalid", f"manifest.json lacks {missing}", MANIFEST)
            return None
        return manifest

    def files(self, manifest: Mapping[str, Any]) -> list[str]:
        """Listed files that exist with their hash (problems for the others)."""
        fs, root = self.fs, self.root
        files: Mapping[str, Any] = manifest["files"]
        damaged = set()
        for code, message, rel in listed_file_problems(fs, root, manifest):
            self.add(code, message, rel)
            damaged.add(rel)
        intact = [rel for rel in sorted(files) if rel not in damaged]
        for name in list_names(fs, join(root, FEATURES_DIR)):
            rel = f"{FEATURES_DIR}/{name}"
            if name.startswith("part-") and rel not in files:
                self.add("unlisted-file", "a data file is not listed in the manifest", rel)
        return intact

    def contract(self, manifest: Mapping[str, Any]) -> None:
        name, version = manifest["feature_set"], manifest["feature_version"]
        if FEATURE_VERSIONS.get(name) is None:
            self.add("schema", f"unknown feature set {name!r}", MANIFEST)
            return
        if FEATURE_VERSIONS[name] == version and list(manifest["features"]) != list(
            feature_names(name)
        ):
            self.add(
                "schema",
                f"the features listed differ from {name} version {version}'s",
                MANIFEST,
            )
        columns = list(manifest["columns"])
        needed = [*KEY_COLUMNS, *manifest["features"], *FLAG_COLUMNS, *LABEL_COLUMNS]
        absent = [c for c in needed if c not in columns]
        if absent:
            self.add("schema", f"the manifest's columns lack {absent}", MANIFEST)

    def part(self, rel: str, columns: list[str], seen: dict[str, str]) -> tuple[int, set[str]]:
        try:
            table = read_table(self.fs, join(self.root, rel))
        except (OSError, ValueError, pa.ArrowException) as exc:
            self.add("unreadable", f"cannot read the Parquet file: {exc}", rel)
            return 0, set()
        if table.column_names != columns:
            self.add(
                "schema", f"columns {table.column_names[:6]}... differ from the manifest's", rel
            )
            return table.num_rows, set()
        n = table.num_rows
        if n == 0:
            return 0, set()
        sid = np.asarray(table["scenario_id"].to_numpy(zero_copy_only=False)).astype(str)
        dev = np.asarray(table["device_id"].to_numpy(zero_copy_only=False)).astype(str)
        t = np.asarray(table["t_s"].to_numpy(zero_copy_only=False), dtype=np.float64)
        order = np.lexsort((t, dev, sid))
        if not np.array_equal(order, np.arange(n)):
            self.add("invariant", "rows are not sorted by (scenario_id, device_id, t_s)", rel)
        same = (sid[1:] == sid[:-1]) & (dev[1:] == dev[:-1]) & (t[1:] == t[:-1])
        if same.any():
            self.add(
                "invariant", f"{int(same.sum())} repeated (scenario_id, device_id, t_s) keys", rel
            )
        fire = np.asarray(table["fire"].to_numpy(zero_copy_only=False))
        if not np.isin(fire, (0, 1)).all():
            self.add("invariant", "fire is not 0 or 1 in every row", rel)
        groups = pc.unique(table["split_group"]).to_pylist()
        unknown = sorted(str(g) for g in groups if g not in SPLIT_GROUPS)
        if unknown:
            self.add("invariant", f"unknown split groups {unknown}", rel)
        ids = set(np.unique(sid).tolist())
        for scenario in sorted(ids):
            if scenario in seen:
                self.add("invariant", f"scenario {scenario} also has rows in {seen[scenario]}", rel)
            seen.setdefault(scenario, rel)
        return n, ids

    def lineage(self, manifest: Mapping[str, Any], scenarios: set[str]) -> None:
        try:
            source = open_parent(manifest, self.path, self.canonical)
        except IntegrityError as exc:
            self.add("lineage", str(exc), MANIFEST)
            return
        table = read_table(source.fs, join(source.root, SCENARIOS_FILE), ["scenario_id"])
        strangers = sorted(scenarios - set(table["scenario_id"].to_pylist()))
        if strangers:
            self.add(
                "lineage",
                f"{len(strangers)} scenarios are not in the parent dataset (first: {strangers[0]})",
            )

    def run(self) -> list[Problem]:
        manifest = self.manifest()
        if manifest is None:
            return self.problems
        intact = self.files(manifest)
        self.contract(manifest)
        columns = list(manifest["columns"])
        rows, scenarios, seen = 0, set[str](), dict[str, str]()
        for rel in intact:
            if rel.startswith(f"{FEATURES_DIR}/") and rel.endswith(".parquet"):
                count, ids = self.part(rel, columns, seen)
                rows += count
                scenarios |= ids
        counts = manifest["counts"]
        complete = len(intact) == len(manifest["files"])
        if complete and counts.get("rows") != rows:
            self.add(
                "invariant",
                f"the manifest counts {counts.get('rows')} rows, the files hold {rows}",
                MANIFEST,
            )
        self.lineage(manifest, scenarios)
        return self.problems


def validate_feature_set(path: str) -> list[Problem]:
    """Every problem found in the feature set at ``path`` (an empty list: it is sound)."""
    try:
        checker = _Checker(path)
    except CatalogError as exc:
        return [Problem("unreadable", str(exc), path)]
    return checker.run()
