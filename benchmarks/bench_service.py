"""Load benchmarks of the live service (the "Live service" section of BENCHMARKS.md): devices
over MQTT sending raw frames or edge rows at their real rates, from publish to the risk a
client sees, none lost; and single-row ``POST /v1/predict`` under ``wrk``. Each beside a
baseline timed in the same run: the broker alone with a plain subscriber for the same
messages, ``GET /healthz`` for the HTTP stack.

Everything runs as it would in use (:mod:`service_stack`): Mosquitto with embercast's
configuration and a password per device, ``embercast serve`` subscribed to it with a LightGBM
model trained on a generated dataset, devices registered through the REST API. The load
(:mod:`service_load`) runs in processes of its own, with its messages encoded beforehand; every
process's CPU is measured.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from service_stack import (
    BenchError,
    Broker,
    Child,
    Metrics,
    Service,
    children_cpu_s,
    cpu_s,
    datasets,
    metric,
    need,
    raise_fd_limit,
    streams,
    train_model,
)

from embercast.service.broker import SERVICE_USER

RAW_GOAL = 500
"""Raw-frame devices the service should take (issue: MQTT load) [-]."""
EDGE_GOAL = 5_000
"""Edge-feature devices the service should take [-]."""
MQTT_P99_MS = 250.0
"""Goal for the 99th percentile from a reading's publication to its risk at a client [ms]."""
REST_RPS, REST_P99_MS = 1_000.0, 15.0
"""Goal for single-row ``POST /v1/predict``: requests/s with a p99 under this [ms]."""
FLEET_SIZE = 2_500
"""Devices per load process."""
ZONE_SIZE = 50
"""Devices per zone."""


@dataclass(frozen=True)
class Sizes:
    """How much to run: raw-frame and edge device counts (one service run each, the largest
    also with the broker alone), seconds of sending per run, the longest wait for the service
    to catch up afterwards [s], seconds per ``wrk`` run and its connection counts."""

    raw: tuple[int, ...]
    edge: tuple[int, ...]
    send_s: float
    drain_s: float
    rest_s: float
    connections: tuple[int, ...]
    fold_edge: tuple[int, ...] = ()
    """Edge device counts run again with ``fold_workers`` fold worker processes."""
    fold_workers: int = 1
    apart_edge: tuple[int, ...] = ()
    """Edge device counts run again with the agents in processes of their own (``AGENTS``)."""


FULL = Sizes(raw=(100, 250, 500), edge=(1_000, 2_500, 5_000), send_s=60.0, drain_s=60.0,
             rest_s=15.0, connections=(1, 4, 16), fold_edge=(2_500, 5_000),
             apart_edge=(5_000,))  # fmt: skip
AGENTS = ("zones", "monitoring", "drift", "shadow", "learning")
"""The agents a large fleet's service leaves to processes of their own (``*_in_service``)."""
APART = {
    "EMBERCAST_ZONES_IN_SERVICE": "false",
    "EMBERCAST_MONITORING_IN_SERVICE": "false",
    "EMBERCAST_LEARNING_DRIFT_IN_SERVICE": "false",
    "EMBERCAST_LEARNING_SHADOW_IN_SERVICE": "false",
    "EMBERCAST_LEARNING_IN_SERVICE": "false",
}
"""The settings that leave :data:`AGENTS` to their processes."""
QUICK = Sizes(raw=(10,), edge=(50,), send_s=10.0, drain_s=30.0, rest_s=3.0, connections=(1, 4))


@dataclass
class MqttRun:
    """One run of devices over MQTT: ``service`` (else the broker with a plain subscriber)."""

    devices: int
    edge: bool
    service: bool
    published: int
    acked: int
    readings: int
    send_s: float
    latencies_ms: list[float] = field(repr=False)
    outcomes: dict[str, int]
    """The service's count of the messages by outcome (stored, duplicate, dead_letter), or
    what the subscriber received (``received``)."""
    skipped: int
    """Events the service's stream skipped for the client (it fell behind)."""
    caught_up: bool
    drain_s: float
    cores: dict[str, float]
    """Mean CPU use of each process over the run [cores]."""
    lag_p99_ms: float
    """How late the load process published, 99th percentile [ms]."""
    dropped: int
    """Device connections lost during the run."""
    fold_workers: int = 0
    """Fold worker processes beside the service (0: it folds every device itself)."""
    agents_apart: int = 0
    """Agent processes beside the service (0: its agents run in it)."""

    @property
    def counted(self) -> int:
        return sum(self.outcomes.values())

    @property
    def kept(self) -> int:
        """Messages stored (or received by the subscriber)."""
        return self.outcomes.get("stored", self.outcomes.get("received", 0))

    @property
    def lost(self) -> int:
        """Messages published and never counted (by the service, or the subscriber)."""
        return self.published - self.counted

    @property
    def rate(self) -> float:
        return self.published / self.send_s

    def pct(self, q: float) -> float:
        """The ``q``-th percentile of the latencies [ms] (NaN without any)."""
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else math.nan


@dataclass
class WrkRun:
    """One wrk run: ``target`` at ``connections``, its figures and the processes' CPU."""

    target: str
    connections: int
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cores: dict[str, float]
    service_mean_ms: float
    """The service's own time to answer (``embercast_request_seconds``), mean [ms]."""


# --------------------------------------------------------------------------- MQTT


def fleet_configs(
    broker: Broker, devices: list[str], edge: bool, n_streams: int, stream_file: Path, send_s: float
) -> list[dict[str, Any]]:
    """Configurations of the load processes for ``devices``: each device on a stream (cycled)
    with its phase spread evenly over a period, from 1 s on (its first frame is at 0)."""
    rows = [
        [d, broker.passwords[d], i % n_streams, 1.0 + 5.0 * (i + 0.5) / len(devices)]
        for i, d in enumerate(devices)
    ]
    common = {"host": "127.0.0.1", "port": broker.port, "streams": str(stream_file)}
    return [
        common | {"edge": edge, "duration_s": send_s, "devices": rows[k : k + FLEET_SIZE]}
        for k in range(0, len(rows), FLEET_SIZE)
    ]


OUTCOMES = ("stored", "duplicate", "dead_letter")


def _ingested(service: Service) -> dict[str, int]:
    """Messages over MQTT by outcome, from ``embercast_ingest_messages_total``."""
    snap = service.metrics()
    name = "embercast_ingest_messages_total"
    return {k: int(metric(snap, name, source="mqtt", outcome=k)) for k in OUTCOMES}


def _watcher(broker: Broker, service: Service | None, work: Path, name: str) -> Child:
    """A client of the service's event stream, or a plain subscriber to the broker."""
    if service is not None:
        url = f"{service.url}/v1/live/events"
        return Child("listen", {"url": url, "key": service.keys["read"]}, work, f"{name}-listen")
    config: dict[str, Any] = {"host": "127.0.0.1", "port": broker.port, "user": SERVICE_USER,
                              "password": broker.service_password}  # fmt: skip
    return Child("subscribe", config, work, f"{name}-subscribe")


def _catch_up(
    service: Service | None, watcher: Child, before: int, published: int, readings: int,
    drain_s: float,
) -> bool:  # fmt: skip
    """Wait until every message is counted and (with the service) every reading's risk seen;
    at most ``drain_s``, or 20 s without progress. Whether it got there."""
    deadline = time.monotonic() + drain_s
    last, last_change = (-1, -1), time.monotonic()
    while True:
        if service is not None:
            counted = sum(_ingested(service).values()) - before
        else:
            counted = watcher.count
        seen = watcher.count if service is not None else readings
        if counted >= published and seen >= readings:
            return True
        if (counted, seen) != last:
            last, last_change = (counted, seen), time.monotonic()
        if time.monotonic() > deadline or time.monotonic() - last_change > 20:
            return False
        time.sleep(0.5)


def mqtt_run(
    broker: Broker,
    service: Service | None,
    devices: list[str],
    edge: bool,
    streams_at: tuple[Path, int],
    sizes: Sizes,
    work: Path,
) -> MqttRun:
    """``devices`` send for ``sizes.send_s`` the messages of the streams in ``streams_at``
    (file, count); with ``service`` a client follows its event stream, else a plain subscriber
    takes the messages from the broker."""
    name = f"{'edge' if edge else 'raw'}-{len(devices)}-{'service' if service else 'broker'}"
    watcher = _watcher(broker, service, work, name)
    watcher.wait_ready(60)
    before = _ingested(service) if service is not None else dict.fromkeys(OUTCOMES, 0)
    configs = fleet_configs(broker, devices, edge, streams_at[1], streams_at[0], sizes.send_s)
    fleets = [Child("fleet", c, work, f"{name}-fleet{k}") for k, c in enumerate(configs)]
    for f in fleets:
        f.wait_ready(120 + len(devices) / 20)
    pids = {"mosquitto": broker.pid} | ({"service": service.pid} if service else {})
    cpu0 = {k: cpu_s(p) for k, p in pids.items()}
    workers0 = children_cpu_s(service.pid) if service else 0.0
    agents0 = sum(cpu_s(a.pid) for a in service.agents) if service else 0.0
    start = time.time() + 0.5
    for f in fleets:
        f.start_at(start)
    outs = [f.finish(sizes.send_s + 180) for f in fleets]
    if broker.process is None or broker.process.poll() is not None:
        raise BenchError(f"mosquitto stopped during the run: {broker.log_tail()}")
    dropped = [d for o in outs for d in o["dropped"]]
    if dropped:
        print(f"{len(dropped)} device connections lost, e.g. {dropped[:3]}", flush=True)
    published = sum(o["published"] for o in outs)
    sent = {(d, round(t, 3)): at for o in outs for d, t, at in o["readings"]}
    sending_s = max(o["sending_s"] for o in outs)
    drain_began = time.monotonic()
    caught_up = _catch_up(service, watcher, sum(before.values()), published, len(sent),
                          sizes.drain_s)  # fmt: skip
    drain_s = time.monotonic() - drain_began
    if service is not None:
        time.sleep(0.5)  # events on their way to the client
        outcomes = {k: v - before[k] for k, v in _ingested(service).items()}
    end = time.time()
    cores = {k: (cpu_s(p) - cpu0[k]) / (end - start) for k, p in pids.items()}
    if service is not None and service.fold_workers:
        cores["fold workers"] = (children_cpu_s(service.pid) - workers0) / (end - start)
    if service is not None and service.agents:
        cores["agent processes"] = (sum(cpu_s(a.pid) for a in service.agents) - agents0) / (
            end - start
        )
    watcher.stop()
    seen = watcher.finish(60)
    cores["load processes"] = sum(o["cpu_s"] for o in outs) / max(o["busy_s"] for o in outs)
    cores["event client" if service else "subscriber"] = watcher.cpu_s / (end - start)
    first: dict[tuple[str, float], float] = {}
    for d, t, at in seen["records"]:
        first.setdefault((d, round(t, 3)), at)
    if service is None:
        outcomes = {"received": seen["received"]}
    return MqttRun(
        devices=len(devices), edge=edge, service=service is not None, published=published,
        acked=sum(o["acked"] for o in outs), readings=len(sent), send_s=sending_s,
        latencies_ms=[1e3 * (first[k] - at) for k, at in sent.items() if k in first],
        outcomes=outcomes,
        skipped=int(seen.get("skipped", 0)), caught_up=caught_up, drain_s=drain_s, cores=cores,
        lag_p99_ms=1e3 * max(o["lag_p99_s"] for o in outs), dropped=len(dropped),
        fold_workers=service.fold_workers if service else 0,
        agents_apart=len(service.agents) if service else 0,
    )  # fmt: skip


# --------------------------------------------------------------------------- REST

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}
"""wrk's time units [ms]."""


def wrk(
    binary: str, url: str, connections: int, seconds: float, script: Path | None, pid: int
) -> tuple[dict[str, float], float, float]:
    """One ``wrk`` run (one thread, ``--latency``): its figures (``p50``, ``p99`` [ms],
    ``requests``, ``rps``, ``errors``: non-2xx answers and socket errors), and the CPU
    seconds of wrk and of process ``pid`` (the service) during it."""
    command = [binary, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    command += ["-s", str(script)] if script else []
    before = cpu_s(pid)
    process = subprocess.Popen([*command, url], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    text = process.stdout.read()
    _, code, usage = os.wait4(process.pid, 0)  # its own CPU time with its exit
    process.returncode = os.waitstatus_to_exitcode(code)
    service = cpu_s(pid) - before
    if process.returncode != 0 or "Requests/sec" not in text:
        raise BenchError(f"wrk failed ({process.returncode}): {text}")
    got = {
        f"p{q}": float(value) * _UNITS[unit]
        for q, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    }
    got["requests"] = float(re.findall(r"(\d+) requests in", text)[0])
    got["rps"] = float(re.findall(r"Requests/sec:\s+([\d.]+)", text)[0])
    errors = re.findall(r"Non-2xx or 3xx responses: (\d+)", text)
    errors += re.findall(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                         text)  # fmt: skip
    got["errors"] = float(sum(int(n) for e in errors for n in ([e] if isinstance(e, str) else e)))
    return got, usage.ru_utime + usage.ru_stime, service


def predict_body(service: Service, features: Path) -> str:
    """A single-row predict request: the training features' fire row with the fewest missing
    values, in the served model's features."""
    from embercast.evaluation.feature_data import load_features

    names = service.http.get("/v1/models/current").json()["features"]
    rows = load_features(str(features)).rows
    fire = rows[rows["fire"].astype(bool)]
    row = fire.loc[fire[names].isna().sum(axis=1).idxmin()]
    values = {n: (None if np.isnan(float(row[n])) else float(row[n])) for n in names}
    return json.dumps({"rows": [values]})


def _route_mean_ms(m0: Metrics, m1: Metrics, route: str) -> float:
    """Mean of ``embercast_request_seconds`` for ``route`` between two snapshots [ms]."""
    count, total = (
        metric(m1, f"embercast_request_seconds_{k}", route=route)
        - metric(m0, f"embercast_request_seconds_{k}", route=route)
        for k in ("count", "sum")
    )
    return 1e3 * total / count if count else math.nan


def rest_runs(service: Service, features: Path, sizes: Sizes, work: Path) -> list[WrkRun]:
    """``GET /healthz`` and single-row ``POST /v1/predict`` under wrk, at each connection
    count of ``sizes``."""
    binary = need("wrk", "wrk")
    body = predict_body(service, features)
    key = service.keys["read"]
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    answer = service.http.post("/v1/predict", content=body, headers=headers)
    if answer.status_code != 200:
        raise BenchError(f"POST /v1/predict answered {answer.status_code}: {answer.text}")
    script = work / "predict.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = [==[{body}]==]\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["X-API-Key"] = "{key}"\n'
    )
    targets = (("GET /healthz", "/healthz", None), ("POST /v1/predict", "/v1/predict", script))
    wrk(binary, service.url + "/v1/predict", 2, 1.0, script, service.pid)  # warm up
    out = []
    for target, route, lua in targets:
        for c in sizes.connections:
            m0 = service.metrics()
            got, wrk_s, service_s = wrk(binary, service.url + route, c, sizes.rest_s, lua,
                                        service.pid)  # fmt: skip
            mean = _route_mean_ms(m0, service.metrics(), route)
            cores = {"service": service_s / sizes.rest_s, "wrk": wrk_s / sizes.rest_s}
            out.append(WrkRun(target, c, int(got["requests"]), got["rps"], got["p50"],
                              got["p99"], int(got["errors"]), cores, mean))  # fmt: skip
            print(out[-1], flush=True)
    return out


# --------------------------------------------------------------------------- the runs


@dataclass
class Prepared:
    """Data made beforehand (tests pass their own): training features, a dataset with every
    frame stored, and optionally an MLflow store whose ``fire@champion`` serves (else one is
    trained on the features)."""

    features: Path
    frames: Path
    store: Path | None = None


def measure(
    sizes: Sizes, work: Path, prepared: Prepared | None = None
) -> tuple[list[MqttRun], list[WrkRun], dict[str, Any]]:
    """Every run of the section, in ``work``; and what was set up."""
    work.mkdir(parents=True, exist_ok=True)
    raise_fd_limit()
    env = dict(os.environ, EMBERCAST_CONFIG="", EMBERCAST_CATALOG_PATH=str(work / "catalog.sqlite"))
    prepared = prepared or Prepared(*datasets(Path("runs/bench"), env))
    store = work / "mlflow.db"
    info: dict[str, Any] = {}
    if prepared.store is None:
        info["model"] = train_model(prepared.features, env | {"EMBERCAST_MLFLOW_URI": str(store)})
    else:
        shutil.copy(prepared.store, store)
        info["model"] = "`fire@champion`"
    stream_file = work / "streams.pickle"
    info["streams"] = streams(prepared.frames, math.ceil(sizes.send_s / 5.0) + 1, stream_file)
    at = (stream_file, info["streams"])
    pools = {False: [f"raw-{i}" for i in range(1, max(sizes.raw) + 1)],
             True: [f"edge-{i}" for i in range(1, max(sizes.edge) + 1)]}  # fmt: skip
    broker = Broker(work / "broker", pools[False] + pools[True])
    broker.start()
    service: Service | None = None
    runs: list[MqttRun] = []
    try:
        # the broker alone first, before the service's persistent session exists
        for edge, pool in pools.items():
            runs.append(mqtt_run(broker, None, pool, edge, at, sizes, work))
            print(runs[-1], flush=True)
        service = Service(work / "service", store, broker.service_url)
        service.start()
        zones = [(d, f"bench-{d.rsplit('-', 1)[0]}-{i // ZONE_SIZE}")
                 for pool in pools.values() for i, d in enumerate(pool)]  # fmt: skip
        t0 = time.perf_counter()
        service.register(zones)
        info["register_per_s"] = len(zones) / (time.perf_counter() - t0)
        rest = rest_runs(service, prepared.features, sizes, work)
        for edge, counts in ((False, sizes.raw), (True, sizes.edge)):
            for n in counts:
                runs.append(mqtt_run(broker, service, pools[edge][:n], edge, at, sizes, work))
                print(runs[-1], flush=True)
        if sizes.fold_edge:  # the same edge devices, folded by worker processes
            service.stop()
            service = None
            workers = {"EMBERCAST_SERVICE_FOLD_IN_SERVICE": "false",
                       "EMBERCAST_SERVICE_FOLD_WORKERS": str(sizes.fold_workers)}  # fmt: skip
            service = Service(work / "service-fold", store, broker.service_url, workers)
            service.fold_workers = sizes.fold_workers
            service.start()
            service.register(zones)
            for n in sizes.fold_edge:
                runs.append(mqtt_run(broker, service, pools[True][:n], True, at, sizes, work))
                print(runs[-1], flush=True)
        if sizes.apart_edge:  # the same edge devices, the agents in processes of their own
            if service is not None:
                service.stop()
            service = None
            service = Service(work / "service-apart", store, broker.service_url, APART)
            service.start()
            service.start_agents(AGENTS)
            service.register(zones)
            for n in sizes.apart_edge:
                runs.append(mqtt_run(broker, service, pools[True][:n], True, at, sizes, work))
                print(runs[-1], flush=True)
    finally:
        if service is not None:
            service.stop()
        broker.stop()
    return runs, rest, info


# --------------------------------------------------------------------------- the section


def _ms(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def _cores(cores: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in cores.items())


def mqtt_table(runs: list[MqttRun]) -> list[str]:
    lines = [
        "| run | devices | messages/s | readings | risk seen | p50 ms | p99 ms | max ms | "
        "sent | stored | lost | CPU [cores] |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        what = "service" if r.service else "broker + plain subscriber"
        what += f" + {r.fold_workers} fold worker(s)" if r.fold_workers else ""
        what += f" + {r.agents_apart} agent processes" if r.agents_apart else ""
        lost = f"{r.lost:,}" if r.caught_up else f"behind after {r.drain_s:.0f} s"
        lines.append(
            f"| {what} | {r.devices:,} | {r.rate:,.0f} | {r.readings:,} | "
            f"{len(r.latencies_ms):,} | {_ms(r.pct(50))} | {_ms(r.pct(99))} | {_ms(r.pct(100))} | "
            f"{r.published:,} | {r.kept:,} | {lost} | {_cores(r.cores)} |"
        )
    return lines


def mqtt_notes(runs: list[MqttRun], goal: int, kind: str) -> list[str]:
    """Whether the goal is met, the service against the broker alone, and what went wrong."""
    ok = [r for r in runs if r.service and r.caught_up and r.lost == 0
          and len(r.latencies_ms) == r.readings and r.pct(99) < MQTT_P99_MS]  # fmt: skip
    best = max(ok, key=lambda r: r.devices, default=None)
    said = "met" if best is not None and best.devices >= goal else "NOT met"
    reached = f"the largest run within it: {best.devices:,} devices" if best else "no run within it"
    notes = [f"- Goal of {goal:,} {kind} devices, p99 under {MQTT_P99_MS:.0f} ms, none lost: "
             f"**{said}** ({reached})."]  # fmt: skip
    base = next((r for r in runs if not r.service), None)
    own = [r for r in runs if r.service and not r.fold_workers and not r.agents_apart]
    top = max(own, key=lambda r: r.devices, default=None)
    if base is not None and top is not None and top.latencies_ms:
        notes.append(
            f"- At {top.devices:,} devices, the same as the baseline's, the service's p99 is "
            f"{top.pct(99) / base.pct(99):,.0f}x the broker's alone ({_ms(top.pct(99))} against "
            f"{_ms(base.pct(99))} ms); the service used {top.cores.get('service', 0):.2f} cores "
            f"({1e3 * top.cores.get('service', 0) / top.rate:.2f} ms of CPU per message sent, "
            "idle work included), "
            f"the broker {top.cores.get('mosquitto', 0):.2f} "
            f"(alone: {base.cores.get('mosquitto', 0):.2f})."
        )
    for f in (r for r in runs if r.fold_workers):
        same = next((r for r in own if r.devices == f.devices), None)
        if same is not None and same.latencies_ms and f.latencies_ms:
            notes.append(
                f"- {f.devices:,} devices with {f.fold_workers} fold worker(s): p99 "
                f"{_ms(f.pct(99))} ms against {_ms(same.pct(99))} ms when the service folds "
                f"itself ({same.pct(99) / f.pct(99):.2f}x); CPU {_cores(f.cores)}."
            )
    for a in (r for r in runs if r.agents_apart):
        same = next((r for r in own if r.devices == a.devices), None)
        if same is not None and same.latencies_ms and a.latencies_ms:
            notes.append(
                f"- {a.devices:,} devices with {', '.join(AGENTS)} in {a.agents_apart} processes "
                f"of their own (`embercast agent NAME`): p99 {_ms(a.pct(99))} ms against "
                f"{_ms(same.pct(99))} ms with every agent in the service; CPU {_cores(a.cores)}."
            )
    late = max((r.lag_p99_ms for r in runs), default=0.0)
    notes.append(f"- The load processes published on time (p99 at most {late:.1f} ms late).")
    for r in runs:
        trouble = {
            "device connections lost": r.dropped,
            "events the stream skipped for its client": r.skipped,
            "dead letters": r.outcomes.get("dead_letter", 0),
            "duplicates": r.outcomes.get("duplicate", 0),
        }
        if any(trouble.values()):
            what = "service" if r.service else "baseline"
            said = ", ".join(f"{n:,} {name}" for name, n in trouble.items() if n)
            notes.append(f"- {r.devices:,} devices ({what}): {said}.")
    return [*notes, ""]


def rest_table(rest: list[WrkRun]) -> list[str]:
    health = {r.connections: r.rps for r in rest if r.target.startswith("GET")}
    lines = [
        "| target | connections | requests | requests/s | p50 ms | p99 ms | errors | "
        "service mean ms | CPU [cores] | ratio to /healthz |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rest:
        ratio = r.rps / health[r.connections] if r.connections in health else math.nan
        lines.append(
            f"| {r.target} | {r.connections} | {r.requests:,} | {r.rps:,.0f} | {r.p50_ms:.2f} | "
            f"{r.p99_ms:.2f} | {r.errors} | {r.service_mean_ms:.2f} | {_cores(r.cores)} | "
            f"{ratio:.2f} |"
        )
    predict = [r for r in rest if r.target.startswith("POST")]
    good = [r for r in predict if r.errors == 0 and r.rps >= REST_RPS and r.p99_ms < REST_P99_MS]
    best = (good or sorted(predict, key=lambda r: -r.rps))[0]
    ratio = best.rps / health.get(best.connections, math.nan)
    return [
        *lines,
        "",
        f"- Goal of {REST_RPS:,.0f} requests/s with p99 under {REST_P99_MS:.0f} ms: "
        f"**{'met' if good else 'NOT met'}** (best: {best.rps:,.0f}/s with p99 "
        f"{best.p99_ms:.2f} ms at {best.connections} connection(s), {ratio:.2f}x /healthz's "
        "rate there).",
        "",
    ]


def section(
    sizes: Sizes, runs: list[MqttRun], rest: list[WrkRun], info: dict[str, Any]
) -> list[str]:
    raw = [r for r in runs if not r.edge]
    edge = [r for r in runs if r.edge]
    return [
        "## Live service (`embercast serve`: MQTT devices and REST)",
        "",
        "Set up as in use: Mosquitto with embercast's configuration (its ACL, a password per "
        "device), `embercast serve` subscribed to it and serving a LightGBM detector (`gbm`, "
        f"`extended` features; {info['model']}) trained on a generated dataset, devices "
        f"registered through the REST API ({info['register_per_s']:,.0f}/s), each logged in to "
        "the broker as itself. The devices run in load processes of their own (up to "
        f"{FLEET_SIZE:,} connections on one selector, paho's external loop), their messages "
        f"encoded beforehand from {info['streams']} recorded streams with every frame stored "
        "(only `ts` is written as a message goes out). Every 5 s a device sends a reading at t "
        "with its frames at t - 1 s and t (raw: 120 x 160 uint16 as base64 in JSON) or its edge "
        "row at t, the devices' phases spread evenly over the 5 s.",
        "",
        "*Risk seen*: readings whose prediction reached a client of `/v1/live/events` (matched "
        "on device and `ts`); the latency runs from the load process publishing the reading "
        "(QoS 1) to that client receiving its prediction. *Stored*: the service's "
        '`embercast_ingest_messages_total{outcome="stored"}` for the run; *lost*: messages '
        "sent that it never counted (stored, duplicate or dead letter), waiting up to "
        f"{sizes.drain_s:.0f} s after the last message for it to catch up. The baseline rows run "
        "the same devices and messages through the broker alone, a plain subscriber (QoS 1) "
        "taking them; their latency ends there. CPU: each process's CPU seconds per wall "
        f"second over a run ({sizes.send_s:.0f} s of sending, then the catch-up).",
        "",
        "### Raw-frame devices",
        "",
        *mqtt_table(raw),
        "",
        *mqtt_notes(raw, RAW_GOAL, "raw-frame"),
        "### Edge-feature devices",
        "",
        *mqtt_table(edge),
        "",
        *mqtt_notes(edge, EDGE_GOAL, "edge-feature"),
        "### REST: single-row predict",
        "",
        "`wrk` (one thread, keep-alive connections, `--latency`) on loopback against the same "
        "service: a Lua script posts one row of the model's features with a read key. "
        "`GET /healthz` (no key, no work) is the HTTP stack's ceiling. *Service mean*: the "
        "service's own `embercast_request_seconds` (until its answer starts), mean.",
        "",
        *rest_table(rest),
    ]


def service_section(
    quick: bool, *, sizes: Sizes | None = None, prepared: Prepared | None = None
) -> list[str]:
    """The "Live service" part of BENCHMARKS.md (``sizes``: other than QUICK or FULL)."""
    sizes = sizes or (QUICK if quick else FULL)
    work = Path(tempfile.mkdtemp(prefix="embercast-bench-service-"))
    try:
        runs, rest, info = measure(sizes, work, prepared)
    except BaseException:
        print(f"the logs of the failed run are in {work}", flush=True)
        raise
    shutil.rmtree(work, ignore_errors=True)
    return section(sizes, runs, rest, info)
