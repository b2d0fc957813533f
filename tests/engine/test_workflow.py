"""The workflow runner: steps cached by their inputs, retried, resumed, their state recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from embercast.engine.workflow import Step, Workflow


def test_steps_are_cached_by_their_inputs_retried_and_resumed(tmp_path: Path) -> None:
    calls: list[str] = []
    flaky = {"left": 1}

    def produce(args: Any, _: Any) -> dict[str, Any]:
        calls.append("produce")
        return {"value": args["n"] * 2}

    def consume(_: Any, up: Any) -> dict[str, Any]:
        calls.append("consume")
        if flaky["left"]:
            flaky["left"] -= 1
            raise OSError("the store blinked")  # transient: retried
        return {"total": up["produce"]["value"] + 1}

    def build(n: int) -> Workflow:
        steps = [Step("produce", produce, {"n": n}), Step("consume", consume, {}, ("produce",))]
        return Workflow(steps, str(tmp_path / "state.json"), retries=2, backoff_s=0.0)

    state = build(3).run()
    assert state["steps"]["consume"]["outputs"] == {"total": 7}
    assert state["steps"]["consume"]["attempts"] == 2 and calls == ["produce", "consume", "consume"]
    build(3).run()  # nothing changed: both cached
    assert calls == ["produce", "consume", "consume"]
    build(4).run()  # new input: both run again (the consumer reads a new output)
    assert calls[-2:] == ["produce", "consume"]


def test_a_failed_step_is_recorded_and_a_rerun_resumes_there(tmp_path: Path) -> None:
    ran: list[str] = []
    broken = {"yes": True}

    def first(_: Any, __: Any) -> dict[str, Any]:
        ran.append("first")
        return {"ok": 1}

    def second(_: Any, __: Any) -> dict[str, Any]:
        ran.append("second")
        if broken["yes"]:
            raise ValueError("bad input")  # not transient: no retry
        return {"ok": 2}

    wf = Workflow(
        [Step("first", first), Step("second", second, {}, ("first",))], str(tmp_path / "s.json")
    )
    with pytest.raises(ValueError, match="bad input"):
        wf.run()
    saved = json.loads((tmp_path / "s.json").read_text())
    assert (
        saved["steps"]["second"]["status"] == "failed" and saved["steps"]["second"]["attempts"] == 1
    )
    broken["yes"] = False
    wf.run()
    assert ran == ["first", "second", "second"]  # the first step was not run again
    with pytest.raises(ValueError, match="reads \\['later'\\]"):
        Workflow([Step("a", first, {}, ("later",))], str(tmp_path / "x.json"))


def test_a_run_until_a_step_stops_there_and_marks_what_follows_stale(tmp_path: Path) -> None:
    calls: list[str] = []

    def produce(args: Any, _: Any) -> dict[str, Any]:
        calls.append("produce")
        return {"value": args["n"]}

    def consume(_: Any, up: Any) -> dict[str, Any]:
        calls.append("consume")
        return {"total": up["produce"]["value"] + 1}

    def build(n: int) -> Workflow:
        steps = [Step("produce", produce, {"n": n}), Step("consume", consume, {}, ("produce",))]
        return Workflow(steps, str(tmp_path / "state.json"), backoff_s=0.0)

    build(1).run()
    state = build(2).run(until="produce")
    assert calls == ["produce", "consume", "produce"]
    assert state["steps"]["produce"]["status"] == "done"
    assert state["steps"]["consume"]["status"] == "stale"  # made from n = 1
    assert (
        json.loads((tmp_path / "state.json").read_text())["steps"]["consume"]["status"] == "stale"
    )
    build(2).run(until="produce")  # cached: what follows stays as it was
    assert calls == ["produce", "consume", "produce"]
    assert build(2).run()["steps"]["consume"]["outputs"] == {"total": 3}
    assert calls[-1] == "consume" and calls.count("produce") == 2
    with pytest.raises(ValueError, match="no step 'train' to stop after; the steps are produce"):
        build(2).run(until="train")
