"""The quickstart behind ``embercast run``: its own dataset reused, replaced after an upgrade."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_run_replaces_its_dataset_from_an_older_generator(tmp_path: Path) -> None:
    """After an upgrade the quickstart's own dataset (another generator version) is replaced,
    not an error; the same arguments reuse it; a folder that is not a dataset is left alone."""
    from embercast.synth.quickstart import run_quickstart
    from embercast.synth.writer import GENERATOR_VERSION, DatasetExistsError

    out = tmp_path / "qs"
    first = run_quickstart(str(out), scenarios=2, workers=1)
    assert first.summary.status == "generated"
    again = run_quickstart(str(out), scenarios=2, workers=1)
    assert again.summary.status == "complete"
    manifest_path = out / "dataset" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["generator"]["generator_version"] = "0"
    manifest_path.write_text(json.dumps(manifest))
    said: list[str] = []
    upgraded = run_quickstart(str(out), scenarios=2, workers=1, log=said.append)
    assert upgraded.summary.status == "generated" and any("replacing" in m for m in said)
    assert json.loads(manifest_path.read_text())["generator"]["generator_version"] == (
        GENERATOR_VERSION
    )
    foreign = tmp_path / "other"
    (foreign / "dataset").mkdir(parents=True)
    (foreign / "dataset" / "notes.txt").write_text("mine")
    with pytest.raises(DatasetExistsError, match="not an embercast dataset"):
        run_quickstart(str(foreign), scenarios=2, workers=1)
    assert (foreign / "dataset" / "notes.txt").read_text() == "mine"
