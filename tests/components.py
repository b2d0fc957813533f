"""Real components the tests start and stop themselves: Debian packages installed when missing
(as root), and a Mosquitto broker on a free loopback port with embercast's configuration.

A test that needs a component that cannot be had is skipped with the reason, and fails under
``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from embercast.service.broker import SERVICE_USER, set_password, write_broker_config
from helpers import free_port


def need(binary: str, package: str) -> str:
    """The path of ``binary``, installing Debian's ``package`` when it is missing and the tests
    run as root; else skip (fail under CI=true)."""
    found = shutil.which(binary) or (
        f"/usr/sbin/{binary}" if os.path.exists(f"/usr/sbin/{binary}") else None
    )
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env,
                       capture_output=True, check=False)  # fmt: skip
        found = shutil.which(binary) or (
            f"/usr/sbin/{binary}" if os.path.exists(f"/usr/sbin/{binary}") else None
        )
    if found is None:
        reason = (
            f"{binary} (Debian package {package}) is not installed and cannot be installed here"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


class Mosquitto:
    """A Mosquitto broker in ``folder`` on a free loopback port, with a password for the service
    and for each device of ``devices``; ``start``, ``stop`` (SIGTERM: it saves its persistence),
    ``kill`` (SIGKILL)."""

    def __init__(self, folder: Path, devices: list[str]) -> None:
        self.binary = need("mosquitto", "mosquitto")
        need("mosquitto_passwd", "mosquitto")
        self.folder = folder
        self.port = free_port()
        self.config = write_broker_config(folder, port=self.port, user="root")
        self.service_password = set_password(folder, SERVICE_USER)
        self.passwords = {d: set_password(folder, d) for d in devices}
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, user: str = SERVICE_USER) -> str:
        password = self.service_password if user == SERVICE_USER else self.passwords[user]
        return f"mqtt://{user}:{password}@127.0.0.1:{self.port}"

    def start(self) -> None:
        log = (self.folder / "mosquitto.log").open("ab")
        self.process = subprocess.Popen([self.binary, "-c", str(self.config)], stdout=log,
                                        stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(
            f"mosquitto did not start: {(self.folder / 'mosquitto.log').read_text()}"
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)
        self.process = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)
        self.process = None


def wait_http(
    url: str,
    ready: Callable[[httpx.Response], bool] = lambda r: r.status_code == 200,
    *,
    process: subprocess.Popen[Any] | None = None,
    timeout_s: float = 60.0,
    verify: Any = True,
    refused_is_ready: bool = False,
) -> httpx.Response | None:
    """Poll ``url`` every 0.2 s through one client until ``ready(response)``, and return that
    response (None when a refused connection counts as ready, ``refused_is_ready``); fail if
    ``process`` exits first or ``timeout_s`` passes. One client: a new one per request costs tens
    of milliseconds of CPU (its TLS context), taken from the process being waited for."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0, verify=verify) as client:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise AssertionError(f"{url}: the process exited with {process.returncode}")
            try:
                response = client.get(url)
                if ready(response):
                    return response
            except httpx.HTTPError:
                if refused_is_ready:
                    return None
            time.sleep(0.2)
    raise AssertionError(f"{url} never became {'unready' if refused_is_ready else 'ready'}")


def serve(env: dict[str, str], port: int, needs: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    """``embercast serve`` on ``port`` with ``env``, once ``/readyz`` answers 200 (and its
    checks ``needs``, e.g. ``broker``, are ok); killed if it never does."""
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "embercast.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def ready(answer: httpx.Response) -> bool:
        checks = answer.json()["checks"] if answer.status_code == 200 else {}
        return answer.status_code == 200 and all(checks.get(n) == "ok" for n in needs)

    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", ready, process=process)
    except AssertionError:
        process.kill()
        raise AssertionError(
            f"the service never became ready ({', '.join(needs) or 'model, store'})"
        ) from None
    return process


class Redis:
    """A ``redis-server`` in ``folder`` on a free loopback port, appending every write to its
    log before answering (``appendonly yes``, ``appendfsync always``): ``start``, ``stop``,
    ``kill`` (SIGKILL; a restart reads the log back)."""

    def __init__(self, folder: Path) -> None:
        self.binary = need("redis-server", "redis-server")
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port),
                "--dir", str(self.folder), "--save", "", "--appendonly", "yes",
                "--appendfsync", "always"]  # fmt: skip
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"redis did not start: {(self.folder / 'redis.log').read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)
        self.process = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)
        self.process = None


class WebhookReceiver:
    """A local HTTP server taking webhook POSTs on a free loopback port; it answers 500 to the
    first ``fail_first`` requests, then 200. ``received`` holds every request (status, headers,
    JSON body); ``accepted`` those answered 200."""

    def __init__(self, fail_first: int = 0) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.fail_first = fail_first
        self.received: list[dict[str, object]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = 500 if len(receiver.received) < receiver.fail_first else 200
                receiver.received.append({"status": status, "headers": dict(self.headers),
                                          "body": json.loads(body or b"{}")})  # fmt: skip
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}{path}"

    @property
    def accepted(self) -> list[dict[str, object]]:
        return [r for r in self.received if r["status"] == 200]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpServer:
    """A local SMTP server (aiosmtpd) on a free loopback port; it answers ``451`` (try later) to
    the first ``fail_first`` messages, then takes them. ``messages`` holds the ones taken (the
    envelope's recipients and the raw content); ``refused`` counts the others."""

    def __init__(self, fail_first: int = 0) -> None:
        from aiosmtpd.controller import Controller

        self.fail_first = fail_first
        self.messages: list[dict[str, object]] = []
        self.refused = 0
        server = self

        class Handler:
            async def handle_DATA(self, _server: object, _session: object, envelope: object) -> str:  # noqa: N802
                if server.refused < server.fail_first:
                    server.refused += 1
                    return "451 Requested action aborted: try again later"
                server.messages.append({"to": list(envelope.rcpt_tos),  # type: ignore[attr-defined]
                                        "content": envelope.content})  # type: ignore[attr-defined]  # fmt: skip
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def url(self, to: str = "ops@example.org") -> str:
        return f"mailto://127.0.0.1:{self.port}?from=embercast@example.org&to={to}"

    def stop(self) -> None:
        self.controller.stop()
