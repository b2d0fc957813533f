"""Zones' parameters from a TOML file: a default, a zone's own, schedules; errors named."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from embercast.alarm.zone import ZoneParams, ZoneSchedule
from embercast.alarm.zone_config import load_zone_config
from embercast.errors import InputError

MONDAY_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC).timestamp()


def test_defaults_own_parameters_and_a_schedule(tmp_path: Path) -> None:
    path = tmp_path / "zones.toml"
    path.write_text(
        "[zones.default]\nconfirm_devices = 2\n\n"
        '[zones.kitchen]\npositive_alarm_sequence = false\ntz = "Europe/Berlin"\n'
        '[[zones.kitchen.schedule]]\ndays = ["mon", "tue", "wed", "thu", "fri"]\n'
        'start = "08:00"\nend = "18:00"\npositive_alarm_sequence = true\n'
    )
    params = load_zone_config(str(path))
    assert params("hall") == ZoneParams(confirm_devices=2)
    kitchen = params("kitchen")
    assert isinstance(kitchen, ZoneSchedule)
    assert kitchen.at(MONDAY_NOON) == ZoneParams(confirm_devices=2, positive_alarm_sequence=True)
    assert kitchen.at(MONDAY_NOON + 8 * 3600) == ZoneParams(confirm_devices=2)  # 21:00 Berlin


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[zones.hall]\nconfirm = 2\n", r"zones.hall: unknown keys \['confirm'\]"),
        ("[zones.hall]\nsilence_max_s = 900\n", "zones.hall: silence_max_s must be in"),
        ('[[zones.hall.schedule]]\nstart = "8h"\nend = "18:00"\n',
         r"zones.hall.schedule\[0\]: '8h' is not a time HH:MM"),
        ('[[zones.hall.schedule]]\ndays = ["monday"]\nstart = "08:00"\nend = "18:00"\n',
         r"unknown days \['monday'\]"),
        ('[zones.hall]\ntz = "Mars/Olympus"\n', "unknown time zone 'Mars/Olympus'"),
        ("[devices]\nx = 1\n", r"only \[zones.NAME\] tables are known"),
    ],
)  # fmt: skip
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "zones.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_zone_config(str(path))
