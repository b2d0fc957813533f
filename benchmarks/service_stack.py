"""What the live-service benchmark (benchmarks/bench_service.py) starts, each through the
project's own code: datasets (``embercast generate``), a model (``embercast train --register``
into an MLflow store of its own), Mosquitto with embercast's configuration and per-device
passwords (:mod:`embercast.service.broker`), ``embercast serve`` with API keys
(``embercast keys create``) and devices registered through its REST API; the load processes
(benchmarks/service_load.py) and the devices' pre-encoded messages they send.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import httpx
import numpy as np

from embercast.features.base import Reading
from embercast.features.edge import EdgeThermal
from embercast.service.broker import SERVICE_USER, set_password, set_passwords, write_broker_config
from embercast.service.simulator import frames_for, load_recordings

LOAD = Path(__file__).with_name("service_load.py")
FEATURE_SET = "extended"
"""The model's features (the champion type's); edge devices compute their thermal part."""
FRAME_CLASSES = "flaming_fire,cooking_gas_stove,occupancy,hot_machinery"
"""Scenarios whose recorded streams (every frame stored) the devices replay."""


class BenchError(RuntimeError):
    """Something the benchmark needs could not be had or started."""


def need(binary: str, package: str) -> str:
    """The path of ``binary``, installing Debian's ``package`` with apt-get when it is missing
    and this runs as root; BenchError otherwise."""

    def find() -> str | None:
        return shutil.which(binary) or next(
            (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if os.path.exists(p)), None
        )

    found = find()
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env,
                       capture_output=True, check=False)  # fmt: skip
        found = find()
    if found is None:
        raise BenchError(f"{binary} (Debian package {package}) is missing and cannot be installed")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_s(pid: int) -> float:
    """CPU time of process ``pid`` so far, user and system (Linux: ``/proc/PID/stat``) [s]."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_s(pid: int) -> float:
    """CPU time of the living child processes of ``pid`` so far (the service's fold workers)
    [s]."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        for child in (task / "children").read_text().split():
            try:
                total += cpu_s(int(child))
            except OSError:  # it ended meanwhile
                pass
    return total


def cli(*args: str, env: dict[str, str], timeout: float = 1800) -> str:
    """Run ``embercast ARGS`` in ``env``; its stdout (BenchError with its output on failure)."""
    done = subprocess.run([sys.executable, "-m", "embercast.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"embercast {' '.join(args[:2])} failed: {done.stderr[-2000:]}")
    return done.stdout


def raise_fd_limit() -> None:
    """Let this process and its children (broker, devices) hold thousands of sockets."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --------------------------------------------------------------------------- data and model


def generate(out: Path, env: dict[str, str], *args: str) -> Path:
    """``embercast generate --out OUT ARGS``, reused when ``out`` holds the same dataset (made
    again when it holds another)."""
    try:
        cli("generate", "--out", str(out), "--workers", "2", *args, env=env)
    except BenchError as exc:
        if "different arguments" not in str(exc):
            raise
        cli("generate", "--out", str(out), "--workers", "2", "--overwrite", *args, env=env)
    return out


def datasets(folder: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """(training features, streams): the extended features of 24 scenarios (no frames), and
    four scenarios with every frame stored, for the devices to replay; kept in ``folder``."""
    train = generate(folder / "service-train", env, "-n", "24", "--seed", "5", "--frames",
                     "none", "--features", FEATURE_SET, "--holdout", "room_size=large")  # fmt: skip
    frames = generate(folder / "service-frames", env, "-n", "4", "--seed", "0", "--frames", "all",
                      "--classes", FRAME_CLASSES)  # fmt: skip
    return train / "features", frames


def train_model(features: Path, env: dict[str, str]) -> str:
    """Train LightGBM on ``features``, registered as ``fire`` (its first version is
    ``fire@champion``) in the MLflow store of ``env``; which version, on how many rows."""
    out = cli("train", str(features), "--model", "gbm", "--alarm-on", "val", "--register",
              "fire", "--json", env=env)  # fmt: skip
    summary = json.loads(out)
    return f"`fire/{summary['version']}`, {summary['rows']:,} training rows"


_VALUES = ("co2_ppm", "temperature_c", "humidity_pct")


def _rest(body: dict[str, Any]) -> bytes:
    """A JSON object's text after its first key, ``, "k": v, ...}``: a message is
    ``{"ts": <ts>`` and this."""
    return b", " + json.dumps(body)[1:].encode()


def streams(dataset: Path, steps: int, path: Path, count: int = 16) -> int:
    """Write to ``path`` the pre-encoded messages of up to ``count`` recorded streams of
    ``dataset`` (those with frames), ``steps`` readings each; how many streams.

    Per stream: its ``frames`` (each message but its ``ts``: ``, "ffc": ..., "gain": ...,
    "data": "<base64>"}``) and per step (frame at t - 1 s, frame at t, the reading, the edge
    row), each reading with the frames the simulator picks for it (cycled when the stream is
    shorter). The edge rows are what an :class:`EdgeThermal` makes of those frames and
    readings, one every 5 s; only their differences in time matter, so they hold for any
    start."""
    out = []
    for rec in load_recordings(dataset, count):
        t_frames = rec.frames["t_s"].to_numpy(dtype=float)
        picked = [(i, frames_for(t_frames, t)) for i, t in enumerate(rec.readings["t_s"])]
        usable = [(i, pair) for i, pair in picked if len(pair) == 2]
        if not usable:
            continue
        edge = EdgeThermal(FEATURE_SET)
        index: dict[int, int] = {}  # frame's row -> its place in ``frames``
        frames: list[bytes] = []
        stream_steps = []
        for k in range(steps):
            i, pair = usable[k % len(usable)]
            t = 1000.0 + 5.0 * k
            for n, at in zip(pair, (t - 1.0, t), strict=True):
                row = rec.frames.iloc[n]
                if n not in index:
                    index[n] = len(frames)
                    data = base64.b64encode(row["frame"]).decode()
                    frames.append(_rest({"ffc": bool(row["ffc"]), "gain": str(row["gain"]),
                                         "data": data}))  # fmt: skip
                pixels = np.frombuffer(row["frame"], "<u2").reshape(120, 160)
                edge.update_frame(at, pixels, bool(row["ffc"]))
            values = [float(rec.readings[c].iloc[i]) for c in _VALUES]
            reading = {
                c: (None if np.isnan(v) else v) for c, v in zip(_VALUES, values, strict=True)
            }
            made = edge.update(Reading(t, *values))
            edge_rest = None
            if made is not None:
                body = made.payload()
                del body["ts"]
                edge_rest = _rest(body)
            stream_steps.append((index[pair[0]], index[pair[1]], _rest(reading), edge_rest))
        name = f"{rec.scenario_id}/{rec.device_id}"
        out.append({"name": name, "frames": frames, "steps": stream_steps})
    if not out:
        raise BenchError(f"{dataset} holds no stream with frames")
    path.write_bytes(pickle.dumps(out))
    return len(out)


# --------------------------------------------------------------------------- the broker


class Broker:
    """Mosquitto in ``folder`` on a free loopback port with embercast's configuration, the
    service's password and one per device of ``devices``."""

    def __init__(self, folder: Path, devices: list[str]) -> None:
        self.binary = need("mosquitto", "mosquitto")
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.port = free_port()
        user = pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else None
        self.config = write_broker_config(folder, port=self.port, user=user)
        self.service_password = set_password(folder, SERVICE_USER)
        self.passwords = set_passwords(folder, devices)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def service_url(self) -> str:
        return f"mqtt://{SERVICE_USER}:{self.service_password}@127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with (self.folder / "mosquitto.log").open("ab") as log:
            self.process = subprocess.Popen([self.binary, "-c", str(self.config)], stdout=log,
                                            stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.process.poll() is None:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise BenchError(f"mosquitto did not start: {(self.folder / 'mosquitto.log').read_text()}")

    def log_tail(self) -> str:
        return (self.folder / "mosquitto.log").read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


# --------------------------------------------------------------------------- the service

_SAMPLE = re.compile(r"^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
Metrics = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_metrics(text: str) -> Metrics:
    """Prometheus text: (name, labels) -> value."""
    out: Metrics = {}
    for line in text.splitlines():
        found = _SAMPLE.match(line)
        if found is not None:
            labels = frozenset(_LABEL.findall(found.group(2) or ""))
            out[(found.group(1), labels)] = float(found.group(3))
    return out


def metric(snapshot: Metrics, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in snapshot.items() if n == name and wanted <= got)


class Service:
    """``embercast serve`` in ``folder`` (its home; MLflow store ``store``), subscribed to
    ``mqtt_url``, with an admin and a read key."""

    def __init__(
        self, folder: Path, store: Path, mqtt_url: str, env: dict[str, str] | None = None
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.env = dict(os.environ, EMBERCAST_CONFIG="", EMBERCAST_MLFLOW_URI=str(store),
                        EMBERCAST_SERVICE_HOME=str(folder / "home"), EMBERCAST_MQTT_URL=mqtt_url,
                        EMBERCAST_CATALOG_PATH=str(folder / "catalog.sqlite"))  # fmt: skip
        self.env |= env or {}

        self.keys = {}
        for scope in ("admin", "read"):
            made = cli("keys", "create", f"bench-{scope}", "--scope", scope, "--json", env=self.env)
            self.keys[scope] = str(json.loads(made)["key"])
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.fold_workers = 0
        """Fold worker processes the service starts (``service_fold_workers``)."""
        self.agents: list[subprocess.Popen[bytes]] = []
        """``embercast agent NAME`` processes beside the service (:meth:`start_agents`)."""
        self.http = httpx.Client(base_url=self.url, timeout=60.0,
                                 headers={"X-API-Key": self.keys["admin"]})  # fmt: skip

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with (self.folder / "serve.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "embercast.cli", "serve", "--port", str(self.port)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                ready = self.http.get("/readyz", timeout=2)  # one client: no TLS setup per poll
                if ready.status_code == 200 and ready.json()["checks"].get("broker") == "ok":
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise BenchError(f"embercast serve never became ready: {self.log_tail()}")

    def log_tail(self) -> str:
        return (self.folder / "serve.log").read_text(errors="replace")[-3000:]

    def metrics(self) -> Metrics:
        return parse_metrics(self.http.get("/metrics").text)

    def register(self, devices: list[tuple[str, str]]) -> None:
        """Register (device id, zone) pairs through ``POST /v1/devices`` (409: there already)."""

        def one(device: tuple[str, str]) -> None:
            body = {"device_id": device[0], "zone": device[1], "name": f"bench {device[0]}"}
            answer = self.http.post("/v1/devices", json=body)
            if answer.status_code not in (201, 409):
                raise BenchError(f"registering {device[0]}: {answer.status_code} {answer.text}")

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, devices))

    def start_agents(self, names: tuple[str, ...]) -> None:
        """Start ``embercast agent NAME`` for each of ``names`` on the service's settings and
        wait until the service sees every one running."""
        for name in names:
            with (self.folder / f"agent-{name}.log").open("ab") as log:
                self.agents.append(subprocess.Popen(
                    [sys.executable, "-m", "embercast.cli", "agent", name],
                    env=self.env, stdout=log, stderr=subprocess.STDOUT,
                ))  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            running = {a["name"] for a in self.http.get("/v1/system").json()["agents"]
                       if a["running"]}  # fmt: skip
            if set(names) <= running:
                return
            time.sleep(0.5)
        raise BenchError(f"agents {names} never all ran: {self.log_tail()}")

    def stop(self) -> None:
        for agent in self.agents:
            agent.send_signal(signal.SIGTERM)
        for agent in self.agents:
            try:
                agent.wait(timeout=60)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()
        self.http.close()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --------------------------------------------------------------------------- load processes


class Child:
    """A load process ``service_load.py MODE`` with ``config``, its files in ``folder``; it
    says when it is ready and counts what it has seen (:attr:`count`)."""

    def __init__(self, mode: str, config: dict[str, Any], folder: Path, name: str) -> None:
        self.name = name
        self.out = folder / f"{name}.out.json"
        self.err = folder / f"{name}.err"
        (folder / f"{name}.json").write_text(json.dumps(config))
        with self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, str(LOAD), mode, str(folder / f"{name}.json"), str(self.out)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
            )  # fmt: skip
        self.ready = threading.Event()
        self.count = 0
        self.cpu_s = 0.0
        """CPU time of the whole process [s] (once finished)."""
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            if line.startswith("ready"):
                self.ready.set()
            elif line.startswith("count "):
                self.count = int(line.split()[1])

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.ready.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise BenchError(f"{self.name} never got ready: {self.err.read_text()[-2000:]}")

    def start_at(self, start: float) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{start!r}\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def finish(self, timeout_s: float) -> dict[str, Any]:
        """Wait for the process to end (killed after ``timeout_s``); what it wrote."""
        deadline = time.monotonic() + timeout_s
        while True:
            pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                self.process.returncode = os.waitstatus_to_exitcode(status)
                self.cpu_s = usage.ru_utime + usage.ru_stime
                break
            if time.monotonic() > deadline:
                self.process.kill()
                deadline = float("inf")
            time.sleep(0.05)
        self._reader.join(5)  # it reads to the end of the process's output
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
        if self.process.returncode != 0 or not self.out.is_file():
            raise BenchError(f"{self.name} failed ({self.process.returncode}): "
                             f"{self.err.read_text()[-2000:]}")  # fmt: skip
        result: dict[str, Any] = json.loads(self.out.read_text())
        return result
