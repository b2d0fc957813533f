"""Request limits: the largest body read (413) and each API key's request rate (429)."""

from __future__ import annotations

import threading
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """ASGI middleware answering 413 to a request whose body exceeds ``max_bytes`` (by its
    ``Content-Length``, or counted as it streams in), before any route reads it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        # read the whole body first (at most max_bytes), so a body without a length that
        # grows too large is refused before the app sees any of it
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = (
            b'{"detail":"request body larger than the service accepts (%d bytes; '
            b'settings service_max_body_bytes)"}' % self.max_bytes
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """A token bucket per key: ``rate`` requests per second sustained, bursts of up to one
    second's worth."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._buckets: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take one request for ``key``: 0 when allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.setdefault(key, [self.rate, now])
            tokens = min(self.rate, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
            if tokens >= 1.0:
                bucket[0] = tokens - 1.0
                return 0.0
            bucket[0] = tokens
            return (1.0 - tokens) / self.rate

    def state(self) -> dict[str, Any]:
        return {"rate_per_s": self.rate, "keys": len(self._buckets)}
