"""The pipeline: its configuration, and generate -> ... -> register end to end, then cached."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embercast.cli import app
from embercast.lifecycle.pipeline import PipelineConfig, build_workflow, load_config

runner = CliRunner()


def test_config_errors_name_the_file_and_field(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text("[pipeline]\nscenarios = 0\n")
    with pytest.raises(ValueError, match="p.toml.*scenarios"):
        load_config(str(cfg))
    cfg.write_text('[pipeline]\nmodel = "svm"\n')
    with pytest.raises(ValueError, match="model"):
        load_config(str(cfg))
    with pytest.raises(ValueError, match="does not exist"):
        load_config(str(tmp_path / "missing.toml"))
    cfg.write_text('[pipeline]\nalarm_on = "test"\n')
    with pytest.raises(ValueError, match="alarm_on"):
        load_config(str(cfg))
    # the choice reaches the train step's arguments (and so its cache key)
    cfg.write_text('[pipeline]\nalarm_on = "val"\n')
    train = next(s for s in build_workflow(load_config(str(cfg))).steps if s.name == "train")
    assert train.args["alarm_on"] == "val"
    assert (
        next(s for s in build_workflow(PipelineConfig()).steps if s.name == "train").args[
            "alarm_on"
        ]
        == "conditions"
    )


def test_pipeline_end_to_end_then_cached(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text(
        f'[pipeline]\nname = "t"\nout = "{tmp_path}"\nscenarios = 5\nseed = 260\nmodel = "gas"\n'
    )
    result = runner.invoke(app, ["pipeline", "--config", str(cfg), "--json"])
    assert result.exit_code == 0, result.output
    steps = json.loads(result.stdout)["steps"]
    assert all(
        steps[s]["status"] == "done"
        for s in ("generate", "validate", "features", "train", "evaluate", "register")
    )
    assert steps["register"]["outputs"]["model"] == steps["train"]["outputs"]["model"]
    # the alarm point is chosen with room conditions left out, and said so
    assert steps["train"]["outputs"]["alarm_chosen_on"] == "room conditions left out of train,val"
    assert (tmp_path / "t" / "report" / "report.md").exists()
    # the goals, judged in the report, travel with the evaluate step's outputs
    doc = json.loads((tmp_path / "t" / "report" / "metrics.json").read_text())
    reached = steps["evaluate"]["outputs"]["goals_reached"]
    assert reached == {k: g["reached"] for k, g in doc["goals"].items()}
    assert set(reached) == {"every_fire_class_detected", "speedup", "false_alarms"}
    again = runner.invoke(app, ["pipeline", "--config", str(cfg), "--json"])
    assert all(rec["cached"] for rec in json.loads(again.stdout)["steps"].values())
    status = runner.invoke(app, ["pipeline", "status", "--config", str(cfg)])
    assert status.exit_code == 0 and status.stdout.splitlines()[0].startswith("generate: done")
    # changed inputs make the pipeline's own dataset again instead of refusing to touch it
    changed_config = cfg.read_text().replace("seed = 260", "seed = 27")
    cfg.write_text(changed_config.replace("scenarios = 5", "scenarios = 1"))  # quicker to make
    changed = runner.invoke(
        app, ["pipeline", "--config", str(cfg), "--json", "--until", "generate"]
    )
    assert changed.exit_code == 0, changed.output
    after = json.loads(changed.stdout)["steps"]
    generate = after["generate"]
    assert generate["status"] == "done" and not generate["cached"]
    # what the later steps made came from the earlier dataset: stale until they run again
    assert {
        after[s]["status"] for s in ("validate", "features", "train", "evaluate", "register")
    } == {"stale"}
    manifest = json.loads((tmp_path / "t" / "dataset" / "manifest.json").read_text())
    assert (manifest["arguments"]["seed"], manifest["arguments"]["scenarios"]) == (27, 1)


def test_the_generator_version_is_an_input_of_the_generate_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Upgrading the generator makes the data again: its version is part of the step's key."""
    from embercast.engine.workflow import step_key
    from embercast.synth import writer

    config = PipelineConfig()
    now = build_workflow(config).steps[0]
    monkeypatch.setattr(writer, "GENERATOR_VERSION", "0")
    before = build_workflow(config).steps[0]
    assert now.name == before.name == "generate"
    assert step_key(now, {}) != step_key(before, {})
