"""The feature-table contract: feature-set names and order, key and label columns, layout.

A feature set directory holds::

    manifest.json              written last: kind "features", feature set and version, the
                               parent dataset's location and content hash, counts, file hashes,
                               content_hash
    features/part-NNNNN.parquet   KEY_COLUMNS, the feature columns in order, FLAG_COLUMNS,
                               LABEL_COLUMNS
"""

from __future__ import annotations

STANDARD18: tuple[str, ...] = (
    "t_mean",
    "t_std",
    "t_max",
    "t_p95",
    "t_hot_area_pct",
    "t_hot_largest_blob_pct",
    "t_grad_mean",
    "t_grad_std",
    "t_diff_mean",
    "t_diff_std",
    "flow_mag_mean",
    "flow_mag_std",
    "tproxy_val",
    "tproxy_delta",
    "tproxy_vel",
    "gas_val",
    "gas_delta",
    "gas_vel",
)
"""The 18 standardized features, names and order of DESIGN 4.2 (feature set ``standard18`` v1)."""

THERMAL_FEATURES: frozenset[str] = frozenset(STANDARD18[:15])
"""Features computed from the thermal camera (NaN when the camera is missing)."""

KEY_COLUMNS: tuple[str, ...] = ("scenario_id", "device_id", "t_s")
"""Row keys of a feature table."""
FLAG_COLUMNS: tuple[str, ...] = ("thermal_missing", "thermal_status")
"""``thermal_missing`` (bool) and why (``ok``, ``no_frame``, ``stale``, ``ffc``, ``bad_frame``)."""
LABEL_COLUMNS: tuple[str, ...] = ("fire", "phase", "scenario_class", "split_group")
"""Labels carried beside the features (split_group from the scenario, for honest splits)."""
