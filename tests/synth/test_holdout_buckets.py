"""``--holdout`` names conditions and buckets the catalogue has; what holds nothing out says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import embercast.cli as cli
from embercast.config import get_settings
from embercast.errors import InputError
from embercast.synth.scenarios import (
    CONDITION_BUCKETS,
    CONDITIONS,
    SplitPolicy,
    sample_scenarios,
)

runner = CliRunner()


def test_every_condition_value_is_a_known_bucket() -> None:
    specs = sample_scenarios(400, seed=11)
    for name, bucket in CONDITIONS.items():
        seen = {bucket(spec.params) for spec in specs}
        assert seen <= set(CONDITION_BUCKETS[name]), name
    assert CONDITION_BUCKETS.keys() == CONDITIONS.keys()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("room_size=Large", "room_size has no bucket 'Large'; known: small, medium, large"),
        ("room_size=gigantic", "room_size has no bucket 'gigantic'"),
        ("fuel=heptane,plastic", "fuel has no bucket 'plastic'; known: faa_resin, heptane, none,"),
    ],
)
def test_unknown_buckets_are_refused(text: str, named: str) -> None:
    with pytest.raises(InputError, match=named):
        SplitPolicy.parse(text)


@pytest.fixture(autouse=True)
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EMBERCAST_CONFIG", "")
    monkeypatch.setenv("EMBERCAST_CATALOG_PATH", str(tmp_path / "catalog.sqlite"))
    get_settings.cache_clear()


def test_generate_refuses_an_unknown_bucket_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    args = ["generate", "--scenarios", "2", "--seed", "1", "--out", str(out)]
    result = runner.invoke(cli.app, [*args, "--holdout", "room_size=Large"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: invalid holdout 'room_size=Large': room_size has no")
    assert len(result.stderr.splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())


def test_a_holdout_no_scenario_matches_is_reported(tmp_path: Path) -> None:
    args = ["generate", "--scenarios", "2", "--seed", "1", "--frames", "none"]
    result = runner.invoke(
        cli.app, [*args, "--classes", "normal_day", "--holdout", "fuel=heptane", "--out",
                  str(tmp_path / "ds")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "warning: no scenario of these 2 matches --holdout 'fuel=heptane'" in result.stderr
