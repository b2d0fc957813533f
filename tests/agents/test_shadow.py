"""Shadow scoring and the model steward: another model judged on the served model's inputs and
operators' verdicts, its tallies kept over a restart; a challenger no worse is promoted through
the registry's gate, and a new champion worse than the one it replaced is rolled back."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from embercast.agents.shadow import Shadow
from embercast.agents.steward import ModelSteward
from embercast.agents.zones import risk_message
from embercast.alarm.decision import AlarmParams

T0 = 1_800_000_000.0
QUICK = AlarmParams(threshold=0.5, clear_threshold=0.3, delay_on_s=0.0, delay_off_s=0.0)


class FirstFeature:
    """A model whose probability is its first feature."""

    features = ("a", "b")
    params = QUICK

    def score(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.clip(X[:, 0], 0.0, 1.0)


class Served:
    features = ("b", "a", "c")
    params = QUICK


def _risk(device: str, t: float, p: float, x: list[float]) -> dict[str, Any]:
    return risk_message(device, "z", {"t_s": T0 + t, "p_fire": p}, x)[0]


def test_the_other_model_is_judged_on_the_same_inputs_and_verdicts(tmp_path: Path) -> None:
    state = str(tmp_path / "shadow.json")

    def shadow() -> Shadow:
        return Shadow(lambda: "other/1", lambda _ref: FirstFeature(), lambda: Served(), state,
                      min_hours=0.5)  # fmt: skip

    watch = shadow()
    # two devices for an hour; the served model alarms on d1 from 600 s to 900 s, the other
    # (reading feature a, the served input's second) stays low everywhere
    risks = [_risk(d, t, 0.9 if d == "d1" and 600 <= t < 900 else 0.05, [0.0, 0.1, 7.0])
             for t in range(0, 3600, 5) for d in ("d1", "d2")]  # fmt: skip
    risks.append({"device_id": "d3", "t_s": T0, "p_fire": 0.1, "x": [0.2]})  # another model's x
    assert watch.handle_many(risks) == len(risks) - 1 and watch.skipped == 1
    assert watch.worse("served") == (True, ["500.7 alarms per 1,000 device-hours, the other 0.0"])
    watch.verdict({"verdict": "false_alarm", "alarm_t": T0 + 600.0, "devices": ["d1"]})
    found = watch.comparison()
    assert found is not None and found.device_hours == pytest.approx(2 * 3595 / 3600)
    assert (found.tallies["served"].onsets, found.tallies["other"].onsets) == (1, 0)
    assert (found.tallies["served"].false_alarms, found.tallies["other"].false_alarms) == (1, 0)
    assert watch.worse("other") == (False, ["not worse over 2.0 device-hours"])
    worse, reasons = watch.worse("served")
    assert worse and reasons[0] == "1 false alarms marked, the other 0"
    watch.save()
    again = shadow()  # a restart: the tallies are back
    assert again.comparison() == found
    watch.verdict({"verdict": "fire", "alarm_t": T0 + 650.0, "devices": ["d1"]})
    assert watch.tallies["other"].fires_missed == 1 and watch.tallies["served"].fires_caught == 1


def test_too_few_device_hours_decide_nothing(tmp_path: Path) -> None:
    watch = Shadow(lambda: "other/1", lambda _ref: FirstFeature(), lambda: Served(),
                   str(tmp_path / "s.json"), min_hours=24.0)  # fmt: skip
    watch.handle_many([_risk("d1", t, 0.9, [0.0, 0.9, 0.0]) for t in range(0, 600, 5)])
    assert watch.worse("served") == (None, ["0.2 of 24 device-hours so far"])
    nobody = Shadow(lambda: None, lambda _ref: FirstFeature(), lambda: Served(),
                    str(tmp_path / "n.json"))  # fmt: skip
    assert nobody.handle_many([_risk("d1", 0, 0.9, [0.0, 0.9, 0.0])]) == 0
    assert nobody.worse("served") == (None, ["no other model is scored"])


def test_the_steward_promotes_a_challenger_and_rolls_back_a_worse_champion(
    fire_registry: Path, features: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    from embercast.config import get_settings
    from embercast.lifecycle.registry import Registry
    from embercast.service.live_model import load_live_model

    store = tmp_path / "mlflow.db"
    shutil.copy(fire_registry, store)
    monkeypatch.setenv("EMBERCAST_MLFLOW_URI", str(store))
    get_settings.cache_clear()
    registry = Registry(str(store))
    first = registry.training_run("fire/1")
    metrics = {k: v for k, v in registry.versions("fire")[0]["metrics"].items() if v is not None}
    registry.log_training(registry.load("fire/1"), params=first["params"], metrics=metrics,
                          tags=first["tags"], register="fire")  # fmt: skip
    steward = ModelSteward("fire", lambda: Registry(str(store)), auto_promote=True,
                           refresh_s=0.0)  # fmt: skip
    assert steward.other() == "fire/2"  # the challenger
    served = [load_live_model("fire@champion")]
    steward.shadow = Shadow(steward.other, load_live_model, lambda: served[0],
                            str(tmp_path / "shadow.json"), min_hours=0.05)  # fmt: skip
    table = pq.read_table(features / "features").to_pandas()
    X = table[list(served[0].features)].to_numpy(float)
    p = served[0].score(X)
    quiet = X[p < 0.05][:40]
    assert len(quiet) == 40

    def traffic(p_served: float, start: float) -> list[dict[str, Any]]:
        return [_risk(f"d{i}", start + 5 * k, p_served if p_served >= 0 else float(q), list(x))
                for k in range(30) for i, (x, q) in enumerate(zip(quiet, p[p < 0.05][:40],
                                                               strict=True))]  # fmt: skip

    steward.shadow.handle_many(traffic(-1, 0.0))  # the same model: the same alarms (none)
    promoted = steward.check()
    assert promoted is not None and (promoted["action"], promoted["done"]) == ("promote", True)
    assert registry.resolve("fire@champion") == ("fire", 2)
    served[0] = load_live_model("fire@champion")
    assert steward.other() == "fire/1"  # now the champion it replaced is the shadow
    steward.shadow.handle_many(traffic(0.99, 10_000.0))  # the new champion alarms everywhere
    summary = steward.shadow.summary()
    assert summary is not None and summary["other_model"] == "fire/1"
    assert summary["served"]["worse"] is True and summary["other"]["worse"] is False
    assert summary["served"]["onsets"] == 40 and summary["other"]["onsets"] == 0
    assert "recent" not in summary["served"]
    done = steward.check()
    assert done is not None and done["action"] == "rollback" and done["model"] == "fire/1"
    assert "alarms per 1,000 device-hours" in done["reasons"][-1]
    assert registry.resolve("fire@champion") == ("fire", 1)
