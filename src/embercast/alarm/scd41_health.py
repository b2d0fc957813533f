"""Supervision of a zone's SCD41 sensors: the FAULT state of DESIGN 4.5 for CO2 readings that no
room can produce.

A fire detector that trusts a failing sensor raises false alarms; one that ignores its sensors'
health misses the trouble signal a fire-alarm panel gives for a detector that needs service.
Two checks, each a reading no room air gives:

- **invalid**: a CO2 reading of 0 ppm or below, or above the 40,000-ppm output range. The SCD41
  reports 0 ppm when its measurement is invalid (its self-test then fails) while temperature and
  humidity read on [1]_.
- **frozen**: CO2, temperature and humidity all exactly unchanged for ``frozen_s``. The SCD41's
  CO2 repeatability is about ±10 ppm at 1-ppm resolution and its humidity and temperature have
  0.01 resolution [2]_, so a dozen identical readings in a row are an interface or firmware
  hang, not a still room.

A CO2 reading that climbs without a cause is not among them: a drifting sensor and a smouldering
fire out of the camera's view both show CO2 rising alone, and across devices the difference
does not tell them apart either (a fire near one device keeps the two devices' CO2 apart by
hundreds of ppm for minutes, as much as a drift does; docs/MODELS.md, "Sensor supervision").
The fire model weighs that evidence; supervision only catches what no room can do.

A device's SCD41 in FAULT stays so until :meth:`Scd41Health.reset` (the sensor is serviced). The
fire decision then treats its readings as absent, as in a dropout (see
:mod:`embercast.evaluation.sensor_supervision`): the camera and the other devices still decide.

.. [1] Sensirion, arduino-i2c-scd4x issues 15 and 47: CO2 reads 0 with self-test code 196
   while temperature and humidity work.
.. [2] Sensirion, "SCD4x datasheet", v1.3 (2022), section 1: CO2, humidity and temperature
   sensing performance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from embercast.errors import InputError

CO2_OUTPUT_MAX_PPM = 40_000.0
"""Top of the SCD41's CO2 output range [ppm]."""


@dataclass(frozen=True, kw_only=True)
class HealthParams:
    """Thresholds of the SCD41 checks: ``frozen_s`` [s] of identical readings."""

    frozen_s: float = 60.0

    def __post_init__(self) -> None:
        if not self.frozen_s > 0:
            raise InputError(f"frozen_s must be > 0 s, got {self.frozen_s}")


class _Device:
    """What the checks remember of one device's SCD41."""

    def __init__(self) -> None:
        self.t = -math.inf
        self.last: tuple[float, float, float] | None = None
        self.same_since: float | None = None
        self.fault: str | None = None


class Scd41Health:
    """The SCD41 health of the devices of one zone, one reading at a time.

    ``update(t, device_id, co2_ppm, temperature_c, humidity_pct)`` takes a device's reading
    (NaN for a missing value); ``get()`` gives each device in FAULT and why.

    >>> h = Scd41Health(HealthParams(frozen_s=10.0))
    >>> for t in (0.0, 5.0, 10.0):
    ...     h.update(t, "a", 612.0, 21.5, 40.2)
    ...     h.update(t, "b", 598.0 + t, 21.4, 40.0)
    >>> h.get()
    {'a': 'frozen: CO2, temperature and humidity unchanged for 10 s'}
    """

    def __init__(self, params: HealthParams | None = None) -> None:
        self.params = params or HealthParams()
        self._devices: dict[str, _Device] = {}

    def update(
        self,
        t: float,
        device_id: str,
        co2_ppm: float,
        temperature_c: float = math.nan,
        humidity_pct: float = math.nan,
    ) -> None:
        """Take one reading of ``device_id`` at ``t`` [s]: CO2 [ppm], temperature [°C] and
        relative humidity [%] (NaN when missing; a missing CO2 reading is a dropout, which
        the fire decision handles, not a FAULT)."""
        dev = self._devices.get(device_id)
        if dev is None:
            dev = self._devices[device_id] = _Device()
        if t < dev.t:
            raise InputError(f"device {device_id!r}: reading at t={t} s is older than t={dev.t} s")
        dev.t = t
        if dev.fault is None:
            dev.fault = _invalid(co2_ppm) or self._frozen(
                dev, t, (co2_ppm, temperature_c, humidity_pct)
            )

    def _frozen(self, dev: _Device, t: float, reading: tuple[float, float, float]) -> str | None:
        if math.isnan(reading[0]):
            dev.last, dev.same_since = None, None
            return None
        if dev.last is None or any(
            a != b and not (math.isnan(a) and math.isnan(b))
            for a, b in zip(reading, dev.last, strict=True)
        ):
            dev.last, dev.same_since = reading, t
            return None
        assert dev.same_since is not None
        if t - dev.same_since >= self.params.frozen_s:
            return f"frozen: CO2, temperature and humidity unchanged for {t - dev.same_since:.0f} s"
        return None

    def faulted(self, device_id: str) -> bool:
        """Whether ``device_id``'s SCD41 is in FAULT (False for a device never seen)."""
        dev = self._devices.get(device_id)
        return dev is not None and dev.fault is not None

    def get(self) -> dict[str, str]:
        """Device id -> reason, for each device whose SCD41 is in FAULT."""
        return {k: d.fault for k, d in sorted(self._devices.items()) if d.fault is not None}

    def reset(self, device_id: str) -> None:
        """Clear ``device_id``'s FAULT (its sensor was serviced); its checks start afresh."""
        if device_id in self._devices:
            self._devices[device_id] = _Device()


def _invalid(co2_ppm: float) -> str | None:
    """Why a CO2 reading [ppm] is outside what the SCD41 gives for real air (None if it is
    not, or is missing)."""
    if math.isnan(co2_ppm) or 0.0 < co2_ppm <= CO2_OUTPUT_MAX_PPM:
        return None
    return f"invalid: CO2 reads {co2_ppm:g} ppm, outside (0, {CO2_OUTPUT_MAX_PPM:g}]"
