"""Lepton 3.5 sensor model: from a scene's apparent temperature to radiometric frames.

Three layers: per-device state drawn once (:class:`LeptonDevice`), pure helpers for the frame clock
and the flat-field-correction (FFC) schedule, and a streaming :class:`LeptonCamera` that holds the
gain mode between frames. The scenario runner composes them: for frame ``k`` it asks
:func:`ffc_source_index` which scene the output shows, renders that scene at
:func:`frame_time` of the source index and passes it to :meth:`LeptonCamera.observe`.

Frames are uint16 centikelvin (TLinear, 0.01 K per count), row-major (120, 160). The format tops
out at 65535 cK = 382.2 °C, below the low-gain ceiling, so stored frames saturate there.

References
----------
.. [1] Teledyne FLIR, "FLIR Lepton 3.5 Long Wave Infrared (LWIR) Datasheet".
.. [2] Teledyne FLIR, "FLIR Lepton Engineering Datasheet" (TLinear, gain modes, FFC).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from embercast.errors import InputError
from embercast.sensors.datasheets import LEPTON35, LeptonSpec

Gain = Literal["high", "low"]
_ZERO_C_CK = 27315.0  # 0 °C in centikelvin
_EPS = 1e-9  # tolerance of the frame clock against float rounding [frames]


@dataclass(frozen=True, kw_only=True, eq=False)
class LeptonDevice:
    """Per-device state of one Lepton, drawn once by :func:`sample_lepton_device`."""

    bias_high_k: float
    """Radiometric bias in high gain, within the accuracy class [K]."""
    bias_low_k: float
    """Radiometric bias in low gain, within the accuracy class [K]."""
    fpn_k: npt.NDArray[np.float32]
    """Fixed-pattern noise, zero-mean (height, width) map of pixel and column offsets [K]."""
    dead_rows: npt.NDArray[np.intp]
    """Rows of the dead pixels [px]."""
    dead_cols: npt.NDArray[np.intp]
    """Columns of the dead pixels [px]."""
    dead_counts: npt.NDArray[np.uint16]
    """Raw value each dead pixel is stuck at [cK]."""
    ffc_interval_s: float
    """Time between flat-field corrections of this device [s]."""
    ffc_phase_s: float
    """Start time of the first flat-field correction [s]."""


def sample_lepton_device(rng: np.random.Generator, spec: LeptonSpec = LEPTON35) -> LeptonDevice:
    """Draw the state of one device within the datasheet class of ``spec``.

    Biases are normal with sigma 0.3 x accuracy (1.5 K high, 3 K low), clipped to the accuracy.
    The fixed pattern is a per-pixel part (sigma 0.05-0.1 K) plus a column part (0.02-0.05 K),
    made zero-mean so the bias alone sets the frame-mean error. The camera's factory bad-pixel
    replacement hides most defects: 70 % of devices have no dead pixel, the others one to three,
    stuck at the counts of a temperature within the high-gain range. The FFC interval is
    triangular between ``ffc_interval_min_s``, ``ffc_interval_s`` (mode) and
    ``ffc_interval_max_s``; the first FFC starts after at least one freeze duration.

    Examples
    --------
    >>> dev = sample_lepton_device(np.random.default_rng(7))
    >>> dev.fpn_k.shape, abs(dev.bias_high_k) <= 5.0, 150.0 <= dev.ffc_interval_s <= 300.0
    ((120, 160), True, True)
    """
    h, w = spec.height_px, spec.width_px

    def bias(limit: float) -> float:
        return float(np.clip(rng.normal(0.0, 0.3 * limit), -limit, limit))

    bias_high, bias_low = bias(spec.accuracy_high_k), bias(spec.accuracy_low_k)
    pixel_sigma = rng.uniform(0.05, 0.1)
    column_sigma = rng.uniform(0.02, 0.05)
    fpn = pixel_sigma * rng.standard_normal((h, w)) + column_sigma * rng.standard_normal(w)
    fpn -= fpn.mean()
    n_dead = int(rng.choice(4, p=[0.7, 0.15, 0.1, 0.05]))
    flat = rng.choice(h * w, size=n_dead, replace=False)
    stuck_c = rng.uniform(spec.high_gain_min_c, spec.high_gain_max_c, size=n_dead)
    interval = float(
        rng.triangular(spec.ffc_interval_min_s, spec.ffc_interval_s, spec.ffc_interval_max_s)
    )
    return LeptonDevice(
        bias_high_k=bias_high,
        bias_low_k=bias_low,
        fpn_k=fpn.astype(np.float32),
        dead_rows=(flat // w).astype(np.intp),
        dead_cols=(flat % w).astype(np.intp),
        dead_counts=np.round(stuck_c * 100.0 + _ZERO_C_CK).astype(np.uint16),
        ffc_interval_s=interval,
        ffc_phase_s=float(rng.uniform(spec.ffc_freeze_s, interval)),
    )


_CLOCK_EPS = 1e-5
"""Tolerance of the frame clock [frames]: frame times are rounded to the microsecond."""


def frame_time(index: int, spec: LeptonSpec = LEPTON35) -> float:
    """Time of frame ``index`` on the frame clock, ``index / frame_rate`` rounded to the
    microsecond [s], so a frame that falls on a reading's time has exactly that time.

    Examples
    --------
    >>> frame_time(87), frame_time(261)
    (10.0, 30.0)
    """
    return round(index / spec.frame_rate_hz, 6)


def frame_index_at_or_before(t_s: float, spec: LeptonSpec = LEPTON35) -> int:
    """Index of the latest frame at or before ``t_s`` [s]; -1 before the first frame.

    Frame ``k`` is at ``k / frame_rate``; a time that equals a frame time up to float rounding
    counts as that frame.

    Examples
    --------
    >>> frame_index_at_or_before(10.0), frame_index_at_or_before(frame_time(5))
    (87, 5)
    >>> frame_index_at_or_before(-0.01)
    -1
    """
    return math.floor(t_s * spec.frame_rate_hz + _CLOCK_EPS)


def ffc_source_index(
    device: LeptonDevice, frame_index: int, spec: LeptonSpec = LEPTON35
) -> tuple[int, bool]:
    """Which frame's scene the output shows at ``frame_index``, and whether it is frozen.

    Flat-field corrections start at ``ffc_phase_s + n * ffc_interval_s`` (n = 0, 1, ...) and
    last ``ffc_freeze_s``; frames that fall in ``[start, start + freeze)`` repeat the last frame
    before ``start``. Other frames show their own scene.

    Returns
    -------
    source : int
        Index of the frame whose scene the output shows.
    frozen : bool
        True during a flat-field correction.

    Examples
    --------
    >>> dev = sample_lepton_device(np.random.default_rng(0))
    >>> round(dev.ffc_phase_s, 1), round(dev.ffc_interval_s, 1)
    (146.8, 194.3)
    >>> [ffc_source_index(dev, k) for k in (1277, 1278, 1285, 1286)]
    [(1277, False), (1277, True), (1277, True), (1286, False)]
    """
    f = spec.frame_rate_hz
    start0 = device.ffc_phase_s * f  # in frames
    if frame_index < start0 - _EPS:
        return frame_index, False
    interval = device.ffc_interval_s * f
    start = start0 + math.floor((frame_index - start0 + _EPS) / interval) * interval
    if frame_index - start < spec.ffc_freeze_s * f - _EPS:
        return max(math.ceil(start - _EPS) - 1, 0), True
    return frame_index, False


@dataclass(frozen=True, kw_only=True, eq=False)
class LeptonFrame:
    """One output frame of a :class:`LeptonCamera`."""

    counts: npt.NDArray[np.uint16]
    """Radiometric TLinear output, (height, width) [cK]."""
    gain: Gain
    """Gain mode the frame was taken in."""
    frame_index: int
    """Index on the frame clock of the scene the frame shows."""


def counts_to_celsius(counts: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Convert TLinear centikelvin counts to temperature [°C], ``counts / 100 - 273.15``.

    Examples
    --------
    >>> counts_to_celsius(np.array([27315, 29815], dtype=np.uint16))
    array([ 0., 25.], dtype=float32)
    """
    return (np.asarray(counts, dtype=np.float32) - np.float32(_ZERO_C_CK)) / np.float32(100.0)


@dataclass(frozen=True, slots=True)
class _GainMode:
    """Precomputed constants of one gain mode, in centikelvin."""

    offset_ck: npt.NDArray[np.float32]  # 27315 + 100 x (bias + fixed pattern)
    bias_k: np.float32  # the device's error at and below the crossover
    crossover_c: np.float32  # scene temperature above which the error grows with it [°C]
    sigma_ck: np.float32
    step_ck: float
    lo_ck: float
    hi_ck: float


def _gain_mode(device: LeptonDevice, spec: LeptonSpec, gain: Gain) -> _GainMode:
    if gain == "high":
        bias, sigma, res = device.bias_high_k, spec.noise_sigma_high_k, spec.resolution_high_k
        lo_c, hi_c = spec.high_gain_min_c, spec.high_gain_max_c
        crossover = spec.accuracy_high_k / spec.accuracy_rel_high
    else:
        bias, sigma, res = device.bias_low_k, spec.noise_sigma_low_k, spec.resolution_low_k
        lo_c, hi_c = spec.low_gain_min_c, spec.low_gain_max_c
        crossover = spec.accuracy_low_k / spec.accuracy_rel_low
    step = round(res * 100.0)
    lo = math.ceil((lo_c * 100.0 + _ZERO_C_CK) / step) * step
    hi = math.floor(min(hi_c * 100.0 + _ZERO_C_CK, 65535.0) / step) * step
    offset = (device.fpn_k + np.float32(bias)) * np.float32(100.0) + np.float32(_ZERO_C_CK)
    return _GainMode(
        offset.astype(np.float32),
        np.float32(bias),
        np.float32(crossover),
        np.float32(sigma * 100.0),
        step,
        lo,
        hi,
    )


class LeptonCamera:
    """Streaming Lepton: turns apparent-temperature scenes into radiometric frames.

    Per frame: gain switching with hysteresis, device bias and fixed pattern, temporal noise,
    quantisation to the gain's TLinear resolution, saturation at the gain's range (and at the
    65535 cK ceiling of the format), then dead pixels. The gain decision looks at the noiseless
    signal (scene + bias + fixed pattern) in the current gain: high -> low when at least
    ``gain_min_pixels`` pixels exceed ``gain_high_to_low_c``, low -> high when fewer than that
    exceed ``gain_low_to_high_c``.

    Temporal noise is drawn from ``np.random.default_rng([seed, frame_index])``, so observing the
    same scene at the same frame index gives the identical frame (this is how a frozen FFC frame
    repeats). Give each device its own ``seed``.

    Parameters
    ----------
    device : LeptonDevice
        Per-device state.
    spec : LeptonSpec, default LEPTON35
        Datasheet facts.
    seed : int, default 0
        Non-negative seed of the temporal noise.

    Examples
    --------
    >>> cam = LeptonCamera(sample_lepton_device(np.random.default_rng(1)), seed=3)
    >>> frame = cam.observe(np.full((120, 160), 25.0, dtype=np.float32), frame_index=0)
    >>> frame.gain, frame.counts.dtype, frame.counts.shape
    ('high', dtype('uint16'), (120, 160))
    >>> bool(abs(np.median(counts_to_celsius(frame.counts)) - 25.0) < 5.0)
    True
    """

    def __init__(self, device: LeptonDevice, spec: LeptonSpec = LEPTON35, seed: int = 0) -> None:
        if seed < 0:
            raise InputError(f"seed must be non-negative, got {seed}")
        self.device = device
        self.spec = spec
        self.seed = seed
        self._modes: dict[Gain, _GainMode] = {
            "high": _gain_mode(device, spec, "high"),
            "low": _gain_mode(device, spec, "low"),
        }
        self._to_low_ck = np.float32(spec.gain_high_to_low_c * 100.0 + _ZERO_C_CK)
        self._to_high_ck = np.float32(spec.gain_low_to_high_c * 100.0 + _ZERO_C_CK)
        self._gain: Gain = "high"
        self._last_index = -1

    @staticmethod
    def _signal(scene: npt.NDArray[np.float32], mode: _GainMode) -> npt.NDArray[np.float32]:
        """Noiseless output of ``scene`` [°C] in a gain mode [cK]: the device's error is its bias
        up to the accuracy's crossover (100 °C: ±5 °C or ±5 %, whichever is larger) and grows in
        proportion to the scene temperature above it."""
        x = scene * np.float32(100.0)
        x += mode.offset_ck
        if mode.bias_k != 0.0:
            hot = scene > mode.crossover_c
            if hot.any():
                excess = (scene[hot] - mode.crossover_c) / mode.crossover_c
                x[hot] += np.float32(100.0) * mode.bias_k * excess
        return x

    @property
    def gain(self) -> Gain:
        """Current gain mode (the mode of the last frame; ``"high"`` at power-on)."""
        return self._gain

    def observe(self, apparent_c: npt.ArrayLike, frame_index: int) -> LeptonFrame:
        """Take the frame of a scene.

        Parameters
        ----------
        apparent_c : array_like, shape (height, width)
            Finite apparent (brightness) temperature of the scene at the frame's time [°C].
        frame_index : int
            Non-negative index on the frame clock; must not decrease between calls.

        Returns
        -------
        LeptonFrame
        """
        if frame_index < 0:
            raise InputError(f"frame_index must be non-negative, got {frame_index}")
        if frame_index < self._last_index:
            raise InputError(
                f"frames must be observed in increasing frame_index order: got {frame_index} "
                f"after {self._last_index}"
            )
        scene = np.asarray(apparent_c, dtype=np.float32)
        shape = (self.spec.height_px, self.spec.width_px)
        if scene.shape != shape:
            raise InputError(f"apparent_c must have shape {shape}, got {scene.shape}")
        self._last_index = frame_index
        mode = self._modes[self._gain]
        x = self._signal(scene, mode)
        n_min = self.spec.gain_min_pixels
        if self._gain == "high" and np.count_nonzero(x > self._to_low_ck) >= n_min:
            self._gain = "low"
        elif self._gain == "low" and np.count_nonzero(x > self._to_high_ck) < n_min:
            self._gain = "high"
        if self._modes[self._gain] is not mode:
            mode = self._modes[self._gain]
            x = self._signal(scene, mode)
        noise = np.random.default_rng([self.seed, frame_index]).standard_normal(
            shape, dtype=np.float32
        )
        noise *= mode.sigma_ck
        x += noise
        if mode.step_ck != 1:
            x /= np.float32(mode.step_ck)
            np.rint(x, out=x)
            x *= np.float32(mode.step_ck)
        else:
            np.rint(x, out=x)
        np.clip(x, mode.lo_ck, mode.hi_ck, out=x)
        counts = x.astype(np.uint16)
        counts[self.device.dead_rows, self.device.dead_cols] = self.device.dead_counts
        return LeptonFrame(counts=counts, gain=self._gain, frame_index=frame_index)
