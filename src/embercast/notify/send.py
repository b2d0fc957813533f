"""Sending one notification to one Apprise URL, with what went wrong when it did not go.

An Apprise URL names a channel and its address: ``json://host:port/path`` (a webhook POSTing
JSON), ``mailto://host:port?from=...&to=...`` (SMTP), ``slack://...``, ``ntfy://...`` and the
other services Apprise knows. Webhook URLs (``json``, ``form``, ``xml`` and their ``s``
variants) carry the event's id in the ``X-Embercast-Event`` header, so a receiver can drop a
repeat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote

import apprise

from embercast.errors import InputError

logger = logging.getLogger(__name__)

EVENT_HEADER = "X-Embercast-Event"
"""Header of webhook notifications that holds the event's id."""

_WEBHOOKS = ("json://", "jsons://", "form://", "forms://", "xml://", "xmls://")


@dataclass(frozen=True)
class Sent:
    """The outcome of one attempt: whether the channel took it, and what it said if not."""

    ok: bool
    detail: str = ""


def with_event(url: str, event_id: str) -> str:
    """``url`` with the event id header added when it is a webhook URL."""
    if not url.startswith(_WEBHOOKS):
        return url
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}+{EVENT_HEADER}={quote(event_id, safe='')}"


def check_url(url: str) -> None:
    """InputError when Apprise cannot use ``url`` (unknown scheme, missing parts)."""
    if not apprise.Apprise().add(url):
        scheme = url.split("://", 1)[0] if "://" in url else url
        raise InputError(f"not a usable notification URL (Apprise): {scheme}://...")


def send(url: str, title: str, body: str, event_id: str) -> Sent:
    """Send ``title`` and ``body`` to ``url``; what came of it."""
    channel = apprise.Apprise()
    if not channel.add(with_event(url, event_id)):
        return Sent(False, "not a usable notification URL")
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:  # type: ignore[no-untyped-call]
        ok = bool(channel.notify(title=title, body=body))
        said = " ".join(captured.getvalue().split())
    if not ok:
        logger.warning("notification %s not taken: %s", event_id, said or "no reason given")
    return Sent(ok, "" if ok else (said or "the channel refused it")[:500])
