"""Labelled episodes from the field: operators' verdicts on alarms, as training data.

An episodes folder (``embercast-episodes/1``) holds, per alarm and device an operator gave a
verdict on, the device's feature rows around the alarm (the feature-table columns of
:func:`embercast.features.fold.features_schema`, split group ``train``) and the episode's facts
(who said what, when). ``train`` reads it beside synthetic feature sets
(:func:`embercast.evaluation.feature_data.load_features`)::

    ROOT/manifest.json            {"format": "embercast-episodes/1", "feature_set": ...}
    ROOT/features/<key>.parquet   the episode's rows
    ROOT/episodes/<key>.json      its facts; written last, so an episode without it is not one

``<key>`` is derived from the feedback id and the device (:func:`episode_key`): the same verdict
written twice is one episode. Each file is written atomically; a crash leaves whole episodes or
none.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from embercast.dataset.manifest import MANIFEST, content_hash, dumps
from embercast.errors import InputError
from embercast.store.fs import (
    atomic_write_bytes,
    join,
    list_names,
    read_json,
    read_table,
    resolve,
    sha256,
    write_table_atomic,
)

EPISODES_FORMAT = "embercast-episodes/1"
FEATURES_DIR = "features"
FACTS_DIR = "episodes"
VERDICTS: tuple[str, ...] = ("false_alarm", "fire")
"""An operator's verdict on an alarm: a false alarm (with its cause) or a confirmed fire."""
CAUSES: tuple[str, ...] = (
    "cooking", "toaster", "steam", "smoking", "candles", "heater", "hot_machinery", "sunlight",
    "dust", "sensor_fault", "other",
)  # fmt: skip
"""The causes a false alarm may be given."""
FIRE_CLASS = "feedback_fire"
"""The scenario class of a confirmed fire; a false alarm's is ``feedback_<cause>``."""


def episode_key(feedback_id: str, device_id: str) -> str:
    """The file name (without suffix) of one device's episode of one verdict.

    >>> episode_key("a:feedback:1", "dev-1") == episode_key("a:feedback:1", "dev-1")
    True
    """
    return hashlib.sha256(f"{feedback_id}\x1f{device_id}".encode()).hexdigest()[:32]


def episode_class(verdict: str, cause: str | None) -> str:
    """The scenario class an episode's rows carry: ``feedback_fire`` or ``feedback_<cause>``."""
    return FIRE_CLASS if verdict == "fire" else f"feedback_{cause or 'other'}"


def is_episode_class(scenario_class: str) -> bool:
    """Whether a scenario class is an episode's (a verdict from the field).

    >>> is_episode_class("feedback_cooking"), is_episode_class("cooking_electric")
    (True, False)
    """
    return scenario_class.startswith("feedback_")


@dataclass(frozen=True)
class Episodes:
    """What an episodes folder holds: its feature set, the episodes' facts (by key), their rows
    (one table) and a content hash over the files."""

    location: str
    feature_set: str
    facts: dict[str, dict[str, Any]]
    rows: pa.Table
    content_hash: str


def is_episodes(location: str) -> bool:
    """Whether ``location`` holds an episodes folder (its manifest says so; a manifest that is
    not JSON is left to the reader of what it claims to be)."""
    fs, root = resolve(location)
    try:
        manifest = read_json(fs, join(root, MANIFEST))
    except ValueError:
        return False
    return bool(manifest) and manifest.get("format") == EPISODES_FORMAT  # type: ignore[union-attr]


def _manifest(location: str, feature_set: str) -> None:
    fs, root = resolve(location)
    manifest = read_json(fs, join(root, MANIFEST))
    if manifest is None:
        atomic_write_bytes(
            fs, join(root, MANIFEST), dumps({"format": EPISODES_FORMAT, "feature_set": feature_set})
        )
        return
    if manifest.get("format") != EPISODES_FORMAT:
        raise InputError(f"{location} is not an episodes folder ({manifest.get('format')!r})")
    if manifest.get("feature_set") != feature_set:
        raise InputError(
            f"{location} holds {manifest.get('feature_set')!r} features, not {feature_set!r}"
        )


def has_episode(location: str, key: str) -> bool:
    """Whether the episode ``key`` is complete in ``location``."""
    fs, root = resolve(location)
    return bool(fs.exists(join(root, FACTS_DIR, f"{key}.json")))


def write_episode(
    location: str, key: str, feature_set: str, facts: Mapping[str, Any], rows: pa.Table
) -> None:
    """Add one episode (its rows, then its facts) to ``location``, made when missing. InputError
    when the folder holds another feature set or is not an episodes folder."""
    if rows.num_rows == 0:
        raise InputError(f"episode {key} has no rows")
    _manifest(location, feature_set)
    fs, root = resolve(location)
    write_table_atomic(fs, join(root, FEATURES_DIR, f"{key}.parquet"), rows)
    body = json.dumps({**facts, "rows": rows.num_rows}, sort_keys=True).encode()
    atomic_write_bytes(fs, join(root, FACTS_DIR, f"{key}.json"), body)


def read_episodes(location: str) -> Episodes:
    """Every complete episode of ``location``; InputError when it is not an episodes folder or
    holds none."""
    fs, root = resolve(location)
    manifest = read_json(fs, join(root, MANIFEST))
    if manifest is None or manifest.get("format") != EPISODES_FORMAT:
        raise InputError(f"{location} is not an episodes folder (no {EPISODES_FORMAT} manifest)")
    facts: dict[str, dict[str, Any]] = {}
    tables, files = [], {}
    for name in list_names(fs, join(root, FACTS_DIR)):
        if not name.endswith(".json"):
            continue  # a temporary file of a write under way
        key = name.removesuffix(".json")
        data = join(root, FEATURES_DIR, f"{key}.parquet")
        facts[key] = read_json(fs, join(root, FACTS_DIR, name)) or {}
        tables.append(read_table(fs, data))
        files[f"{FEATURES_DIR}/{key}.parquet"] = sha256(fs, data)
        files[f"{FACTS_DIR}/{name}"] = sha256(fs, join(root, FACTS_DIR, name))
    if not tables:
        raise InputError(f"{location} holds no episodes yet")
    return Episodes(
        location, str(manifest["feature_set"]), facts, pa.concat_tables(tables), content_hash(files)
    )
