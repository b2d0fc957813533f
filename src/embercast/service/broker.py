"""Configuration of a Mosquitto broker for embercast: listeners, per-device credentials and an
access list by which a device may publish only under its own topics.

:func:`write_broker_config` writes ``mosquitto.conf`` and ``acl`` into a folder;
:func:`set_password` adds or changes a user in its ``passwd`` file (through
``mosquitto_passwd``, which stores salted hashes). A device logs in with its device id as user
name; the ACL's ``%u`` patterns then confine it to ``embercast/v1/devices/<its id>/...``. The
service logs in as its own user, which reads every device topic and writes the service and zone
topics (docs/OPERATIONS.md).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from embercast.errors import EmbercastError, InputError
from embercast.service.messages import DEVICE_ID

SERVICE_USER = "embercast-service"
CONF, ACL, PASSWD = "mosquitto.conf", "acl", "passwd"


class BrokerToolError(EmbercastError, OSError):
    """A Mosquitto tool is missing or failed."""


READER_USER = "homeassistant"
"""The broker account of a home-automation hub (Home Assistant): it reads the zones, the
service's status and the discovery documents, and writes nothing."""


def acl_text(service_user: str = SERVICE_USER) -> str:
    """The access list: the service reads every device topic, writes devices' ``commands``
    and its own topics; the reader (:data:`READER_USER`) reads the zones and the discovery
    documents; each device writes its ``scd41``, ``thermal``, ``state`` (retained) and
    ``commands/ack`` and reads its ``commands``, its ``state`` and the service's status, all
    under its own id (``%u``, its user name): nothing of another device."""
    return "\n".join(
        [
            f"user {service_user}",
            "topic read embercast/v1/devices/#",
            "topic write embercast/v1/devices/+/commands",
            "topic readwrite embercast/v1/service/#",
            "topic readwrite embercast/v1/zones/#",
            "topic write homeassistant/#",
            "",
            f"user {READER_USER}",
            "topic read embercast/v1/zones/#",
            "topic read homeassistant/#",
            "",
            "pattern write embercast/v1/devices/%u/scd41",
            "pattern write embercast/v1/devices/%u/thermal",
            "pattern readwrite embercast/v1/devices/%u/state",
            "pattern write embercast/v1/devices/%u/commands/ack",
            "pattern read embercast/v1/devices/%u/commands",
            "pattern read embercast/v1/service/status",
            "",
        ]
    )


def write_broker_config(
    folder: str | Path,
    *,
    port: int = 1883,
    host: str = "127.0.0.1",
    tls: tuple[str, str] | None = None,
    user: str | None = None,
    service_user: str = SERVICE_USER,
) -> Path:
    """Write ``mosquitto.conf`` and ``acl`` into ``folder`` (persistence in ``folder/data``);
    the config's path. ``tls`` is (certificate, key) for a TLS listener; ``user`` the account
    Mosquitto runs as when started as root (its default drops to ``mosquitto``, which must then
    be able to read the folder)."""
    root = Path(folder).resolve()
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / ACL).write_text(acl_text(service_user))
    (root / PASSWD).touch(mode=0o600, exist_ok=True)
    lines = [
        "per_listener_settings false",
        f"listener {port} {host}",
        "allow_anonymous false",
        f"password_file {root / PASSWD}",
        f"acl_file {root / ACL}",
        "persistence true",
        f"persistence_location {root / 'data'}/",
        "autosave_interval 1",
        # the service acknowledges a message once it is stored: let many be in flight
        "max_inflight_messages 1000",
        "max_queued_messages 1000000",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
    ]
    if tls is not None:
        lines += [f"certfile {tls[0]}", f"keyfile {tls[1]}"]
    if user is not None:
        lines.append(f"user {user}")
    path = root / CONF
    path.write_text("\n".join(lines) + "\n")
    return path


def _passwd_tool() -> str:
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        raise BrokerToolError(
            "mosquitto_passwd is not installed (Debian: apt-get install mosquitto)"
        )
    return tool


def _check_user(user: str) -> str:
    if user != SERVICE_USER and not DEVICE_ID.match(user):
        raise InputError(f"{user!r} is not a device id (letters, digits and _ . : -)")
    return user


def set_passwords(folder: str | Path, users: Iterable[str]) -> dict[str, str]:
    """Add many new ``users`` to ``folder``'s password file at once (one ``mosquitto_passwd
    -U`` over a plain-text file, salted hashes as :func:`set_password` writes); user ->
    generated password. Users already in the file are refused (change those one at a time)."""
    passwd = Path(folder) / PASSWD
    passwd.touch(mode=0o600, exist_ok=True)
    known = {line.split(":", 1)[0] for line in passwd.read_text().splitlines() if line}
    passwords = {_check_user(u): secrets.token_urlsafe(24) for u in users}
    if not passwords:
        return {}
    again = sorted(known & passwords.keys())
    if again:
        raise InputError(f"already in {passwd}: {', '.join(again[:5])} (use set_password)")
    tool = _passwd_tool()
    handle, plain = tempfile.mkstemp(dir=folder, prefix=".passwd-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            out.write("".join(f"{u}:{p}\n" for u, p in passwords.items()))
        done = subprocess.run([tool, "-U", plain], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BrokerToolError(f"mosquitto_passwd failed: {done.stderr.strip() or done.stdout}")
        with passwd.open("a") as target:
            target.write(Path(plain).read_text())
    finally:
        os.unlink(plain)
    os.chmod(passwd, 0o600)
    return passwords


def set_password(folder: str | Path, user: str, password: str | None = None) -> str:
    """Add ``user`` (a device id or the service's user) to ``folder``'s password file, or give
    it a new password; the password (generated when none is given). BrokerToolError when
    ``mosquitto_passwd`` is missing or fails. Mosquitto re-reads the file on SIGHUP."""
    _check_user(user)
    tool = _passwd_tool()
    password = password or secrets.token_urlsafe(24)
    passwd = Path(folder) / PASSWD
    passwd.touch(mode=0o600, exist_ok=True)
    done = subprocess.run(
        [tool, "-b", str(passwd), user, password], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BrokerToolError(f"mosquitto_passwd failed: {done.stderr.strip() or done.stdout}")
    os.chmod(passwd, 0o600)
    return password
