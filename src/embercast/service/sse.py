"""Server-sent events (the ``text/event-stream`` format) and a client's bounded queue of them.

A :class:`Subscriber` lives on the event loop; whoever feeds it from another thread hands each
event over with ``loop.call_soon_threadsafe``. When a client falls :data:`QUEUE_SIZE` events
behind, the oldest are dropped and counted. :func:`end_on_exit` ends the streams when the
process is told to stop, before the server's graceful shutdown would wait for them.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

QUEUE_SIZE = 2048
"""Events waiting per client before the oldest are dropped: about 2 s of a 5,000-device fleet's
predictions, so the bursts of batch folding reach a client whole (a few MB per client)."""
RETRY_MS = 1000
"""How long a browser waits before it reconnects [ms] (the stream's ``retry:`` field)."""
HEARTBEAT_S = 15.0
"""Longest silence on a stream: a comment line keeps proxies and clients from timing out [s]."""


@dataclass(frozen=True)
class Event:
    """One server-sent event: its id, type and JSON data."""

    id: str
    kind: str
    data: dict[str, Any]

    def encode(self) -> bytes:
        """The event on the wire (``id:``, ``event:``, ``data:`` and a blank line)."""
        return f"id: {self.id}\nevent: {self.kind}\ndata: {json.dumps(self.data)}\n\n".encode()


class Subscriber:
    """One client's queue of events, on the event loop (bounded: the oldest go first)."""

    def __init__(self, size: int = QUEUE_SIZE) -> None:
        self.events: deque[Event | None] = deque(maxlen=size)
        self.dropped = 0
        """Events lost because the client did not keep up."""
        self._ready = asyncio.Event()

    def put(self, event: Event | None) -> None:
        if len(self.events) == self.events.maxlen:
            self.dropped += 1
        self.events.append(event)
        self._ready.set()

    async def next(self, timeout_s: float) -> Event | None:
        """The next event, None once the feed has closed; TimeoutError after ``timeout_s``
        [s] without one."""
        if not self.events:
            self._ready.clear()
            await asyncio.wait_for(self._ready.wait(), timeout_s)
        return self.events.popleft()

    def waiting(self) -> list[Event | None]:
        """The events queued now, taken at once (a stream writes them in one piece)."""
        taken = list(self.events)
        self.events.clear()
        return taken


def end_on_exit(close: Callable[[], None]) -> Callable[[], None]:
    """Call ``close`` when the process is told to stop (SIGTERM, SIGINT), then the handler that
    was there (the server's graceful shutdown); what undoes this. Nothing happens off the main
    thread, where signals cannot be caught, nor for a signal left to its default action."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum: int, frame: Any, previous: Callable[..., Any] = previous) -> None:
            close()
            previous(signum, frame)

        signal.signal(sig, handler)
        installed.append((sig, previous, handler))

    def undo() -> None:
        for sig, previous, handler in installed:
            if signal.getsignal(sig) is handler:
                signal.signal(sig, previous)

    return undo
