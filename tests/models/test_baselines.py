"""The baselines' automatic thresholds."""

from __future__ import annotations

from embercast.models.baselines import CO2Threshold, HotspotThreshold
from helpers import table


def test_auto_thresholds_stay_above_quiet_rows() -> None:
    X, y, _ = table()
    det = CO2Threshold().fit(X, y)
    quiet = X[y == 0]
    assert (quiet.gas_val >= det.level_ppm_).mean() <= 0.01
    assert HotspotThreshold().fit(X, y).max_c_ >= 60.0
