"""``embercast pipeline``: generate -> validate -> features -> train -> evaluate -> register, as
one workflow (:mod:`embercast.engine.workflow`): every step cached by the hash of its inputs,
retried on transient failure, resumable, its progress and lineage in ``OUT/NAME/state.json``.

Configuration (TOML, all optional; the ``[pipeline]`` table)::

    [pipeline]
    name = "default"          # state and outputs go to OUT/NAME
    out = "runs/pipeline"
    engine = "local"          # or "dask" (with scheduler = "tcp://host:port")
    workers = 2
    scenarios = 120
    seed = 0
    frames = "none"           # frames stored by the dataset
    holdout = "room_size=large"
    feature_set = "extended"  # computed while generating
    model = "gbm"             # rf, gbm, gas, ensemble, gru, lstm
    hpo = 0                   # Optuna trials before training
    alarm_on = "conditions"   # or "val": where the alarm operating point is chosen (train)
    registry_name = "fire"    # registered model name; the gate decides on promotion
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from embercast.dataset.manifest import MANIFEST
from embercast.engine.workflow import Step, Workflow
from embercast.errors import InputError

if TYPE_CHECKING:
    from embercast.synth.writer import GenerateSummary


class PipelineConfig(BaseModel):
    """The pipeline's settings (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="default", pattern=r"^[A-Za-z0-9_.-]+$")
    out: str = "runs/pipeline"
    engine: Literal["local", "dask"] = "local"
    workers: int = Field(default=2, ge=1)
    scheduler: str | None = None
    scenarios: int = Field(default=120, ge=1)
    seed: int = 0
    frames: str = "none"
    holdout: str | None = "room_size=large"
    feature_set: Literal["standard18", "extended"] = "extended"
    model: Literal["rf", "gbm", "gas", "ensemble", "gru", "lstm"] = "gbm"
    hpo: int = Field(default=0, ge=0)
    alarm_on: Literal["conditions", "val"] = "conditions"
    registry_name: str = Field(default="fire", pattern=r"^[A-Za-z0-9_.-]+$")

    @property
    def folder(self) -> Path:
        return Path(self.out) / self.name


def load_config(path: str | None) -> PipelineConfig:
    """Read the ``[pipeline]`` table of a TOML file (defaults without a file); ValueError with
    the file and the field for anything wrong."""
    if path is None:
        return PipelineConfig()
    try:
        raw = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"pipeline config {path!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"pipeline config {path!r} is not valid TOML: {exc}") from None
    try:
        return PipelineConfig(**raw.get("pipeline", {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"pipeline config {path!r}: {where}: {first['msg']}") from None


Inputs = Mapping[str, Any]
Upstream = Mapping[str, Mapping[str, Any]]
StepFn = Callable[[Inputs, Upstream], dict[str, Any]]


def generate_step(a: Inputs, _: Upstream) -> dict[str, Any]:
    """Generate a workflow's dataset (of the classes ``a["classes"]`` when given, else the whole
    catalogue), resuming an interrupted one made with the same inputs; one made with other
    inputs (another seed, size or generator version) is the workflow's own and stale, so it is
    replaced."""
    from embercast.features.inline import InlineFeatureSet
    from embercast.synth.writer import DatasetExistsError, generate_dataset

    def run(overwrite: bool) -> GenerateSummary:
        return generate_dataset(
            a["dataset"], scenarios=a["scenarios"], seed=a["seed"], frames=a["frames"],
            holdout=a["holdout"], features=InlineFeatureSet(a["feature_set"]), engine=a["engine"],
            workers=a["workers"], scheduler=a["scheduler"], overwrite=overwrite,
            classes=a.get("classes"),
        )  # fmt: skip

    try:
        s = run(overwrite=False)
    except DatasetExistsError as exc:
        if not exc.replaceable:
            raise
        s = run(overwrite=True)
    return {"dataset": s.out, "content_hash": s.content_hash, "rows": s.rows,
            "features": s.features}  # fmt: skip


def _validate(_: Inputs, up: Upstream) -> dict[str, Any]:
    from embercast.dataset.validate import validate_dataset

    problems = validate_dataset(up["generate"]["dataset"])
    if problems:
        raise InputError(f"the dataset has {len(problems)} problem(s), first: {problems[0]}")
    return {"problems": 0}


def _features(_: Inputs, up: Upstream) -> dict[str, Any]:
    import json

    location = str(up["generate"]["features"])
    manifest = json.loads((Path(location) / MANIFEST).read_text())
    return {"features": location, "content_hash": manifest["content_hash"],
            "feature_set": manifest["feature_set"], "rows": manifest["counts"]["rows"]}  # fmt: skip


def _train(a: Inputs, up: Upstream) -> dict[str, Any]:
    from embercast.lifecycle.training import train

    s = train(up["features"]["features"], a["model"], register=a["register"],
              hpo_trials=a["hpo"], journal=a["journal"], alarm_on=a["alarm_on"])  # fmt: skip
    alarm = s["alarm"] or {}
    return {"run_id": s["run_id"], "model": f"{a['register']}/{s['version']}",
            "held_out": s["held_out"], "alarm": alarm.get("rule"),
            "alarm_chosen_on": alarm.get("chosen_on")}  # fmt: skip


def _evaluate(a: Inputs, up: Upstream) -> dict[str, Any]:
    from embercast.evaluation.evaluate import best_baseline_ttd, evaluate
    from embercast.evaluation.feature_data import load_features
    from embercast.evaluation.report import write_report
    from embercast.lifecycle.detectors import load_detectors
    from embercast.models.factory import BASELINES

    ref = up["train"]["model"]
    data = load_features(up["features"]["features"])
    detectors = load_detectors([ref, *BASELINES])
    results = evaluate(data, detectors)
    y = data.split(("test", "holdout"))["fire"].to_numpy()
    doc = write_report(results, y, a["report"], f"Evaluation of {ref}", {"model": ref}, model=ref)
    mine = results[0].metrics
    return {"report": a["report"], "versus": best_baseline_ttd(results, ref),
            "detection_rate": mine["detection_rate"],
            "false_alarm_scenario_rate": mine["false_alarm_scenario_rate"],
            "goals_reached": {k: g["reached"] for k, g in doc["goals"].items()}}  # fmt: skip


def _register(_: Inputs, up: Upstream) -> dict[str, Any]:
    from embercast.lifecycle.registry import Registry

    decision = Registry().promote(up["train"]["model"])
    return {"model": up["train"]["model"], "promoted": decision.passed, "reasons": decision.reasons}


STEPS: tuple[str, ...] = ("generate", "validate", "features", "train", "evaluate", "register")
"""The pipeline's steps, in order."""


def build_workflow(config: PipelineConfig) -> Workflow:
    """The six steps of the pipeline for ``config``."""
    from embercast.synth.writer import GENERATOR_VERSION

    folder = config.folder
    # the generator's version is an input: data of an older generator is made again
    gen = {"dataset": str(folder / "dataset"), "scenarios": config.scenarios,
           "seed": config.seed, "frames": config.frames, "holdout": config.holdout,
           "feature_set": config.feature_set, "engine": config.engine,
           "workers": config.workers, "scheduler": config.scheduler,
           "generator": GENERATOR_VERSION}  # fmt: skip
    runs: list[tuple[str, StepFn, dict[str, Any], tuple[str, ...]]] = [
        ("generate", generate_step, gen, ()),
        ("validate", _validate, {}, ("generate",)),
        ("features", _features, {}, ("generate",)),
        ("train", _train, {"model": config.model, "register": config.registry_name,
                           "hpo": config.hpo, "journal": str(folder / "optuna.journal"),
                           "alarm_on": config.alarm_on},
         ("features",)),  # fmt: skip
        ("evaluate", _evaluate, {"report": str(folder / "report")}, ("features", "train")),
        ("register", _register, {}, ("train", "evaluate")),
    ]  # fmt: skip
    steps = [Step(name, fn, args, after) for name, fn, args, after in runs]
    return Workflow(steps, str(folder / "state.json"))
