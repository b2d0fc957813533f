"""The message bus on 2 cores: messages per second per backend, and from a fire's reading to a
delivered notification.

Throughput: ``N`` messages (a prediction-sized JSON payload) published one at a time, then in
batches of 256 (``publish_many``), then received and acknowledged by one consumer in batches of
64; beside them, in the same run, the floor of each store: plain ``sqlite3`` INSERTs of the same
rows in one transaction per message / per batch (same file settings), and a plain ``XADD``
pipeline to the same Redis server. Redis runs with ``appendonly yes`` and ``appendfsync
everysec`` (its usual durable setting; ``always`` is the tests').

Latency: zones whose devices send a fire's predictions (p = 0.95 every second); the zone agent
and the response agent run as in the service (threads, the embedded bus), the response agent
posting to a local webhook receiver. From the wall-clock time of the reading that completes the
alarm decision's debounce to the receiver getting the notification, per zone.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from service_stack import free_port, need

from embercast.agents.response import ResponseAgent
from embercast.agents.zones import ZoneAgent, risk_message
from embercast.alarm.decision import AlarmParams
from embercast.bus import Bus, open_bus
from embercast.notify.outbox import Outbox
from embercast.notify.recipients import Recipient

PAYLOAD = {"device_id": "dev-0001", "zone": "zone-01", "t_s": 1_796_500_000.0, "p_fire": 0.42,
           "risk": "low", "heat": False, "sensor_fault": False, "thermal_status": "ok"}  # fmt: skip
"""A ``risk`` message's payload (the bus's busiest topic)."""


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def throughput(bus: Bus, n: int) -> dict[str, float]:
    """Messages/s of one-at-a-time publish, batched publish and receive + ack."""
    t0 = time.perf_counter()
    for i in range(n):
        bus.publish("bench-one", PAYLOAD, key="dev-0001", message_id=f"o{i}")
    one = _rate(n, time.perf_counter() - t0)
    items = [(PAYLOAD, "dev-0001", f"b{i}") for i in range(n)]
    t0 = time.perf_counter()
    for k in range(0, n, 256):
        bus.publish_many("bench-batch", items[k : k + 256])
    batch = _rate(n, time.perf_counter() - t0)
    t0 = time.perf_counter()
    taken = 0
    while taken < n:
        got = bus.receive("bench-batch", "g", "c", limit=64)
        for d in got:
            bus.ack(d)
        taken += len(got)
    consume = _rate(n, time.perf_counter() - t0)
    return {"publish": one, "publish_many": batch, "receive_ack": consume}


def sqlite_floor(path: str, n: int) -> dict[str, float]:
    """Plain sqlite3 INSERTs of the same rows: one transaction each, then batches of 256."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE m (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, payload TEXT)")
    body = json.dumps(PAYLOAD)
    t0 = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO m (id, payload) VALUES (?, ?)", (f"o{i}", body))
        conn.execute("COMMIT")
    one = _rate(n, time.perf_counter() - t0)
    t0 = time.perf_counter()
    for k in range(0, n, 256):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO m (id, payload) VALUES (?, ?)",
                         [(f"b{i}", body) for i in range(k, min(n, k + 256))])  # fmt: skip
        conn.execute("COMMIT")
    batch = _rate(n, time.perf_counter() - t0)
    conn.close()
    return {"publish": one, "publish_many": batch}


def redis_floor(url: str, n: int) -> dict[str, float]:
    """Plain XADDs of the same payload: one round trip each, then pipelines of 256."""
    import redis

    r = redis.Redis.from_url(url)
    body = json.dumps(PAYLOAD)
    t0 = time.perf_counter()
    for _ in range(n):
        r.xadd("floor-one", {"payload": body})
    one = _rate(n, time.perf_counter() - t0)
    t0 = time.perf_counter()
    for k in range(0, n, 256):
        pipe = r.pipeline(transaction=False)
        for _ in range(k, min(n, k + 256)):
            pipe.xadd("floor-batch", {"payload": body})
        pipe.execute()
    batch = _rate(n, time.perf_counter() - t0)
    r.close()
    return {"publish": one, "publish_many": batch}


class _Receiver:
    """A webhook receiver that notes when each notification arrived [wall s]."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.arrived.setdefault(body["title"], time.time())
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"


def notification_latency(work: Path, zones: int, interval_s: float = 1.0) -> dict[str, Any]:
    """From the reading that completes the debounce to the webhook, per zone [s]; a reading per
    zone every ``interval_s`` of wall time (1 s of the devices' time)."""
    rule = AlarmParams(threshold=0.9, delay_on_s=10.0)
    bus = open_bus(str(work / "latency-bus.sqlite"))
    receiver = _Receiver()
    zone_agent = ZoneAgent(str(work / "zones.sqlite"), lambda: rule, bus)
    response = ResponseAgent(Outbox(str(work / "outbox.sqlite")), [Recipient("ops", receiver.url)])
    stop = threading.Event()
    threads = [
        threading.Thread(target=zone_agent.run, args=(bus, stop), daemon=True),
        threading.Thread(target=response.run, args=(bus, stop), daemon=True),
    ]
    for thread in threads:
        thread.start()
    onset: dict[str, float] = {}
    start = time.time()
    for step in range(12):  # one reading per second and zone; the 11th completes 10 s
        t = start + step
        time.sleep(max(0.0, start + step * interval_s - time.time()))
        sent = time.time()
        bus.publish_many("risk", [risk_message(f"d{z}", f"zone-{z:03d}",
                                               {"t_s": t, "p_fire": 0.95})
                                  for z in range(zones)])  # fmt: skip
        if step == 10:
            onset = {f"FIRE ALARM in zone-{z:03d}": sent for z in range(zones)}
    deadline = time.time() + 60
    while len(receiver.arrived) < zones and time.time() < deadline:
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(10)
    receiver.server.shutdown()
    waits = sorted(receiver.arrived[k] - v for k, v in onset.items() if k in receiver.arrived)
    bus.close()
    return {
        "zones": zones,
        "delivered": len(waits),
        "p50_s": statistics.median(waits) if waits else None,
        "p99_s": waits[min(len(waits) - 1, int(0.99 * len(waits)))] if waits else None,
        "max_s": waits[-1] if waits else None,
    }


def bus_section(
    quick: bool, *, n: int | None = None, zones: tuple[int, ...] | None = None,
    interval_s: float = 1.0,
) -> list[str]:  # fmt: skip
    """The "Message bus" part of BENCHMARKS.md (``n``, ``zones``: other than the sizes of
    ``quick`` or the full run; each count of ``zones`` is one latency run, all its zones
    alarming at once)."""
    n = n or (2_000 if quick else 20_000)
    zones = zones or ((10,) if quick else (10, 200))
    work = Path(tempfile.mkdtemp(prefix="embercast-bench-bus-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        port = free_port()
        server = subprocess.Popen(
            [need("redis-server", "redis-server"), "--bind", "127.0.0.1", "--port", str(port),
             "--dir", str(work), "--save", "", "--appendonly", "yes",
             "--appendfsync", "everysec"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.time() + 20
        import redis

        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        rows = {
            "SQLite (embedded)": (
                throughput(open_bus(str(work / "bus.sqlite")), n),
                sqlite_floor(str(work / "floor.sqlite"), n),
            ),
            "Redis Streams": (throughput(open_bus(url), n), redis_floor(url, n)),
        }
        latencies = []
        for k, count in enumerate(zones):
            (work / f"latency-{k}").mkdir()
            latencies.append(notification_latency(work / f"latency-{k}", count, interval_s))
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        "## Message bus (`embercast.bus`)",
        "",
        f"{n:,} `risk`-sized messages ({len(json.dumps(PAYLOAD))} bytes of JSON) per measure, "
        "one process. *Floor*: the store alone in the same run (plain sqlite3 INSERTs in the "
        "same transactions; plain XADDs, one round trip each or pipelines of 256); the ratio is "
        "the bus's rate over it. Redis: `appendonly yes`, `appendfsync everysec`.",
        "",
        "| backend | measure | messages/s | floor messages/s | ratio to floor |",
        "|---|---|---:|---:|---:|",
    ]
    for backend, (ours, floor) in rows.items():
        for measure in ("publish", "publish_many", "receive_ack"):
            base = floor.get(measure)
            lines.append(
                f"| {backend} | {measure} | {ours[measure]:,.0f} | "
                f"{'-' if base is None else f'{base:,.0f}'} | "
                f"{'-' if base is None else f'{ours[measure] / base:.2f}'} |"
            )
    lines += [
        "",
        "From a fire's reading to a delivered notification: zones each with a device sending "
        "p = 0.95 every second, all catching fire at once; the zone agent and the response "
        "agent as in the service (embedded bus, both polling every 100 ms, up to 8 "
        "notifications sent at once), a local webhook receiver. Measured from the reading that "
        "completes the 10-s debounce to the webhook's receipt.",
        "",
        "| zones alarming at once | delivered | p50 ms | p99 ms | max ms |",
        "|---:|---:|---:|---:|---:|",
    ]
    for latency in latencies:
        cells = [
            "-" if latency[k] is None else f"{1000 * latency[k]:.0f}"
            for k in ("p50_s", "p99_s", "max_s")
        ]
        lines.append(f"| {latency['zones']} | {latency['delivered']} | {' | '.join(cells)} |")
    met = [
        x["zones"] for x in latencies
        if x["p99_s"] is not None and x["p99_s"] < 1.0 and x["delivered"] == x["zones"]
    ]  # fmt: skip
    verdict = (
        f"**met** up to {max(met)} zones alarming at once" if met else "**NOT met**"
    ) + (
        "" if len(met) == len(latencies)
        else f"; **NOT met** for {max(x['zones'] for x in latencies)} at once"
    )  # fmt: skip
    lines += ["", f"- Goal, p99 under 1 s beyond the debounce: {verdict}.", ""]
    return lines
