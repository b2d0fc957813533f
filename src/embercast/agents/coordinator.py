"""The coordinator: starts the agents' loops, restarts one that crashed, stops them, and says
how each is (running, restarts, last error) for ``/metrics``, ``/readyz`` and the dashboard."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

Loop = Callable[[threading.Event], None]
"""An agent's loop: runs until the event is set."""


@dataclass
class AgentHealth:
    """How one agent is: whether its loop runs, how often it was restarted, its last error."""

    name: str
    running: bool = False
    restarts: int = 0
    last_error: str | None = None
    started_s: float | None = None


@dataclass
class _Agent:
    loop: Loop
    health: AgentHealth
    thread: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)


class Coordinator:
    """Runs ``loops`` (name -> loop) on their own threads; a loop that raises is restarted
    after ``restart_s`` seconds."""

    def __init__(self, loops: dict[str, Loop], restart_s: float = 1.0) -> None:
        self.restart_s = restart_s
        self._agents = {name: _Agent(loop, AgentHealth(name)) for name, loop in loops.items()}
        self._stopping = threading.Event()

    def add(self, name: str, loop: Loop) -> None:
        """Add an agent (before :meth:`start`)."""
        self._agents[name] = _Agent(loop, AgentHealth(name))

    def start(self) -> None:
        """Start every agent."""
        for name, agent in self._agents.items():
            agent.thread = threading.Thread(target=self._supervise, args=(agent,),
                                            name=f"agent-{name}", daemon=True)  # fmt: skip
            agent.thread.start()

    def _supervise(self, agent: _Agent) -> None:
        while not self._stopping.is_set():
            agent.health.running, agent.health.started_s = True, time.time()
            try:
                agent.loop(agent.stop)
                return
            except Exception as exc:
                agent.health.last_error = f"{type(exc).__name__}: {exc}"
                agent.health.restarts += 1
                logger.exception("agent %s crashed; restarting in %.1f s", agent.health.name,
                                 self.restart_s)  # fmt: skip
            finally:
                agent.health.running = False
            self._stopping.wait(self.restart_s)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop every agent and wait for their loops to return."""
        self._stopping.set()
        for agent in self._agents.values():
            agent.stop.set()
        for agent in self._agents.values():
            if agent.thread is not None:
                agent.thread.join(timeout_s)

    def health(self) -> list[AgentHealth]:
        """Every agent's health, by name."""
        return [self._agents[name].health for name in sorted(self._agents)]
