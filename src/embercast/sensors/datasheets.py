"""Sensor catalogue: datasheet facts of the Lepton 3.5 and the SCD41, as data.

Each sensor is one frozen, keyword-only dataclass whose fields are the numbers of its datasheet
(DESIGN 4.1), with the unit of every field in square brackets. The sensor models in
:mod:`embercast.sensors.lepton` and :mod:`embercast.sensors.scd41` read nothing else, so a
variant of a sensor is a new row (an instance with other numbers), not new code.

References
----------
.. [1] Teledyne FLIR, "FLIR Lepton 3.5 Long Wave Infrared (LWIR) Datasheet".
.. [2] Teledyne FLIR, "FLIR Lepton Engineering Datasheet" (radiometry, TLinear, gain modes, FFC).
.. [3] Sensirion AG, "Datasheet SCD4x: Miniaturized CO2 and Humidity Sensor".
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, slots=True)
class LeptonSpec:
    """Datasheet facts of a radiometric Lepton thermal camera core [1]_, [2]_.

    Temperatures are the radiometric (TLinear) output, i.e. apparent temperatures of a blackbody
    of the same radiance. The camera has two gain modes: high gain (fine, narrow range) and low gain
    (coarse, wide range); it switches between them with hysteresis (see the ``gain_*`` fields).
    """

    width_px: int = 160
    """Columns of a frame [px]."""
    height_px: int = 120
    """Rows of a frame [px]."""
    frame_rate_hz: float = 8.7
    """Frame rate of the output (export-limited, < 9 Hz) [Hz]."""
    hfov_deg: float = 57.0
    """Horizontal field of view [°]."""
    netd_k: float = 0.05
    """Noise-equivalent temperature difference, datasheet upper bound [K]."""
    noise_sigma_high_k: float = 0.04
    """Temporal noise standard deviation per pixel in high gain (below the NETD bound) [K]."""
    noise_sigma_low_k: float = 0.15
    """Temporal noise standard deviation per pixel in low gain (not specified; ~4x high) [K]."""
    accuracy_high_k: float = 5.0
    """Radiometric accuracy in high gain, larger of ±5 °C or ±5 % [K]."""
    accuracy_low_k: float = 10.0
    """Radiometric accuracy in low gain, larger of ±10 °C or ±10 % [K]."""
    accuracy_rel_high: float = 0.05
    """Relative radiometric accuracy in high gain [fraction of the scene temperature in °C]."""
    accuracy_rel_low: float = 0.10
    """Relative radiometric accuracy in low gain [fraction of the scene temperature in °C]."""
    high_gain_min_c: float = -10.0
    """Lower end of the high-gain scene range [°C]."""
    high_gain_max_c: float = 140.0
    """Upper end of the high-gain scene range; output saturates above it [°C]."""
    low_gain_min_c: float = -10.0
    """Lower end of the low-gain scene range [°C]."""
    low_gain_specified_max_c: float = 400.0
    """Upper end of the specified low-gain range [°C]."""
    low_gain_max_c: float = 450.0
    """Output ceiling of low gain; the output saturates above it [°C]."""
    resolution_high_k: float = 0.01
    """TLinear output resolution in high gain [K]."""
    resolution_low_k: float = 0.1
    """TLinear output resolution in low gain [K]."""
    gain_high_to_low_c: float = 140.0
    """Switch high -> low gain when ``gain_min_pixels`` pixels are hotter than this [°C]."""
    gain_low_to_high_c: float = 110.0
    """Switch low -> high gain when fewer than ``gain_min_pixels`` pixels are hotter [°C]."""
    gain_min_pixels: int = 4
    """Pixel count that triggers a gain switch (the firmware uses a population fraction) [px]."""
    ffc_interval_s: float = 180.0
    """Nominal time between automatic flat-field corrections (shutter events) [s]."""
    ffc_interval_min_s: float = 150.0
    """Shortest interval between flat-field corrections of a device (temperature-driven) [s]."""
    ffc_interval_max_s: float = 300.0
    """Longest interval between flat-field corrections of a device [s]."""
    ffc_freeze_s: float = 1.0
    """Duration of a flat-field correction, during which the output repeats one frame [s]."""

    @property
    def focal_length_px(self) -> float:
        """Pinhole focal length, ``(width / 2) / tan(hfov / 2)`` [px] (147.3 for the Lepton 3.5)."""
        return (self.width_px / 2.0) / math.tan(math.radians(self.hfov_deg) / 2.0)

    @property
    def vfov_deg(self) -> float:
        """Vertical field of view, ``2 atan((height / 2) / f)`` [°] (44.3 for the Lepton 3.5)."""
        return math.degrees(2.0 * math.atan((self.height_px / 2.0) / self.focal_length_px))


@dataclass(frozen=True, kw_only=True, slots=True)
class SCD41Spec:
    """Datasheet facts of a photoacoustic CO2, temperature and humidity sensor [3]_.

    Accuracies are the specified class of a new device; the sensor model draws a device error
    within that class. Response times are the 63 % step-response times of a first-order lag.
    """

    period_s: float = 5.0
    """Time between readings in periodic measurement mode [s]."""
    low_power_period_s: float = 30.0
    """Time between readings in low-power periodic measurement mode [s]."""
    co2_min_ppm: float = 0.0
    """Lowest CO2 output [ppm]."""
    co2_max_ppm: float = 40_000.0
    """Highest CO2 output; the output saturates above it [ppm]."""
    co2_specified_min_ppm: float = 400.0
    """Lower end of the range where the CO2 accuracy is specified [ppm]."""
    co2_specified_max_ppm: float = 5_000.0
    """Upper end of the range where the CO2 accuracy is specified [ppm]."""
    co2_accuracy_ppm: float = 40.0
    """Absolute part of the CO2 accuracy, ±(this + ``co2_accuracy_rel`` x reading) [ppm]."""
    co2_accuracy_rel: float = 0.05
    """Relative part of the CO2 accuracy [fraction of reading]."""
    co2_repeatability_ppm: float = 10.0
    """CO2 repeatability, used as the standard deviation of reading noise [ppm]."""
    co2_resolution_ppm: float = 1.0
    """CO2 output resolution [ppm]."""
    tau_co2_s: float = 60.0
    """CO2 response time, 63 % of a step [s]."""
    tau_temperature_s: float = 120.0
    """Temperature response time, 63 % of a step [s]."""
    tau_humidity_s: float = 90.0
    """Relative humidity response time, 63 % of a step [s]."""
    temperature_accuracy_c: float = 0.8
    """Temperature accuracy (15-35 °C) [°C]."""
    temperature_repeatability_c: float = 0.1
    """Temperature repeatability, used as the standard deviation of reading noise [°C]."""
    temperature_resolution_c: float = 0.01
    """Temperature output resolution [°C]."""
    operating_min_c: float = -10.0
    """Lowest temperature of the specified operating range [°C]."""
    operating_max_c: float = 60.0
    """Highest temperature of the specified operating range [°C]."""
    temperature_output_min_c: float = -45.0
    """Lowest temperature the output format represents (-45 + 175 x raw / 65535) [°C]."""
    temperature_output_max_c: float = 130.0
    """Highest temperature the output format represents [°C]."""
    humidity_accuracy_pct: float = 6.0
    """Relative humidity accuracy (15-35 °C, 20-65 %RH) [%RH]."""
    humidity_repeatability_pct: float = 0.4
    """Relative humidity repeatability, used as the standard deviation of reading noise [%RH]."""
    humidity_resolution_pct: float = 0.01
    """Relative humidity output resolution [%RH]."""
    asc_enabled: bool = False
    """Automatic self-calibration; on in the device by default, off by default in our model."""
    asc_target_ppm: float = 400.0
    """CO2 that self-calibration assumes the lowest reading of a period to be [ppm]."""
    asc_initial_period_s: float = 44.0 * 3600.0
    """Time from power-on to the first self-calibration correction [s]."""
    asc_standard_period_s: float = 156.0 * 3600.0
    """Time between later self-calibration corrections [s]."""


LEPTON35 = LeptonSpec()
"""FLIR Lepton 3.5: 160x120 px, 8.7 Hz, 57° HFOV, radiometric TLinear output [1]_."""

SCD41 = SCD41Spec()
"""Sensirion SCD41: CO2 0-40,000 ppm, ±(40 ppm + 5 %), τ63 = 60 s, one reading every 5 s [3]_."""
