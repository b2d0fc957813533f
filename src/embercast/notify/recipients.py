"""Who is told what: recipients with their Apprise URL, the zones and event kinds routed to them,
and an optional escalation delay, read from a TOML file.

```toml
[[recipient]]
name = "ops"
url = "mailto://smtp.example.org:587?from=embercast@example.org&to=ops@example.org"
kinds = ["alarm", "escalated", "resounded", "reminder", "trouble", "supervisory"]

[[recipient]]
name = "site-manager"
url = "json://hooks.example.org/embercast"
zones = ["kitchen"]
escalate_after_s = 120     # told of an alarm only if nobody acknowledged it within 2 minutes
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from embercast.errors import InputError
from embercast.notify.send import check_url

KINDS: tuple[str, ...] = (
    "alarm", "escalated", "pas_started", "resounded", "reminder", "trouble", "supervisory",
    "isolation_expired", "system_trouble", "system_trouble_cleared", "security_event",
    "security_event_cleared",
)  # fmt: skip
"""Event kinds a recipient may be told of."""

DEFAULT_KINDS: tuple[str, ...] = (
    "alarm", "escalated", "pas_started", "resounded", "reminder", "trouble", "supervisory",
    "system_trouble", "system_trouble_cleared", "security_event", "security_event_cleared",
)  # fmt: skip


@dataclass(frozen=True)
class Recipient:
    """A recipient: ``name``, Apprise ``url``, the ``zones`` (empty: all) and ``kinds`` of event
    routed to them; with ``escalate_after_s``, told of an alarm only when it is still not
    acknowledged that long after it was raised [s]."""

    name: str
    url: str
    zones: tuple[str, ...] = ()
    kinds: tuple[str, ...] = DEFAULT_KINDS
    escalate_after_s: float | None = None

    def wants(self, zone: str, kind: str) -> bool:
        """Whether an event of ``kind`` in ``zone`` is routed to this recipient."""
        return kind in self.kinds and (not self.zones or zone in self.zones)


def load_recipients(path: str) -> list[Recipient]:
    """The recipients of the TOML file ``path``; InputError naming the file and entry for
    anything wrong."""
    try:
        doc = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"recipients file {path!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"recipients file {path!r} is not valid TOML: {exc}") from None
    out: list[Recipient] = []
    for i, entry in enumerate(doc.get("recipient", [])):
        where = f"{path}: recipient {i + 1}"
        unknown = set(entry) - {"name", "url", "zones", "kinds", "escalate_after_s"}
        if unknown:
            raise InputError(f"{where}: unknown keys {sorted(unknown)}")
        if not entry.get("name") or not entry.get("url"):
            raise InputError(f"{where}: needs a name and a url")
        kinds = tuple(entry.get("kinds", DEFAULT_KINDS))
        bad = [k for k in kinds if k not in KINDS]
        if bad:
            raise InputError(f"{where}: unknown event kinds {bad}; known: {', '.join(KINDS)}")
        delay = entry.get("escalate_after_s")
        if delay is not None and not (isinstance(delay, int | float) and delay > 0):
            raise InputError(f"{where}: escalate_after_s must be a positive number of seconds")
        try:
            check_url(entry["url"])
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        out.append(Recipient(entry["name"], entry["url"], tuple(entry.get("zones", ())), kinds,
                             None if delay is None else float(delay)))  # fmt: skip
    names = [r.name for r in out]
    if len(set(names)) != len(names):
        raise InputError(f"{path}: recipient names repeat: {names}")
    return out
