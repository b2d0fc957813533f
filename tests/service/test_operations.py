"""docs/OPERATIONS.md, run: every block of the page in order, as an operator would, on a
temporary root.

The page's paths (``/opt/embercast``, ``/etc/embercast``, ``/var/lib/embercast``, ...) move under
the test's root and its ports 8000 and 1883 to free ones. ``sh`` blocks run in one bash session
(``set -euo pipefail``: any failing command fails the test), where ``systemctl`` and
``journalctl`` are a stand-in that runs the unit files' ``ExecStart`` with a clean environment
(no systemd here). ``toml`` and ``ini`` blocks are written to the file their first line names;
units are checked with ``systemd-analyze verify``. A ``<!-- test: ... -->`` comment before a
block names what goes wrong before it (the runbook's failures). The compose file's services are
then run as processes with their commands and environments.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from components import need, wait_http
from helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "OPERATIONS.md"
_BLOCK = re.compile(
    r"(?:<!-- test: (?P<action>[^>]*?) -->\n)?```(?P<lang>\w+)\n(?P<body>.*?)```", re.S
)
_CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# systemctl and journalctl for the units of $OPS_ROOT/etc/systemd/system: processes started in
# their own session, pid files in $OPS_ROOT/run, output in $OPS_ROOT/log/<unit>.log
_SHIM = r"""
import os, shlex, signal, subprocess, sys, time
from pathlib import Path

ROOT = Path(os.environ["OPS_ROOT"])
UNITS, RUN, LOGS = ROOT / "etc/systemd/system", ROOT / "run", ROOT / "log"


def unit(name):
    name = name if name.endswith(".service") else name + ".service"
    sections, current = {}, {}
    for raw in (UNITS / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, value = line.split("=", 1)
        current.setdefault(key, []).append(value)
    return name, sections["Service"]


def pid(name):
    path = RUN / (name + ".pid")
    if not path.exists():
        return None
    number = int(path.read_text())
    try:
        state = Path(f"/proc/{number}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None
    return None if state in ("Z", "X") else number


def start(name):
    name, svc = unit(name)
    if pid(name):
        return
    env = {"PATH": os.environ["CLEAN_PATH"], "HOME": os.environ.get("HOME", "/root")}
    for item in svc.get("Environment", []):
        key, value = item.split("=", 1)
        env[key] = value
    cwd = svc.get("WorkingDirectory", ["/"])[0]
    LOGS.mkdir(parents=True, exist_ok=True)
    RUN.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / (name + ".log"), "ab")
    proc = subprocess.Popen(shlex.split(svc["ExecStart"][0]), cwd=cwd, env=env, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    (RUN / (name + ".pid")).write_text(str(proc.pid))
    time.sleep(1.0)
    if proc.poll() is not None:
        sys.exit(f"{name} exited at once ({proc.returncode}): see journalctl -u {name}")


def stop(name, sig=signal.SIGTERM):
    name, svc = unit(name)
    number = pid(name)
    if number:
        os.kill(number, sig)
        deadline = time.monotonic() + float(svc.get("TimeoutStopSec", ["90"])[0])
        while pid(name) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid(name):
            os.kill(number, signal.SIGKILL)
    (RUN / (name + ".pid")).unlink(missing_ok=True)


def reload(name):
    name, svc = unit(name)
    command = svc["ExecReload"][0].replace("$MAINPID", str(pid(name)))
    subprocess.run(shlex.split(command), check=True)


def systemctl(args):
    verb, rest = args[0], list(args[1:])
    sig = signal.SIGTERM
    if "-s" in rest:
        at = rest.index("-s")
        sig = signal.Signals["SIG" + rest[at + 1]]
        del rest[at : at + 2]
    names = [a for a in rest if not a.startswith("-")]
    if verb == "daemon-reload":
        return
    if verb == "enable":
        if "--now" in args:
            for name in names:
                start(name)
        return
    if verb == "kill":
        for name in names:
            stop(name, sig)
        return
    action = {"start": start, "stop": stop, "reload": reload,
              "restart": lambda n: (stop(n), start(n))}[verb]
    for name in names:
        action(name)


def journalctl(args):
    name = args[args.index("-u") + 1]
    name = name if name.endswith(".service") else name + ".service"
    lines = int(args[args.index("-n") + 1]) if "-n" in args else 10
    path = LOGS / (name + ".log")
    text = path.read_text(errors="replace") if path.exists() else ""
    print("\n".join(text.splitlines()[-lines:]))


{"systemctl": systemctl, "journalctl": journalctl}[Path(sys.argv[0]).name](sys.argv[1:])
"""


@dataclass
class Block:
    lang: str
    body: str
    action: str | None


def _blocks(text: str) -> list[Block]:
    return [Block(m["lang"], m["body"], m["action"]) for m in _BLOCK.finditer(text)]


class Operator:
    """A bash session on the temporary root, running blocks one by one."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.bash = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], cwd=root, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.run("set -euo pipefail", "prelude")

    def _read(self) -> None:
        assert self.bash.stdout is not None
        for line in self.bash.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def run(self, script: str, name: str, timeout_s: float = 600.0) -> str:
        path = self.root / "blocks" / f"{name}.sh"
        path.parent.mkdir(exist_ok=True)
        path.write_text(script)
        marker = f"__done_{name}__"
        assert self.bash.stdin is not None
        # the block reads nothing from this session's input (its next commands)
        self.bash.stdin.write(f"source {shlex.quote(str(path))} < /dev/null\necho {marker}\n")
        self.bash.stdin.flush()
        out: list[str] = []
        started = time.monotonic()
        deadline = started + timeout_s
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"block {name} ran over {timeout_s} s:\n{''.join(out)}"
                ) from None
            if line is None:
                raise AssertionError(
                    f"block {name} failed (exit {self.bash.wait()}):\n{script}\n--- output\n"
                    + "".join(out)
                )
            if line.rstrip().endswith(marker):  # output without a last newline comes first
                out.append(line.rstrip()[: -len(marker)])
                took = time.monotonic() - started
                sys.stdout.write(f"--- block {name} ({took:.1f} s)\n{''.join(out)}\n")
                return "".join(out)
            out.append(line)

    def close(self) -> None:
        if self.bash.poll() is None:
            self.bash.kill()


@dataclass
class Place:
    root: Path
    port: int
    broker_port: int

    def rewrite(self, text: str) -> str:
        """The page's paths and ports moved to the test's root and free ports."""
        for real, moved in (
            ("/opt/embercast", str(ROOT)),
            ("/etc/systemd/system", str(self.root / "etc/systemd/system")),
            ("/etc/embercast", str(self.root / "etc/embercast")),
            ("/var/lib/embercast", str(self.root / "var/lib/embercast")),
            ("/var/backups/embercast", str(self.root / "var/backups/embercast")),
            ("/usr/local/bin", str(self.root / "usr/local/bin")),
        ):
            text = text.replace(real, moved)
        text = re.sub(r"\b8000\b", str(self.port), text)
        return re.sub(r"\b1883\b", str(self.broker_port), text)

    def file_of(self, body: str) -> Path:
        first = body.splitlines()[0]
        assert first.startswith("# /"), f"a config block starts with '# /path': {first!r}"
        return Path(first[2:].strip())


@pytest.fixture
def place() -> Iterator[Place]:
    # a root the broker (run as mosquitto) can traverse, unlike pytest's 0700 folders
    root = Path(tempfile.mkdtemp(prefix="embercast-ops-"))
    root.chmod(0o755)
    place = Place(root, free_port(), free_port())
    try:
        yield place
    finally:
        for pid_file in (root / "run").glob("*.pid"):
            try:
                os.killpg(int(pid_file.read_text()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        subprocess.run(["rm", "-rf", str(root)], check=False)


def _wait(url: str, ready: bool) -> None:
    wait_http(url, lambda r: (r.status_code == 200) == ready, refused_is_ready=not ready)


@pytest.mark.timeout(900)
def test_every_example_of_operations_md_runs(place: Place, features: Path) -> None:
    for binary, package in (("mosquitto", "mosquitto"), ("mosquitto_passwd", "mosquitto"),
                            ("jq", "jq"), ("curl", "curl"), ("openssl", "openssl"),
                            ("systemd-analyze", "systemd")):  # fmt: skip
        need(binary, package)
    root = place.root
    shim = root / "shim"
    shim.mkdir()
    for name in ("systemctl", "journalctl"):
        (shim / name).write_text(f"#!{sys.executable}\n{_SHIM}")
        (shim / name).chmod(0o755)
    for folder in ("usr/local/bin", "etc/systemd/system", "var/backups/embercast"):
        (root / folder).mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMBERCAST_")}
    env.update(
        PATH=f"{root / 'usr/local/bin'}:{shim}:{_CLEAN_PATH}", OPS_ROOT=str(root),
        CLEAN_PATH=_CLEAN_PATH, FEATURES=str(features), HOME=str(root),
    )  # fmt: skip
    api = f"http://127.0.0.1:{place.port}"
    operator = Operator(root, env)
    compose: dict[str, object] | None = None
    ran = {"sh": 0, "ini": 0, "toml": 0}
    try:
        for i, block in enumerate(_blocks(DOC.read_text())):
            body = place.rewrite(block.body)
            if block.action == "kill embercast-broker":
                operator.run("systemctl kill -s KILL embercast-broker", f"{i}-action")
                _wait(f"{api}/readyz", ready=False)
            elif block.action == 'set model_ref = "fire@champoin" and restart embercast':
                config = root / "etc/embercast/embercast.toml"
                config.write_text(config.read_text() + 'model_ref = "fire@champoin"\n')
                operator.run("systemctl restart embercast", f"{i}-action")
                _wait(f"{api}/healthz", ready=True)
            elif block.action is not None:
                raise AssertionError(
                    f"OPERATIONS.md asks for an unknown test action: {block.action}"
                )
            if block.lang == "sh":
                operator.run(body, f"{i}-sh")
            elif block.lang in ("toml", "ini"):
                target = place.file_of(body)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(body)
                if block.lang == "ini":
                    checked = subprocess.run(
                        ["systemd-analyze", "verify", str(target)],
                        capture_output=True, text=True, check=False,
                    )  # fmt: skip
                    assert checked.returncode == 0 and not checked.stderr.strip(), checked.stderr
            elif block.lang == "yaml":
                compose = yaml.safe_load(body)
                continue
            else:
                raise AssertionError(f"a block in an unexpected language: {block.lang}")
            ran[block.lang] += 1
        operator.run("systemctl stop embercast embercast-broker", "stop")
    finally:
        operator.close()
    assert ran["sh"] >= 10 and ran["ini"] == 2 and ran["toml"] == 2, ran  # settings, recipients
    assert compose is not None, "OPERATIONS.md has no compose file"
    _run_compose(place, compose, env)


def _run_compose(place: Place, compose: dict[str, object], env: dict[str, str]) -> None:
    """Each service of the compose file as a process: its command with its environment (the
    broker's password taken from the settings, service names as host names on loopback)."""
    services = compose["services"]
    assert isinstance(services, dict) and set(services) == {"broker", "embercast"}
    build = services["embercast"]["build"]
    assert (Path(build["context"]) / build["dockerfile"]).is_file()
    config = (place.root / "etc/embercast/embercast.toml").read_text()
    password = re.search(r"mqtt://embercast-service:([^@]+)@", config)
    assert password is not None
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name in ("broker", "embercast"):
            service = services[name]
            environment = {
                key: str(value)
                .replace("${BROKER_PASSWORD}", password[1])
                .replace("@broker:", "@127.0.0.1:")
                for key, value in (service.get("environment") or {}).items()
            }
            process_env = dict(env, **environment)
            command = shlex.split(service["command"])
            log = (place.root / "log" / f"compose-{name}.log").open("ab")
            processes.append(subprocess.Popen(command, env=process_env, cwd=place.root,
                                              stdout=log, stderr=subprocess.STDOUT))  # fmt: skip
        cert = ssl.create_default_context(cafile=str(place.root / "etc/embercast/tls.crt"))
        url = f"https://127.0.0.1:{place.port}/readyz"
        answer = wait_http(
            url,
            lambda r: r.status_code == 200 and r.json()["checks"].get("broker") == "ok",
            verify=cert,
        )
        assert answer is not None
        checks = answer.json()["checks"]
        assert checks.get("broker") == "ok" and checks.get("model") == "ok", checks
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
