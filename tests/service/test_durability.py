"""Nothing acknowledged is lost: the service is killed (SIGKILL) while devices post readings;
every reading answered 202 is in storage after the restart, and sending the rest again stores
each reading exactly once."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import httpx

from components import serve
from helpers import free_port

DEVICES = 4
PER_DEVICE = 150


def _reading(i: int) -> dict[str, float]:
    return {"ts": 1_000.0 + 5.0 * i, "co2_ppm": 450.0 + i, "temperature_c": 21.0,
            "humidity_pct": 40.0 + (i % 7)}  # fmt: skip


def test_sigkill_mid_stream_loses_nothing_acknowledged(service_env: Path) -> None:
    from embercast.service.db import DB_FILE, ServiceDB
    from embercast.service.devices import DeviceStore
    from embercast.service.ingest_log import IngestLog
    from embercast.service.keys import KeyStore

    db = ServiceDB(str(service_env / DB_FILE))
    for d in range(DEVICES):
        DeviceStore(db).register(f"dev-{d}", name=f"room {d}", zone="floor-1")
    key = KeyStore(db).create("devices", "operate")[1]
    db.close()
    env = dict(os.environ)
    port = free_port()
    process = serve(env, port)
    acked: dict[str, set[float]] = {f"dev-{d}": set() for d in range(DEVICES)}
    failed: dict[str, set[float]] = {f"dev-{d}": set() for d in range(DEVICES)}
    lock = threading.Lock()

    def device(name: str) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}",
                          headers={"X-API-Key": key}, timeout=10) as client:  # fmt: skip
            for i in range(PER_DEVICE):
                body = _reading(i)
                try:
                    r = client.post(f"/v1/ingest/{name}/scd41", content=json.dumps(body))
                    ok = r.status_code == 202
                except httpx.HTTPError:
                    ok = False
                with lock:
                    (acked if ok else failed)[name].add(body["ts"])

    threads = [threading.Thread(target=device, args=(f"dev-{d}",)) for d in range(DEVICES)]
    for t in threads:
        t.start()
    while sum(len(v) for v in acked.values()) < DEVICES * PER_DEVICE // 3:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    for t in threads:
        t.join()
    n_acked = sum(len(v) for v in acked.values())
    assert 0 < n_acked < DEVICES * PER_DEVICE and sum(len(v) for v in failed.values()) > 0

    stored = IngestLog(str(service_env / "ingest")).read("scd41")
    have: dict[str, set[float]] = {}
    for dev, ts in zip(stored["device_id"].to_pylist(), stored["ts"].to_pylist(), strict=True):
        have.setdefault(dev, set()).add(ts)
    for name, times in acked.items():
        assert times <= have.get(name, set()), f"{name}: acknowledged readings were lost"

    # the restarted service takes the rest; what it had stored already is a duplicate
    process = serve(env, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}",
                          headers={"X-API-Key": key}, timeout=10) as client:  # fmt: skip
            for name, times in failed.items():
                for ts in sorted(times):
                    i = int((ts - 1_000.0) / 5.0)
                    r = client.post(f"/v1/ingest/{name}/scd41", json=_reading(i))
                    assert r.status_code in (202, 422), r.text
                    if r.status_code == 422:  # stored before the kill, folded since
                        assert r.json()["detail"]["reason"] == "reading_order"
            metrics = client.get("/metrics").text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert "embercast_ingest_messages_total" in metrics
    stored = IngestLog(str(service_env / "ingest")).read("scd41")
    pairs = list(zip(stored["device_id"].to_pylist(), stored["ts"].to_pylist(), strict=True))
    assert len(pairs) == len(set(pairs)) == DEVICES * PER_DEVICE  # each exactly once
