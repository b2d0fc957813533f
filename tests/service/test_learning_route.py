"""``GET /v1/models/learning``: the drift the running service found, the shadow comparison
and the model steward, for operators; ``GET /v1/system``: the agents, the conditions and the
same learning summary."""

from __future__ import annotations

from typing import Any

import numpy as np

from embercast.agents.zones import risk_message


def test_the_route_shows_the_steward_and_a_drift_the_service_found(served: Any) -> None:
    client, state = served.client, served.client.app.state.service
    assert client.get("/v1/models/learning").status_code == 401
    body = client.get("/v1/models/learning", headers=served.auth()).json()
    assert body["drift"] == [] and body["shadow"] is None  # one version: nothing to compare
    assert body["steward"] == {"model": "fire", "auto_promote": False, "auto_rollback": True,
                               "actions": []}  # fmt: skip
    names = list(state.models.current.features)
    moving = names.index("gas_val") if "gas_val" in names else 0
    rng = np.random.default_rng(2)
    for k in range(3000):  # the devices' CO2 (or first input) steps up halfway
        x = rng.normal(1.0, 0.05, len(names))
        x[moving] = (900.0 if k >= 1500 else 600.0) + rng.normal(0, 10.0)
        prediction = {"t_s": 1.8e9 + k, "p_fire": float(rng.beta(1, 30))}
        state.drift.handle(risk_message(f"d{k % 20}", "z", prediction, list(x))[0])
    body = client.get("/v1/models/learning", headers=served.auth()).json()
    assert names[moving] in [d["signal"] for d in body["drift"]]
    (drift,) = [d for d in body["drift"] if d["signal"] == names[moving]]
    assert drift["before"] < 700.0 and drift["after"] > drift["before"]


def test_the_system_route_shows_every_agent_and_the_learning_summary(served: Any) -> None:
    client = served.client
    assert client.get("/v1/system").status_code == 401
    body = client.get("/v1/system", headers=served.auth()).json()
    agents = {a["name"]: a for a in body["agents"]}
    assert {"risk-feed", "zones", "monitoring", "learning", "drift", "self-check"} <= set(agents)
    assert all(a["running"] for a in agents.values()), agents
    assert body["conditions"] == {}
    learning = client.get("/v1/models/learning", headers=served.auth()).json()
    assert body["learning"] == learning
