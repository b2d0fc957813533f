"""Feature tables for training and evaluation, with the scenario facts the metrics need."""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from embercast.features.schema import FEATURES_FORMAT
from embercast.store.fs import join, list_names, read_table, resolve

SPLITS = ("train", "val", "test", "holdout")
"""Split groups a dataset's scenarios are assigned to (by scenario, never by row)."""


@dataclass(frozen=True)
class FeatureData:
    """A feature table and, per scenario, (class, is_fire, ignition_s)."""

    rows: pd.DataFrame
    scenarios: dict[str, tuple[str, bool, float | None]]
    feature_set: str
    location: str
    content_hash: str

    def split(self, groups: tuple[str, ...]) -> pd.DataFrame:
        """Rows of the scenarios in the split groups ``groups``."""
        return self.rows[self.rows["split_group"].isin(groups)]


def load_features(location: str) -> FeatureData:
    """Read a feature set (``embercast features`` or ``generate --features``) and its parent's
    scenarios. Raises ValueError when it is not a complete feature set."""
    fs, root = resolve(location)
    path = join(root, "manifest.json")
    if not fs.exists(path):
        raise ValueError(f"{location!r} is not a complete feature set: it has no manifest.json")
    with fs.open(path, "rb") as fh:
        manifest = json.loads(fh.read())
    if manifest.get("format") != FEATURES_FORMAT:
        raise ValueError(f"{location!r} is not a feature set (format {manifest.get('format')!r})")
    parts = sorted(n for n in list_names(fs, join(root, "features")) if n.endswith(".parquet"))
    table = pa.concat_tables([read_table(fs, join(root, "features", p)) for p in parts])
    parent = str(manifest["parent"]["location"])
    pfs, proot = resolve(parent)
    if not pfs.exists(join(proot, "scenarios.parquet")):
        # a feature set computed while generating sits inside its dataset
        pfs, proot = resolve(posixpath.dirname(root.rstrip("/")))
        if not pfs.exists(join(proot, "scenarios.parquet")):
            raise ValueError(
                f"the dataset of feature set {location!r} ({parent!r}) cannot be found: "
                "scenarios.parquet is missing"
            )
    columns = ["scenario_id", "scenario_class", "is_fire", "ignition_s"]
    scen = read_table(pfs, join(proot, "scenarios.parquet"), columns).to_pandas()
    facts = {
        str(r.scenario_id): (
            str(r.scenario_class),
            bool(r.is_fire),
            None if pd.isna(r.ignition_s) else float(r.ignition_s),
        )
        for r in scen.itertuples()
    }
    return FeatureData(
        rows=table.to_pandas(),
        scenarios=facts,
        feature_set=str(manifest["feature_set"]),
        location=location,
        content_hash=str(manifest["content_hash"]),
    )
