"""SCD41 sensor model: from the air at the sensor to CO2, temperature and humidity readings.

Layers: per-device error drawn once (:class:`SCD41Device`), pure functions for the sensor's
first-order response (:func:`first_order_lag`) and its automatic self-calibration
(:func:`self_calibration_offset`), and :func:`measure`, which composes them over a scenario.
Sensor faults (dropouts, stuck values) are applied by the scenario runner, not here.

References
----------
.. [1] Sensirion AG, "Datasheet SCD4x: Miniaturized CO2 and Humidity Sensor".
.. [2] Sensirion AG, "SCD4x automatic self-calibration (ASC)" application note.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

from embercast.errors import InputError
from embercast.sensors.datasheets import SCD41, SCD41Spec

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class SCD41Device:
    """Per-device error of one SCD41, drawn once by :func:`sample_scd41_device`.

    A reading of true CO2 ``c`` is ``(1 + co2_gain_error) * c + co2_offset_ppm`` before noise.
    """

    co2_offset_ppm: float
    """CO2 offset [ppm]."""
    co2_gain_error: float
    """CO2 relative gain error [fraction]."""
    temperature_offset_c: float
    """Temperature offset [°C]."""
    humidity_offset_pct: float
    """Relative humidity offset [%RH]."""


def sample_scd41_device(rng: np.random.Generator, spec: SCD41Spec = SCD41) -> SCD41Device:
    """Draw the error of one device within the datasheet accuracy class of ``spec``.

    Each error is normal with the class limit as 2 sigma, clipped to the limit: CO2 offset
    ±40 ppm and gain ±5 % (so the error stays within ±(40 ppm + 5 % of reading)), temperature
    ±0.8 °C, relative humidity ±6 %RH.

    Examples
    --------
    >>> dev = sample_scd41_device(np.random.default_rng(0))
    >>> abs(dev.co2_offset_ppm) <= 40.0 and abs(dev.co2_gain_error) <= 0.05
    True
    """

    def draw(limit: float) -> float:
        return float(np.clip(rng.normal(0.0, limit / 2.0), -limit, limit))

    return SCD41Device(
        co2_offset_ppm=draw(spec.co2_accuracy_ppm),
        co2_gain_error=draw(spec.co2_accuracy_rel),
        temperature_offset_c=draw(spec.temperature_accuracy_c),
        humidity_offset_pct=draw(spec.humidity_accuracy_pct),
    )


def first_order_lag(
    x: npt.ArrayLike, dt_s: float, tau_s: float, x0: float | None = None
) -> FloatArray:
    """Response of a first-order sensor to a regularly sampled input.

    Parameters
    ----------
    x : array_like, 1-D
        Input (e.g. CO2 [ppm] or temperature [°C]) at times ``k * dt_s``. NaN propagates.
    dt_s : float
        Sample spacing [s], > 0.
    tau_s : float
        Time constant, the 63 % step-response time [s], >= 0 (0: no lag).
    x0 : float, optional
        Output at the first sample, in the unit of ``x``; default ``x[0]`` (sensor at rest).

    Returns
    -------
    numpy.ndarray
        Output ``y``, same length as ``x``, in the unit of ``x``.

    Notes
    -----
    Exact discretisation of :math:`\\tau \\, dy/dt = x - y` for an input held over each step:

    .. math:: y_0 = x_0, \\quad y_k = y_{k-1} + (1 - e^{-\\Delta t / \\tau}) (x_k - y_{k-1})

    so a unit step reaches :math:`1 - e^{-1} = 63.2 \\%` after ``tau_s`` [1]_.

    Examples
    --------
    >>> y = first_order_lag(np.ones(121), dt_s=1.0, tau_s=60.0, x0=0.0)
    >>> round(float(y[60]), 4), round(float(y[120]), 4)
    (0.6321, 0.8647)
    """
    xa = np.asarray(x, dtype=np.float64)
    if xa.ndim != 1:
        raise InputError(f"x must be 1-D, got shape {xa.shape}")
    if not dt_s > 0:
        raise InputError(f"dt_s must be > 0, got {dt_s}")
    if not tau_s >= 0:
        raise InputError(f"tau_s must be >= 0, got {tau_s}")
    y = np.empty_like(xa)
    if xa.size == 0:
        return y
    y0 = float(xa[0]) if x0 is None else float(x0)
    alpha = 1.0 if tau_s == 0 else -math.expm1(-dt_s / tau_s)
    y[0] = y0
    if xa.size > 1:
        out, _ = lfilter([alpha], [1.0, alpha - 1.0], xa[1:], zi=[(1.0 - alpha) * y0])
        y[1:] = out
    return y


def self_calibration_offset(
    t_s: npt.ArrayLike,
    co2_ppm: npt.ArrayLike,
    *,
    initial_s: float,
    period_s: float,
    target_ppm: float = 400.0,
) -> FloatArray:
    """Offset that automatic self-calibration (ASC) adds to each CO2 reading [ppm].

    Corrections happen at ``initial_s + j * period_s`` (j = 0, 1, ...) from power-on. Each one
    assumes that the lowest reading since the previous correction was fresh air at
    ``target_ppm``, and sets the offset to ``target_ppm - min(readings)`` for the readings after
    it. The device does this after 44 h, then every 156 h (:func:`next_self_calibration_s` finds
    where a scenario falls in that schedule); the lowest reading of the period is taken over the
    readings given. Simplification: the device's internal filtering and correction limits are
    not modelled [2]_.

    Parameters
    ----------
    t_s : array_like
        Increasing reading times from power-on [s].
    co2_ppm : array_like
        Readings before self-calibration, NaN for missing [ppm].
    initial_s, period_s : float
        Time of the first correction and time between corrections [s], > 0.
    target_ppm : float, default 400
        CO2 assumed for the lowest reading of a period [ppm].

    Examples
    --------
    >>> t = np.arange(1.0, 7.0)
    >>> self_calibration_offset(t, [900, 800, 700, 650, 600, 600], initial_s=2, period_s=2)
    array([   0.,    0., -400., -400., -250., -250.])
    """
    t = np.asarray(t_s, dtype=np.float64)
    c = np.asarray(co2_ppm, dtype=np.float64)
    if not (initial_s > 0 and period_s > 0):
        raise InputError(f"initial_s and period_s must be > 0, got {initial_s}, {period_s}")
    out = np.zeros_like(c)
    lo, when = 0, initial_s
    while t.size and when < t[-1]:
        hi = int(np.searchsorted(t, when, side="right"))
        lowest = np.fmin.reduce(c[lo:hi]) if hi > lo else np.nan
        if not np.isnan(lowest):
            out[hi:] = target_ppm - lowest
        lo, when = hi, when + period_s
    return out


def next_self_calibration_s(uptime_s: float, spec: SCD41Spec = SCD41) -> float:
    """Time from now to the device's next self-calibration correction [s], for a device that
    has been powered for ``uptime_s`` [s]: corrections come ``asc_initial_period_s`` (44 h)
    after power-on, then every ``asc_standard_period_s`` (156 h).

    Examples
    --------
    >>> next_self_calibration_s(40 * 3600.0) / 3600, next_self_calibration_s(50 * 3600.0) / 3600
    (4.0, 150.0)
    >>> next_self_calibration_s(44 * 3600.0) / 3600
    156.0
    """
    if uptime_s < 0:
        raise InputError(f"uptime_s must be >= 0, got {uptime_s}")
    first, period = spec.asc_initial_period_s, spec.asc_standard_period_s
    if uptime_s < first:
        return first - uptime_s
    done = math.floor((uptime_s - first) / period) + 1
    return first + done * period - uptime_s


@dataclass(frozen=True, kw_only=True, eq=False)
class SCD41Readings:
    """Readings of one SCD41 over a scenario, one element per reading."""

    t_s: FloatArray
    """Reading times from scenario start [s]."""
    co2_ppm: FloatArray
    """CO2 [ppm], 0-40,000."""
    temperature_c: FloatArray
    """Temperature [°C]."""
    humidity_pct: FloatArray
    """Relative humidity [%RH], 0-100."""


def measure(
    truth_t_s: npt.ArrayLike,
    co2_ppm: npt.ArrayLike,
    temperature_c: npt.ArrayLike,
    rh_pct: npt.ArrayLike,
    device: SCD41Device,
    *,
    rng: np.random.Generator,
    period_s: float = 5.0,
    asc: bool = False,
    asc_initial_s: float | None = None,
    asc_period_s: float | None = None,
    spec: SCD41Spec = SCD41,
) -> SCD41Readings:
    """Readings of an SCD41 exposed to the given air, in periodic measurement mode.

    The sensor is powered on at ``truth_t_s[0]`` (scenario start, 0) at rest with the air, and
    gives its first reading one period later, then every ``period_s`` up to the last truth time.
    Each channel goes through its first-order lag (τ63 60 s CO2, 120 s temperature, 90 s RH)
    on the truth grid, is sampled at the reading times (linear interpolation), gets the device
    error and repeatability noise (10 ppm, 0.1 °C, 0.4 %RH as standard deviations), optional
    self-calibration (CO2), quantisation (1 ppm, 0.01 °C, 0.01 %RH) and the output clips (CO2
    0-40,000 ppm, temperature -45-130 °C, RH 0-100 %RH).

    Parameters
    ----------
    truth_t_s : array_like
        Regular time grid of the truth, normally 0, 1, 2, ... [s].
    co2_ppm, temperature_c, rh_pct : array_like
        Air at the sensor on that grid: CO2 [ppm], temperature [°C], relative humidity [%RH].
    device : SCD41Device
        Per-device error.
    rng : numpy.random.Generator
        Source of the reading noise.
    period_s : float, default 5.0
        Time between readings [s]: 5 periodic, 30 low power.
    asc : bool, default False
        Apply automatic self-calibration (:func:`self_calibration_offset`).
    asc_initial_s, asc_period_s : float, optional
        First correction time and time between corrections [s]; default 44 h and 156 h.
    spec : SCD41Spec, default SCD41
        Datasheet facts.

    Returns
    -------
    SCD41Readings

    Examples
    --------
    >>> t = np.arange(0.0, 61.0)
    >>> dev = SCD41Device(co2_offset_ppm=0, co2_gain_error=0, temperature_offset_c=0,
    ...                   humidity_offset_pct=0)
    >>> r = measure(t, np.full(61, 100_000.0), np.full(61, 21.0), np.full(61, 40.0), dev,
    ...             rng=np.random.default_rng(0))
    >>> r.t_s[:3], float(r.co2_ppm.max())
    (array([ 5., 10., 15.]), 40000.0)
    """
    t = np.asarray(truth_t_s, dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise InputError(f"truth_t_s must be a non-empty 1-D array, got shape {t.shape}")
    if not period_s > 0:
        raise InputError(f"period_s must be > 0, got {period_s}")
    dt = float(t[1] - t[0]) if t.size > 1 else 1.0
    if t.size > 1 and not np.allclose(np.diff(t), dt):
        raise InputError("truth_t_s must be a regular grid")
    n_read = math.floor((t[-1] - t[0]) / period_s + 1e-9)
    t_read = t[0] + period_s * np.arange(1, n_read + 1, dtype=np.float64)

    def sensed(x: npt.ArrayLike, tau_s: float, name: str) -> FloatArray:
        xa = np.asarray(x, dtype=np.float64)
        if xa.shape != t.shape:
            raise InputError(f"{name} must have the shape of truth_t_s {t.shape}, got {xa.shape}")
        out: FloatArray = np.interp(t_read, t, first_order_lag(xa, dt, tau_s))
        return out

    co2 = (1.0 + device.co2_gain_error) * sensed(co2_ppm, spec.tau_co2_s, "co2_ppm")
    co2 += device.co2_offset_ppm + spec.co2_repeatability_ppm * rng.standard_normal(n_read)
    temp = sensed(temperature_c, spec.tau_temperature_s, "temperature_c")
    temp += device.temperature_offset_c
    temp += spec.temperature_repeatability_c * rng.standard_normal(n_read)
    rh = sensed(rh_pct, spec.tau_humidity_s, "rh_pct") + device.humidity_offset_pct
    rh += spec.humidity_repeatability_pct * rng.standard_normal(n_read)
    if asc:
        co2 += self_calibration_offset(
            t_read - t[0],
            co2,
            initial_s=spec.asc_initial_period_s if asc_initial_s is None else asc_initial_s,
            period_s=spec.asc_standard_period_s if asc_period_s is None else asc_period_s,
            target_ppm=spec.asc_target_ppm,
        )
    return SCD41Readings(
        t_s=t_read,
        co2_ppm=_quantise(co2, spec.co2_resolution_ppm, spec.co2_min_ppm, spec.co2_max_ppm),
        temperature_c=_quantise(
            temp,
            spec.temperature_resolution_c,
            spec.temperature_output_min_c,
            spec.temperature_output_max_c,
        ),
        humidity_pct=_quantise(rh, spec.humidity_resolution_pct, 0.0, 100.0),
    )


def _quantise(x: FloatArray, step: float, lo: float, hi: float) -> FloatArray:
    """Round to the output resolution ``step`` and clip to ``[lo, hi]`` (same unit as x)."""
    out: FloatArray = np.clip(np.round(x / step) * step, lo, hi)
    return out


def lost_when_overheated(r: SCD41Readings, spec: SCD41Spec = SCD41) -> SCD41Readings:
    """The readings a device gives when it stops reporting once its sensor passes the top of
    the operating range (``operating_max_c``, 60 °C): every channel NaN from the first reading
    above it on (the device reports nothing it cannot vouch for, and a sensor cooked past its
    range is not trusted again within the scenario).

    >>> r = SCD41Readings(t_s=np.array([5.0, 10.0, 15.0]), co2_ppm=np.array([500.0, 900.0, 800.0]),
    ...                   temperature_c=np.array([40.0, 61.0, 55.0]),
    ...                   humidity_pct=np.array([30.0, 20.0, 25.0]))
    >>> lost_when_overheated(r).co2_ppm.tolist()
    [500.0, nan, nan]
    """
    hot = np.flatnonzero(r.temperature_c > spec.operating_max_c)
    if not hot.size:
        return r
    cut = int(hot[0])

    def keep(x: FloatArray) -> FloatArray:
        out = x.copy()
        out[cut:] = np.nan
        return out

    return SCD41Readings(
        t_s=r.t_s,
        co2_ppm=keep(r.co2_ppm),
        temperature_c=keep(r.temperature_c),
        humidity_pct=keep(r.humidity_pct),
    )
