"""``embercast learn retrain``: a challenger trained on what fooled the champion.

A workflow (:mod:`embercast.engine.workflow`: each step cached by its inputs, retried on
transient failure, resumable; state in ``OUT/state.json``) of four steps:

1. ``episodes``: the operators' verdicts so far (:mod:`embercast.dataset.episodes`), their
   content hash and the scenario classes of the false alarms' causes (:data:`CAUSE_CLASSES`);
2. ``generate``: a supplementary dataset (``OUT/supplement-<hash>``) of those classes and every
   fire class (so fires stay as common as the nuisances; at least one scenario of each),
   seeded by the episodes' hash, holding out what the base data holds out, its features
   computed while generating;
3. ``train``: the base feature sets, the supplement and the episodes read as one; the fit is
   registered as a new version of the model, which the registry makes ``challenger`` while a
   champion exists;
4. ``gate``: the registry's gate on the challenger against the champion, on the same held-out
   scenarios (recorded, not acted on: promotion waits for the shadow comparison on live
   traffic).

New verdicts change the episodes' hash, so the next run generates and trains again; the same
verdicts give the cached steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from embercast.dataset.episodes import CAUSES, read_episodes
from embercast.engine.workflow import Step, Workflow
from embercast.errors import InputError
from embercast.lifecycle.pipeline import Inputs, Upstream, generate_step
from embercast.synth.scenarios import SCENARIO_CLASSES

CAUSE_CLASSES: dict[str, tuple[str, ...]] = {
    "cooking": ("cooking_gas_stove", "cooking_electric"),
    "toaster": ("toaster",),
    "steam": ("steam",),
    "smoking": ("candles_smoking",),
    "candles": ("candles_smoking",),
    "heater": ("space_heater",),
    "hot_machinery": ("hot_machinery",),
    "sunlight": ("sunlight",),
    "dust": ("hvac_window",),
    "sensor_fault": ("sensor_fault",),
    "other": (),
}
"""The generator's nuisance classes like each cause of a false alarm (none: every nuisance)."""
assert set(CAUSE_CLASSES) == set(CAUSES)


def fooled_classes(causes: Sequence[str | None]) -> list[str]:
    """The nuisance classes to generate more of for the false alarms' ``causes`` (every
    nuisance class for a cause the generator has no class like), in catalogue order."""
    wanted: set[str] = set()
    nuisances = {c for c, k in SCENARIO_CLASSES.items() if not k.is_fire and k.weight > 0}
    for cause in causes:
        wanted |= set(CAUSE_CLASSES.get(cause or "other", ())) or nuisances
    return [c for c in SCENARIO_CLASSES if c in wanted]


def _episodes(a: Inputs, _: Upstream) -> dict[str, Any]:
    found = read_episodes(a["episodes"])
    causes = [f.get("cause") for f in found.facts.values() if f.get("verdict") == "false_alarm"]
    return {"episodes": a["episodes"], "content_hash": found.content_hash,
            "count": len(found.facts), "false_alarms": len(causes),
            "feature_set": found.feature_set,
            "classes": fooled_classes(causes)}  # fmt: skip


def _generate(a: Inputs, up: Upstream) -> dict[str, Any]:
    fires = [c for c, k in SCENARIO_CLASSES.items() if k.is_fire and k.weight > 0]
    digest = str(up["episodes"]["content_hash"])
    classes = [*up["episodes"]["classes"], *fires]
    args = {**a, "dataset": f"{a['folder']}/supplement-{digest[:12]}",
            "scenarios": max(int(a["scenarios"]), len(classes)),  # one of each class at least
            "seed": int(digest[:8], 16), "feature_set": up["episodes"]["feature_set"],
            "classes": classes}  # fmt: skip
    return generate_step(args, up)


def _train(a: Inputs, up: Upstream) -> dict[str, Any]:
    from embercast.lifecycle.training import train

    data = [*a["base"], str(up["generate"]["features"]), str(up["episodes"]["episodes"])]
    s = train(data, a["model"], register=a["name"], alarm_on=a["alarm_on"])
    return {"model": f"{a['name']}/{s['version']}", "run_id": s["run_id"], "data": data,
            "held_out": s["held_out"]}  # fmt: skip


def _gate(a: Inputs, up: Upstream) -> dict[str, Any]:
    from embercast.lifecycle.registry import Registry

    registry = Registry()
    name, version = registry.resolve(up["train"]["model"])
    decision = registry.gate(name, version)
    return {"model": up["train"]["model"], "passed": decision.passed,
            "reasons": decision.reasons, "compared_on": decision.compared_on}  # fmt: skip


STEPS: tuple[str, ...] = ("episodes", "generate", "train", "gate")


def champion_training(name: str) -> tuple[list[str], str]:
    """The feature sets the champion of ``name`` was trained on (its recorded location, episodes
    left out: they are read afresh) and its kind of model: where a challenger starts from.
    InputError when there is no champion or it records no training data."""
    from embercast.lifecycle.registry import Registry

    run = Registry().training_run(f"{name}@champion")
    location = str(run["tags"].get("features_location") or "")
    if not location:
        raise InputError(f"{name}@champion (version {run['version']}) records no training data")
    return [p for p in location.split(",") if not _is_episodes(p)], str(run["params"]["model"])


def _is_episodes(location: str) -> bool:
    from embercast.dataset.episodes import is_episodes

    try:
        return is_episodes(location)
    except OSError:
        return False


def build_retrain(
    *,
    base: Sequence[str],
    episodes: str,
    out: str,
    name: str = "fire",
    model: str = "gbm",
    scenarios: int = 48,
    workers: int = 2,
    alarm_on: str = "conditions",
) -> Workflow:
    """The retraining workflow (see the module docstring); state in ``out/state.json``."""
    if not base:
        raise InputError("retraining needs the base feature sets the champion learnt from")
    from embercast.evaluation.feature_data import load_features

    holdout = load_features(list(base)).holdout
    folder = Path(out)
    from embercast.synth.writer import GENERATOR_VERSION

    gen = {"folder": str(folder), "scenarios": scenarios, "frames": "none", "holdout": holdout,
           "engine": "local", "workers": workers, "scheduler": None,
           "generator": GENERATOR_VERSION}  # fmt: skip
    steps = [
        Step("episodes", _episodes, {"episodes": episodes}),
        Step("generate", _generate, gen, ("episodes",)),
        Step(
            "train",
            _train,
            {"base": list(base), "model": model, "name": name, "alarm_on": alarm_on},
            ("generate", "episodes"),
        ),  # fmt: skip
        Step("gate", _gate, {}, ("train",)),
    ]
    return Workflow(steps, str(folder / "state.json"))
