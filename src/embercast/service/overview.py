"""What the live system is doing, for operators: its agents, its own trouble and misuse
conditions, and what it learns (``GET /v1/system``, ``GET /v1/models/learning`` and the
dashboard's system panel)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from embercast.service.state import ServiceState, fold_workers

RECENT = 50
"""How many of the latest drifts and steward actions are shown."""


def learning_summary(state: ServiceState) -> dict[str, Any]:
    """The last drifts (oldest first), the shadow comparison by the live measure (None when no
    other model is scored) and the model steward's settings and last actions (None when the
    service does not serve a registered model)."""
    steward, view = state.steward, state.learning_view
    shadow = None
    if steward is not None and steward.shadow is not None:
        shadow = steward.shadow.summary()
    elif view is not None:  # `embercast agent shadow` scores
        shadow = view.shadow
    return {
        "drift": [] if state.drift is None else [asdict(d) for d in state.drift.found[-RECENT:]],
        "shadow": shadow,
        "steward": None if steward is None else {
            "model": steward.name, "auto_promote": steward.auto_promote,
            "auto_rollback": steward.auto_rollback, "actions": steward.actions[-RECENT:],
        },
    }  # fmt: skip


def system_summary(state: ServiceState) -> dict[str, Any]:
    """Each agent's health (running, restarts, last error; an agent left to processes of its
    own: running when one is present, and their names in ``processes``), the service's trouble
    and misuse
    conditions that hold now (with what was seen), who folds the devices (``fold``: the
    service itself, or the fold workers running and the messages waiting for them) and
    :func:`learning_summary`."""
    agents = [] if state.agents is None else [asdict(h) for h in state.agents.health()]
    check = state.self_check
    for name, processes in ({} if check is None or check.apart is None else check.apart()).items():
        agents.append({"name": name, "running": bool(processes), "restarts": 0,
                       "last_error": None if processes else "no process is running",
                       "started_s": None, "processes": processes})  # fmt: skip
    conditions = {} if state.self_check is None else dict(state.self_check.active)
    fold: dict[str, Any] = {"in_service": state.settings.service_fold_in_service}
    if state.bus is not None and not state.settings.service_fold_in_service:
        fold["workers"], fold["waiting"] = fold_workers(state.bus)
    return {"agents": agents, "conditions": conditions, "fold": fold,
            "learning": learning_summary(state)}  # fmt: skip
