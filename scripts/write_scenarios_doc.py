"""Write docs/SCENARIOS.md from the scenario catalogue (tests check it is up to date)."""

from __future__ import annotations

import sys
from pathlib import Path

from embercast.synth.scenarios import CONDITIONS, SCENARIO_CLASSES, describe_catalogue

DOC = Path(__file__).resolve().parents[1] / "docs" / "SCENARIOS.md"


def render() -> str:
    lines = [
        "# Scenario catalogue",
        "",
        "Generated from `src/embercast/synth/scenarios.py` by",
        "`python scripts/write_scenarios_doc.py`; do not edit by hand. Each scenario draws the",
        "common parameters, then its class's own, from a generator seeded with the scenario's",
        "seed (derived from the dataset seed and its index).",
        "",
        "## Classes",
        "",
        "| class | fire | weight | description |",
        "|---|---|---:|---|",
    ]
    for name, cls in SCENARIO_CLASSES.items():
        lines.append(
            f"| `{name}` | {'yes' if cls.is_fire else 'no'} | {cls.weight:g} | {cls.description} |"
        )
    lines += [
        "",
        "## Parameters",
        "",
        "| class | parameter | unit | distribution |",
        "|---|---|---|---|",
    ]
    for row in describe_catalogue():
        lines.append(
            f"| {row['class']} | `{row['parameter']}` | {row['unit']} | {row['distribution']} |"
        )
    lines += [
        "",
        "## Conditions a split can hold out",
        "",
        "`embercast generate --holdout 'room_size=large;fuel=heptane'` sends every scenario",
        "whose conditions match to the `holdout` split group; the others go to train/val/test",
        "by a hash of their seed (70/15/15). Conditions: "
        + ", ".join(f"`{c}`" for c in CONDITIONS)
        + ".",
        "",
        "- `room_size`: small (< 40 m^3), medium (< 150 m^3), large",
        "- `ventilation`: low (< 1 air change per hour), medium (< 3), high",
        "- `ambient`: cold (< 18 °C), normal (< 26 °C), hot",
        "- `fuel`: the fire's fuel (`none` for non-fire scenarios)",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    DOC.write_text(render())
    sys.stdout.write(f"wrote {DOC}\n")
