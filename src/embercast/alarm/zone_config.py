"""Zones' parameters from a TOML file: a default for every zone, a zone's own, and parameter
sets by local time (a kitchen manned by day).

```toml
[zones.default]                    # every zone without a table of its own
confirm_devices = 1

[zones.kitchen]
positive_alarm_sequence = false    # unmanned: no sequence
tz = "Europe/Berlin"

[[zones.kitchen.schedule]]         # manned on weekdays from 8 to 18
days = ["mon", "tue", "wed", "thu", "fri"]
start = "08:00"
end = "18:00"
positive_alarm_sequence = true
```

A zone's keys are those of :class:`~embercast.alarm.zone.ZoneParams`; a schedule entry's keys
override them while it runs (``start`` to ``end`` on its ``days``; an ``end`` at or before its
``start`` runs past midnight).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from embercast.alarm.zone import ScheduleEntry, ZoneParams, ZoneSchedule
from embercast.errors import InputError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_KNOWN = {f.name for f in fields(ZoneParams)}

ZoneParamsOf = Callable[[str], ZoneParams | ZoneSchedule]
"""A zone's name -> its parameters (fixed, or by time)."""


def _params(base: ZoneParams, table: dict[str, Any], where: str) -> ZoneParams:
    values = {k: v for k, v in table.items() if k in _KNOWN}
    try:
        return replace(base, **values)
    except (InputError, TypeError) as exc:
        raise InputError(f"{where}: {exc}") from None


def _minute(text: Any, where: str) -> int:
    try:
        hours, minutes = str(text).split(":")
        value = int(hours) * 60 + int(minutes)
    except ValueError:
        raise InputError(f"{where}: {text!r} is not a time HH:MM") from None
    if not 0 <= value <= 24 * 60:
        raise InputError(f"{where}: {text!r} is not a time of day")
    return value


def _zone(base: ZoneParams, table: dict[str, Any], where: str) -> ZoneParams | ZoneSchedule:
    unknown = set(table) - _KNOWN - {"tz", "schedule"}
    if unknown:
        raise InputError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(_KNOWN)}")
    own = _params(base, table, where)
    if "schedule" not in table:
        if "tz" in table:  # checked even while nothing uses it yet
            ZoneSchedule(own, (), str(table["tz"]))
        return own
    entries = []
    for i, entry in enumerate(table["schedule"]):
        at = f"{where}.schedule[{i}]"
        extra = set(entry) - _KNOWN - {"days", "start", "end"}
        if extra:
            raise InputError(f"{at}: unknown keys {sorted(extra)}")
        days = entry.get("days", list(DAYS))
        bad = [d for d in days if d not in DAYS]
        if bad:
            raise InputError(f"{at}: unknown days {bad}; days are {', '.join(DAYS)}")
        if "start" not in entry or "end" not in entry:
            raise InputError(f"{at}: needs a start and an end (HH:MM)")
        entries.append(ScheduleEntry(frozenset(DAYS.index(d) for d in days),
                                     _minute(entry["start"], at), _minute(entry["end"], at),
                                     _params(own, entry, at)))  # fmt: skip
    return ZoneSchedule(own, tuple(entries), str(table.get("tz", "UTC")))


def load_zone_config(path: str) -> ZoneParamsOf:
    """The zones' parameters of the TOML file ``path``; InputError naming the file, the zone
    and the key for anything wrong."""
    try:
        doc = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"zones file {path!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"zones file {path!r} is not valid TOML: {exc}") from None
    zones = doc.get("zones", {})
    if set(doc) - {"zones"}:
        raise InputError(f"{path}: only [zones.NAME] tables are known, not {sorted(set(doc))}")
    default_table = zones.get("default", {})
    default = _zone(ZoneParams(), default_table, f"{path}: zones.default")
    base = default if isinstance(default, ZoneParams) else default.default
    own = {
        name: _zone(base, table, f"{path}: zones.{name}")
        for name, table in zones.items()
        if name != "default"
    }
    return lambda zone: own.get(zone, default)
