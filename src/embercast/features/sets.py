"""Feature sets: which extractors, in which order, make a feature row.

``standard18`` is DESIGN 4.2 exactly (its names and order are the model interface);
``extended`` adds SCD41 temperature and humidity with their slopes, the water-to-CO2 ratio of
what adds them to the air, longer windows, background-subtracted new hot objects, hot-blob
count, growth of the hot area over 30 s to 30 min, hot-pixel flicker, and a
thermal-availability flag.
"""

from __future__ import annotations

from collections.abc import Callable

from embercast.errors import InputError
from embercast.features.background import NewHotObject
from embercast.features.base import NAN, Extractor, RowContext
from embercast.features.blobs import HotBlobs, HotFlicker, ThermalOk
from embercast.features.flow import OpticalFlow
from embercast.features.frame_diff import FrameDiff
from embercast.features.frame_stats import FrameStats
from embercast.features.gas import (
    Rise,
    Slope,
    SlopeAgainst,
    Trend,
    co2,
    frame_max,
    scd41_humidity,
    scd41_temperature,
    scd41_water,
)
from embercast.features.gradient import Gradient
from embercast.features.hot_area import HotArea, hot_area_pct
from embercast.features.tproxy import TProxy, hotspot_mean

CO2_SPAN_PPM = 100.0
"""Least CO2 change [ppm] over a window for its water-to-CO2 ratio to mean something: twice
the SCD41's 50-ppm accuracy band, ten times its repeatability."""


def hotspot(ctx: RowContext) -> float:
    """:func:`hotspot_mean` of F [°C] (NaN without F)."""
    return NAN if ctx.frame is None else hotspot_mean(ctx.frame.celsius)


def standard18() -> list[Extractor]:
    """The extractors of ``standard18`` v1, in DESIGN 4.2 order."""
    return [FrameStats(), HotArea(), Gradient(), FrameDiff(), OpticalFlow(), TProxy(),
            Trend("gas", co2, 60.0)]  # fmt: skip


def extended() -> list[Extractor]:
    """``standard18`` followed by the extended extractors (``extended`` v5)."""
    return [
        *standard18(),
        Trend("scd_temp", scd41_temperature, 60.0),
        Trend("scd_rh", scd41_humidity, 60.0),
        Slope("gas_vel_300", co2, 300.0),
        Rise("gas_rise_600", co2, 600.0),
        Rise("gas_rise_1800", co2, 1800.0),
        Rise("scd_temp_rise_600", scd41_temperature, 600.0),
        SlopeAgainst("h2o_per_co2_600", scd41_water, co2, 600.0, min_span=CO2_SPAN_PPM),
        SlopeAgainst("h2o_per_co2_1800", scd41_water, co2, 1800.0, min_span=CO2_SPAN_PPM),
        Slope("tproxy_vel_120", hotspot, 120.0),
        Slope("t_max_vel_60", frame_max, 60.0),
        Slope("t_max_vel_600", frame_max, 600.0),
        Slope("hot_area_vel_600", hot_area_pct, 600.0),
        Slope("hot_area_vel_1800", hot_area_pct, 1800.0),
        NewHotObject(),
        HotBlobs(),
        HotFlicker(),
        ThermalOk(),
    ]


FEATURE_SETS: dict[str, Callable[[], list[Extractor]]] = {
    "standard18": standard18,
    "extended": extended,
}
"""Feature-set name -> a function that makes fresh extractors (one set per device)."""
FEATURE_VERSIONS: dict[str, int] = {"standard18": 1, "extended": 5}
"""Version of each feature set; bump it when any of its values would change."""


def get_feature_set(name: str) -> Callable[[], list[Extractor]]:
    """The extractor factory of feature set ``name``; ValueError naming FEATURE_SETS if unknown."""
    try:
        return FEATURE_SETS[name]
    except KeyError:
        raise InputError(
            f"invalid feature set {name!r} for FEATURE_SETS; choose one of {sorted(FEATURE_SETS)}"
        ) from None


def feature_names(name: str) -> tuple[str, ...]:
    """Feature columns of feature set ``name``, in order."""
    return tuple(n for e in get_feature_set(name)() for n in e.names)


SCD41_CHANNELS = (co2, scd41_temperature, scd41_humidity, scd41_water)
"""Channels read from the SCD41 alone (CO2, temperature, humidity and the water vapour they
give)."""


def is_scd41(extractor: Extractor) -> bool:
    """Whether ``extractor`` reads the SCD41 reading alone (every channel it follows is one of
    :data:`SCD41_CHANNELS`): its values need no frame, so the service can compute them from the
    readings it receives. Any other extractor (one that reads F or P, or a channel not known
    here) is thermal: a device that sends edge features computes it
    (:class:`~embercast.features.edge.EdgeThermal`).

    >>> [is_scd41(e) for e in standard18()]
    [False, False, False, False, False, False, True]
    """
    channels = getattr(extractor, "channels", (getattr(extractor, "channel", None),))
    return all(c in SCD41_CHANNELS for c in channels)


def scd41_features(name: str) -> tuple[str, ...]:
    """Feature columns of feature set ``name`` computed from the SCD41 alone, in order: what a
    device without a camera (or with it down) still has.

    >>> scd41_features("standard18")
    ('gas_val', 'gas_delta', 'gas_vel')
    """
    return tuple(n for e in get_feature_set(name)() if is_scd41(e) for n in e.names)


SCD41_FEATURES: frozenset[str] = frozenset(n for s in FEATURE_SETS for n in scd41_features(s))
"""Every SCD41-only feature column of any feature set."""
SCD41_STEPS: frozenset[str] = frozenset(n for n in SCD41_FEATURES if n.endswith("_delta"))
"""The SCD41's changes from one reading to the next (CO2 [ppm], temperature [K], humidity
[%RH]). At its 5-s period much of one is noise: two readings' CO2 differ by 14 ppm (one
standard deviation; repeatability 10 ppm each) where a growing fire adds tens of ppm, so a
judgement from the SCD41 alone that reads them jumps from reading to reading."""


def camera_less_features(name: str) -> tuple[str, ...]:
    """Feature columns of feature set ``name`` a judgement from the SCD41 alone reads: its
    :func:`scd41_features` but the one-reading changes (:data:`SCD41_STEPS`).

    >>> camera_less_features("standard18")
    ('gas_val', 'gas_vel')
    """
    return tuple(n for n in scd41_features(name) if n not in SCD41_STEPS)


RISE_FEATURES: frozenset[str] = frozenset(
    {"gas_vel", "gas_vel_300", "gas_rise_600", "gas_rise_1800", "scd_temp_vel", "scd_temp_rise_600"}
)
"""The SCD41's rises over a minute or more (CO2 [ppm/s or ppm], temperature [K/s or K]): a fire
grows them, and a model constrained to be monotone in them never gives a stronger rise a lower
probability."""
