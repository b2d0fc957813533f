"""The main job of ``make run``: generate a small dataset, validate it, plot a fire and a
nuisance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow.parquet as pq

from embercast.dataset.validate import validate_dataset
from embercast.store.fs import join, resolve
from embercast.store.lineage import read_manifest
from embercast.synth.plot import plot_scenario
from embercast.synth.result import InlineFeatures
from embercast.synth.writer import (
    DatasetExistsError,
    GenerateSummary,
    existing_summary,
    generate_dataset,
)

QUICKSTART_SCENARIOS = 32
"""Scenarios of the quickstart dataset (every class appears at least once)."""


@dataclass(frozen=True)
class QuickstartResult:
    """Where the quickstart wrote its outputs and what it found."""

    dataset: str
    summary: GenerateSummary
    problems: int
    plots: dict[str, str]


def run_quickstart(
    out: str,
    *,
    scenarios: int = QUICKSTART_SCENARIOS,
    seed: int = 0,
    workers: int = 2,
    features: InlineFeatures | None = None,
    log: Callable[[str], None] = lambda _msg: None,
) -> QuickstartResult:
    """Generate ``scenarios`` scenarios into ``out/dataset`` (with ``features`` computed on the
    way when given, into ``out/dataset/features``), validate them, and plot the first flaming
    fire and the first gas-stove cooking scenario into ``out/plots``.

    ``out/dataset`` belongs to the quickstart: a complete dataset there with the same arguments
    is reused, and an embercast dataset made with other arguments or by another generator
    version (an upgrade) is replaced, with a log line saying so."""
    dataset = join(out, "dataset")
    log(f"generating {scenarios} scenarios into {dataset}")
    args: dict[str, Any] = {"scenarios": scenarios, "seed": seed, "frames": "sample:6",
                            "features": features}  # fmt: skip
    try:
        summary = generate_dataset(dataset, workers=workers, **args)
    except DatasetExistsError as exc:
        if not exc.replaceable:
            raise
        log(f"replacing it: {exc}")
        summary = generate_dataset(dataset, workers=workers, overwrite=True, **args)
    return _survey(dataset, out, summary, log)


def existing_dataset(
    dataset: str, out: str, log: Callable[[str], None] = lambda _msg: None
) -> QuickstartResult:
    """A dataset generated before (``embercast generate``) in the quickstart's place: validated,
    its first flaming fire and gas-stove cooking scenario plotted into ``out/plots``; nothing is
    written to the dataset. CatalogError when ``dataset`` holds no complete dataset."""
    _, manifest = read_manifest(dataset)
    log(f"using the dataset {dataset} ({manifest['counts']['scenarios']} scenarios)")
    return _survey(dataset, out, existing_summary(manifest, dataset), log)


def _survey(
    dataset: str, out: str, summary: GenerateSummary, log: Callable[[str], None]
) -> QuickstartResult:
    """Validate ``dataset``, plot a fire and a nuisance of it into ``out/plots``."""
    problems = validate_dataset(dataset)
    for problem in problems:
        log(f"problem: {problem}")
    fs, root = resolve(dataset)
    table = pq.read_table(
        join(root, "scenarios.parquet"), filesystem=fs, columns=["scenario_id", "scenario_class"]
    )
    first: dict[str, str] = {}
    for sid, cls in zip(
        table["scenario_id"].to_pylist(), table["scenario_class"].to_pylist(), strict=True
    ):
        first.setdefault(cls, sid)
    plots = {}
    out_fs, out_root = resolve(out)
    for cls in ("flaming_fire", "cooking_gas_stove"):
        if cls in first:
            path = join(out, "plots", f"{first[cls]}_{cls}.png")
            out_fs.makedirs(join(out_root, "plots"), exist_ok=True)
            plots[cls] = plot_scenario(dataset, first[cls], path)
            log(f"plotted {cls} {first[cls]} -> {path}")
    return QuickstartResult(dataset=dataset, summary=summary, problems=len(problems), plots=plots)
