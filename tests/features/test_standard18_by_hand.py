"""standard18 on hand-made frames: every feature against a value worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter, shift

from embercast.dataset.feature_table import STANDARD18
from embercast.features.base import Reading
from embercast.features.sets import feature_names
from embercast.features.stream import DeviceFeatures

N = 120 * 160
AMB = 20.0


def frame(value: float = AMB) -> np.ndarray:
    return np.full((120, 160), value, np.float32)


def row_for(f: np.ndarray, p: np.ndarray | None = None, t: float = 5.0) -> dict[str, float]:
    """The standard18 row of one reading at t with F at t and P at t - 1 s."""
    dev = DeviceFeatures("standard18")
    if p is not None:
        assert dev.update_frame(t - 1.0, p)
    assert dev.update_frame(t, f)
    values = dev.update_reading(Reading(t, 500.0, 21.0, 40.0))
    assert values is not None
    return dict(zip(dev.names, values, strict=True))


def test_names_and_order_are_the_model_interface() -> None:
    assert feature_names("standard18") == STANDARD18
    assert feature_names("extended")[:18] == STANDARD18
    assert len(set(feature_names("extended"))) == len(feature_names("extended"))


def test_single_hot_pixel() -> None:
    f = frame()
    f[60, 80] = 120.0
    r = row_for(f)
    assert r["t_mean"] == pytest.approx(AMB + 100.0 / N)
    mean = AMB + 100.0 / N
    std = math.sqrt(((120.0 - mean) ** 2 + (N - 1) * (AMB - mean) ** 2) / N)
    assert r["t_std"] == pytest.approx(std, rel=1e-6)
    assert r["t_max"] == 120.0 and r["t_p95"] == AMB
    assert r["t_hot_area_pct"] == pytest.approx(100.0 / N)
    assert r["t_hot_largest_blob_pct"] == pytest.approx(100.0 / N)
    assert r["tproxy_val"] == pytest.approx((120.0 + 8 * AMB) / 9)
    # gradient: the four 4-neighbours see (120 - 20) / 2 = 50 °C/px, the pixel itself 0
    assert r["t_grad_mean"] == pytest.approx(4 * 50.0 / N)
    assert r["tproxy_delta"] == 0.0 and r["tproxy_vel"] == 0.0  # a device's first row
    assert r["gas_val"] == 500.0 and r["gas_delta"] == 0.0 and r["gas_vel"] == 0.0
    assert math.isnan(r["t_diff_mean"]) and math.isnan(r["flow_mag_mean"])  # no P


def test_three_by_three_square() -> None:
    f = frame()
    f[30:33, 40:43] = 60.0
    r = row_for(f)
    assert r["t_hot_area_pct"] == pytest.approx(900.0 / N)
    assert r["t_hot_largest_blob_pct"] == pytest.approx(900.0 / N)
    # the hottest pixel, first in row-major order, is the square's corner (30, 40): its 3x3
    # neighbourhood holds 4 hot pixels and 5 ambient ones
    assert r["tproxy_val"] == pytest.approx((4 * 60.0 + 5 * AMB) / 9)
    f2 = frame()
    f2[30:33, 40:43] = 60.0
    f2[31, 41] = 61.0  # centre hottest: the whole square is its neighbourhood
    assert row_for(f2)["tproxy_val"] == pytest.approx((8 * 60.0 + 61.0) / 9)


def test_two_separate_blobs_and_diagonal_connectivity() -> None:
    f = frame()
    f[10:14, 10:14] = 50.0  # 16 px
    f[80:82, 100:102] = 45.0  # 4 px, separate
    r = row_for(f)
    assert r["t_hot_area_pct"] == pytest.approx(2000.0 / N)
    assert r["t_hot_largest_blob_pct"] == pytest.approx(1600.0 / N)
    g = frame()
    g[50, 50] = g[51, 51] = g[52, 52] = 50.0  # a diagonal line: one 8-connected region
    assert row_for(g)["t_hot_largest_blob_pct"] == pytest.approx(300.0 / N)


def test_threshold_is_strictly_above_40() -> None:
    f = frame()
    f[0:10, 0:10] = 40.0
    assert row_for(f)["t_hot_area_pct"] == 0.0


def test_uniform_shift_between_frames() -> None:
    rng = np.random.default_rng(0)
    p = (AMB + rng.normal(0.0, 0.5, (120, 160))).astype(np.float32)
    r = row_for(p + np.float32(1.5), p)
    assert r["t_diff_mean"] == pytest.approx(1.5, abs=1e-4)
    assert r["t_diff_std"] == pytest.approx(0.0, abs=1e-4)
    assert r["flow_mag_mean"] < 0.05  # a uniform warming is not motion


def textured() -> np.ndarray:
    rng = np.random.default_rng(1)
    img = gaussian_filter(rng.normal(size=(120, 160)), 3.0)
    img = (img - img.min()) / (img.max() - img.min())
    return (10.0 + 100.0 * img).astype(np.float32)


def test_frame_shifted_by_one_pixel_has_unit_flow() -> None:
    p = textured()
    f = shift(p, (0.0, 1.0), order=1, mode="nearest").astype(np.float32)  # one pixel right
    r = row_for(f, p)
    assert 0.8 < r["flow_mag_mean"] < 1.1
    assert r["flow_mag_std"] < 0.3
    still = row_for(p, p)
    assert still["flow_mag_mean"] < 0.01 and still["t_diff_mean"] == 0.0


def test_edges_and_corners() -> None:
    f = frame()
    f[0, 0] = 100.0  # top-left corner: its 3x3 neighbourhood is clipped to 2x2
    r = row_for(f)
    assert r["tproxy_val"] == pytest.approx((100.0 + 3 * AMB) / 4)
    g = frame()
    g[119, 159] = 100.0  # bottom-right corner
    assert row_for(g)["tproxy_val"] == pytest.approx((100.0 + 3 * AMB) / 4)
    # at the border the gradient is one-sided: corner pixel sees 80 in x and in y
    h = frame()
    h[0, 0] = 100.0
    gy, gx = np.gradient(h.astype(np.float64))
    assert row_for(h)["t_grad_mean"] == pytest.approx(float(np.hypot(gx, gy).mean()))
    assert np.hypot(gx, gy)[0, 0] == pytest.approx(math.hypot(80.0, 80.0))


def test_percentile_uses_linear_interpolation() -> None:
    f = np.tile(np.linspace(0.0, 100.0, 160, dtype=np.float32), (120, 1))
    assert row_for(f)["t_p95"] == pytest.approx(float(np.percentile(f, 95)))


def test_row_windows_delta_and_velocity() -> None:
    dev = DeviceFeatures("standard18")
    rows = []
    for k in range(1, 10):
        t = 5.0 * k
        f = frame()
        f[60, 80] = 30.0 + 2.0 * k  # the hot spot warms 2 °C per row (0.4 °C/s)
        dev.update_frame(t, f)
        out = dev.update_reading(Reading(t, 400.0 + 10.0 * k, 21.0, 40.0))
        assert out is not None
        rows.append(dict(zip(dev.names, out, strict=True)))
    spot = [(30.0 + 2.0 * k + 8 * AMB) / 9 for k in range(1, 10)]
    assert rows[3]["tproxy_delta"] == pytest.approx(spot[3] - spot[2])
    assert rows[8]["tproxy_vel"] == pytest.approx(2.0 / 9 / 5.0)  # 30 s window: 6 rows, linear
    assert rows[8]["gas_vel"] == pytest.approx(2.0)  # 10 ppm per 5 s
    assert rows[8]["gas_delta"] == pytest.approx(10.0)
