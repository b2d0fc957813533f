"""Feature tables for training and evaluation, with the scenario facts the metrics need."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from embercast.dataset.episodes import FIRE_CLASS, is_episodes, read_episodes
from embercast.dataset.manifest import FEATURES_DIR, SCENARIOS_FILE
from embercast.dataset.schema import SPLIT_GROUPS
from embercast.errors import InputError
from embercast.store.fs import join, read_table
from embercast.store.integrity import open_artifact, open_parent
from embercast.synth.camera_coverage import fire_in_view

SPLITS = SPLIT_GROUPS
"""Split groups of scenarios (:data:`~embercast.dataset.schema.SPLIT_GROUPS`)."""


@dataclass(frozen=True)
class FeatureData:
    """A feature table and, per scenario, (class, is_fire, ignition_s); ``holdout`` is the
    dataset's held-out conditions, ``seeds`` its scenarios' seeds (to combine feature sets
    safely), ``in_view`` whether each fire scenario's fire starts in a camera's field of view
    (:mod:`embercast.synth.camera_coverage`) and ``conditions`` each scenario's condition buckets
    (:data:`embercast.synth.scenarios.CONDITIONS`, e.g. ``{"room_size": "large"}``)."""

    rows: pd.DataFrame
    scenarios: dict[str, tuple[str, bool, float | None]]
    feature_set: str
    location: str
    content_hash: str
    holdout: str | None = None
    seeds: frozenset[int] = frozenset()
    in_view: dict[str, bool] = field(default_factory=dict)
    conditions: dict[str, dict[str, str]] = field(default_factory=dict)
    episodes: bool = False
    """Labelled episodes from the field (:mod:`embercast.dataset.episodes`): training rows only,
    with no held-out conditions of their own."""

    def split(self, groups: tuple[str, ...]) -> pd.DataFrame:
        """Rows of the scenarios in the split groups ``groups``."""
        return self.rows[self.rows["split_group"].isin(groups)]


def load_features(location: str | Sequence[str]) -> FeatureData:
    """Read a feature set (``embercast features`` or ``generate --features``) and its parent's
    scenarios, or an episodes folder (:mod:`embercast.dataset.episodes`); several locations
    are read as one (:func:`combine_features`). Raises ValueError when one is not a complete
    feature set or they cannot be combined."""
    if not isinstance(location, str):
        locations = list(location)
        if not locations:
            raise InputError("no feature set location given")
        parts = [_load_one(loc) for loc in locations]
        return parts[0] if len(parts) == 1 else combine_features(parts)
    return _load_one(location)


def combine_features(parts: Sequence[FeatureData]) -> FeatureData:
    """The scenarios of several feature sets as one table, each keeping its split group: more
    data without regenerating what exists. Scenario IDs become ``K/ID`` (K: the set's position,
    from 0). The sets must have the same feature columns and held-out conditions (or the
    ``holdout`` group would hold conditions another set trains on) and no scenario in common
    (datasets generated with different ``--seed``). Episodes from the field join any sets of
    their feature set (they are training rows and hold out nothing)."""
    parts = sorted(parts, key=lambda p: p.episodes)  # the synthetic sets say what is held out
    first = parts[0]
    columns = list(first.rows.columns)
    seen: dict[int, str] = {}
    for part in parts:
        where = part.location
        if part.feature_set != first.feature_set or list(part.rows.columns) != columns:
            raise InputError(
                f"cannot combine feature set {where!r} ({part.feature_set}) with "
                f"{first.location!r} ({first.feature_set}): their feature columns differ"
            )
        if part.holdout != first.holdout and not part.episodes:
            raise InputError(
                f"cannot combine {where!r} with {first.location!r}: they hold out different "
                f"conditions ({part.holdout!r} against {first.holdout!r})"
            )
        shared = part.seeds & seen.keys()
        if shared:
            raise InputError(
                f"cannot combine {where!r} with {seen[min(shared)]!r}: they share {len(shared)} "
                "scenarios (generate more data with another --seed)"
            )
        seen.update(dict.fromkeys(part.seeds, where))
    rows, scenarios, in_view, conditions = [], {}, {}, {}
    for k, part in enumerate(parts):
        rows.append(part.rows.assign(scenario_id=f"{k}/" + part.rows["scenario_id"].astype(str)))
        scenarios.update({f"{k}/{sid}": facts for sid, facts in part.scenarios.items()})
        in_view.update({f"{k}/{sid}": known for sid, known in part.in_view.items()})
        conditions.update({f"{k}/{sid}": cond for sid, cond in part.conditions.items()})
    digest = hashlib.sha256("\n".join(p.content_hash for p in parts).encode()).hexdigest()
    return FeatureData(
        rows=pd.concat(rows, ignore_index=True),
        scenarios=scenarios,
        feature_set=first.feature_set,
        location=",".join(p.location for p in parts),
        content_hash=digest,
        holdout=first.holdout,
        seeds=frozenset(seen),
        in_view=in_view,
        conditions=conditions,
        episodes=all(p.episodes for p in parts),
    )


def _load_episodes(location: str) -> FeatureData:
    """An episodes folder as feature data: every episode a ``train`` scenario; a confirmed fire
    "ignites" at its first row (the alarm: the start is not known)."""
    found = read_episodes(location)
    rows = found.rows.to_pandas()
    first_t = rows.groupby("scenario_id")["t_s"].min()
    scenarios: dict[str, tuple[str, bool, float | None]] = {}
    for sid, cls in rows.groupby("scenario_id")["scenario_class"].first().items():
        fire = cls == FIRE_CLASS
        scenarios[str(sid)] = (str(cls), fire, float(first_t[sid]) if fire else None)
    return FeatureData(
        rows=rows, scenarios=scenarios, feature_set=found.feature_set, location=location,
        content_hash=found.content_hash, episodes=True,
    )  # fmt: skip


def _load_one(location: str) -> FeatureData:
    """One feature set or episodes folder (see :func:`load_features`)."""
    if is_episodes(location):
        return _load_episodes(location)
    features = open_artifact(location, "features")
    fs, root, manifest = features.fs, features.root, features.manifest
    parts = features.parts(FEATURES_DIR)
    table = pa.concat_tables([read_table(fs, join(root, FEATURES_DIR, p)) for p in parts])
    source = open_parent(features.manifest, features.location, features.canonical)
    scen = read_table(source.fs, join(source.root, SCENARIOS_FILE)).to_pandas()
    dataset = source.manifest
    holdout = (dataset.get("arguments") or {}).get("holdout")
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
        holdout=holdout,
        seeds=frozenset(int(x) for x in scen["seed"]),
        in_view=_fires_in_view(scen),
        conditions=_conditions(scen),
    )


def _conditions(scen: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Each scenario's condition buckets from the table's ``cond_*`` columns."""
    names = [c for c in scen.columns if c.startswith("cond_")]
    return {
        str(sid): {
            name.removeprefix("cond_"): str(v) for name, v in zip(names, values, strict=True)
        }
        for sid, *values in scen[["scenario_id", *names]].itertuples(index=False)
    }


def _fires_in_view(scen: pd.DataFrame) -> dict[str, bool]:
    """Camera coverage of each fire scenario: the generator's verdict (``fire_in_view``, which
    counts the furniture in the way), or for a dataset written before it, the verdict from the
    row's parameters alone where it has the parameters needed."""
    found: dict[str, bool] = {}
    for row in scen[scen["is_fire"].astype(bool)].to_dict("records"):
        recorded = row.get("fire_in_view")
        if recorded is not None and not pd.isna(recorded):
            found[str(row["scenario_id"])] = bool(recorded)
            continue
        try:
            found[str(row["scenario_id"])] = bool(fire_in_view({str(k): v for k, v in row.items()}))
        except KeyError:  # a dataset written before its class sampled these parameters
            continue
    return found
