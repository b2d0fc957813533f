"""The whole system on one machine (``embercast run``, ``make run``).

1. A small labelled dataset with its ``extended`` features (generated once, then reused; or a
   dataset of the user's), validated, with a fire and a nuisance plotted.
2. A LightGBM detector trained on it and registered as ``quickstart@champion`` in the
   configured registry (reused while the dataset is the same).
3. A few rooms to simulate: a living room that catches fire, a kitchen that burns toast, a quiet
   bedroom and an occupied office (generated once, every frame stored).
4. The service (its home under the run's folder) serving the champion, with an admin key,
   and the rooms' devices streaming to it over HTTP, ``speed`` times faster than real time.

It runs until Ctrl-C or for ``for_s`` seconds, and says where the dashboard is and which key
opens it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from embercast.config import Settings, get_settings
from embercast.errors import InputError
from embercast.features.inline import InlineFeatureSet
from embercast.lifecycle.registry import Registry, RegistryError
from embercast.lifecycle.training import train
from embercast.service import simulator
from embercast.synth.quickstart import QuickstartResult, existing_dataset, run_quickstart
from embercast.synth.writer import DatasetExistsError, generate_dataset

logger = logging.getLogger(__name__)

MODEL_NAME = "quickstart"
ROOMS: dict[str, str] = {
    "flaming_fire": "living-room",
    "toaster": "kitchen",
    "normal_day": "bedroom",
    "occupancy": "office",
}
"""The simulated rooms: scenario class -> zone."""
Log = Callable[[str], None]


@dataclass
class SystemRun:
    """What a run of the whole system made and saw."""

    quickstart: QuickstartResult
    model_ref: str
    model_version: int
    model_reused: bool
    url: str = ""
    key: str = ""
    devices: dict[str, str] = field(default_factory=dict)
    """Device id -> zone."""
    simulation: dict[str, Any] = field(default_factory=dict)
    alarms: list[dict[str, Any]] = field(default_factory=list)


def champion(out: Path, quickstart: QuickstartResult, log: Log) -> tuple[str, int, bool]:
    """(reference, version, reused) of the quickstart model: the registered one when it was
    trained on this very feature set (``out/model.json`` says which), else a new one."""
    features = f"{quickstart.dataset}/features"
    if not Path(features, "manifest.json").is_file():
        raise InputError(
            f"the dataset {quickstart.dataset} has no features computed while it was generated "
            f"(generate it with --features extended)"
        )
    digest = json.loads(Path(features, "manifest.json").read_text())["content_hash"]
    marker = out / "model.json"
    registry = Registry()
    if marker.is_file():
        known = json.loads(marker.read_text())
        try:
            _, version = registry.resolve(f"{MODEL_NAME}@champion")
        except RegistryError:
            version = None
        same = known.get("features_content_hash") == digest and known.get("version") == version
        if version is not None and same:
            log(f"model: {MODEL_NAME}/{version} (trained on this dataset before)")
            return f"{MODEL_NAME}@champion", int(version), True
    log(f"training LightGBM on {features}")
    # the operating point is chosen on the validation scenarios: one fit, not one per room
    # condition left out (the published models use those; docs/MODELS.md)
    summary = train(features, "gbm", register=MODEL_NAME, registry=registry, alarm_on="val")
    version = int(summary["version"])
    registry.client.set_registered_model_alias(MODEL_NAME, "champion", str(version))
    marker.write_text(json.dumps({"features_content_hash": digest, "version": version}))
    log(f"model: {MODEL_NAME}/{version} registered as {MODEL_NAME}@champion")
    return f"{MODEL_NAME}@champion", version, False


def rooms_dataset(out: Path, workers: int, log: Log) -> Path:
    """The simulated rooms' streams (one scenario per room, every frame stored), generated once."""
    where = out / "rooms"
    args: dict[str, Any] = {"scenarios": len(ROOMS), "seed": 3, "frames": "all",
                            "classes": list(ROOMS), "scenarios_per_task": 1}  # fmt: skip
    try:
        generate_dataset(str(where), workers=workers, **args)
        log(f"rooms: {where}")
    except DatasetExistsError as exc:
        if not exc.replaceable:
            raise
        generate_dataset(str(where), workers=workers, overwrite=True, **args)
    return where


def room_devices(rooms: Path) -> list[simulator.SimDevice]:
    """One device per room (the first of each scenario), in its room's zone."""
    import pyarrow.parquet as pq

    classes = dict(zip(*pq.read_table(rooms / "scenarios.parquet",
                                      columns=["scenario_id", "scenario_class"]).to_pydict()
                       .values(), strict=True))  # fmt: skip
    recordings = simulator.load_recordings(rooms, len(ROOMS) * 8)
    chosen: dict[str, simulator.Recording] = {}
    for rec in recordings:
        chosen.setdefault(str(classes[rec.scenario_id]), rec)
    devices = []
    for number, (cls, zone) in enumerate(ROOMS.items(), start=1):
        if cls not in chosen:
            raise InputError(f"the rooms dataset {rooms} has no {cls} scenario")
        devices.append(simulator.SimDevice(number, zone, chosen[cls], {}, prefix="room"))
    return devices


def run_system(
    out: str | Path,
    *,
    port: int = 8000,
    host: str = "127.0.0.1",
    speed: float = 10.0,
    for_s: float | None = None,
    workers: int = 2,
    dataset: str | None = None,
    log: Log = lambda _msg: None,
    ready: Callable[[SystemRun], None] | None = None,
) -> SystemRun:
    """Build what is missing, then serve and simulate until Ctrl-C or ``for_s`` [s]; ``ready``
    is called once the service answers and the devices start. With ``dataset`` (a local
    dataset generated with its features), the model is trained on it instead of the
    quickstart's."""
    import uvicorn

    from embercast.service.app import create_app
    from embercast.service.transports import HttpTransport

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    if dataset is None:
        quick = run_quickstart(str(root), workers=workers,
                               features=InlineFeatureSet("extended"), log=log)  # fmt: skip
    else:
        quick = existing_dataset(dataset, str(root), log)
    if quick.problems:
        raise InputError(f"the quickstart dataset has {quick.problems} problem(s)")
    ref, version, reused = champion(root, quick, log)
    rooms = rooms_dataset(root, workers, log)
    settings: Settings = get_settings().model_copy(
        update={
            "service_home": str(root / "service"),
            "model_ref": ref,
            "service_host": host,
            "service_port": port,
        }  # fmt: skip
    )
    app = create_app(settings)
    state = app.state.service
    _, key = state.keys.create("embercast run", "admin")
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    serving = threading.Thread(target=server.run, name="service", daemon=True)
    serving.start()
    while not server.started:
        if not serving.is_alive():
            raise InputError(f"the service could not start on {host}:{port} (port in use?)")
        time.sleep(0.05)
    url = f"http://{host}:{server.servers[0].sockets[0].getsockname()[1]}"
    result = SystemRun(quick, ref, version, reused, url, key)
    devices = room_devices(rooms)
    result.devices = {d.device_id: d.zone for d in devices}
    transport = HttpTransport(url, key)
    for d in devices:
        transport.register(d.device_id, d.zone, d.name)
    plans = [simulator.plan(d) for d in devices]
    if ready is not None:
        ready(result)
    outcome: dict[str, Any] = {}
    halt = threading.Event()

    def simulate() -> None:
        outcome["summary"] = simulator.run(plans, transport, speed, stop=halt)

    devices_thread = threading.Thread(target=simulate, name="devices", daemon=True)
    devices_thread.start()
    began = time.monotonic()
    try:
        while for_s is None or time.monotonic() - began < for_s:
            time.sleep(0.2)
    except KeyboardInterrupt:
        log("stopping")
    finally:
        halt.set()
        devices_thread.join(timeout=30)
        summary = outcome.get("summary")
        result.simulation = summary.total if summary is not None else {}
        result.alarms = [asdict(a) for a in state.alarms.list(limit=None)]
        server.should_exit = True
        serving.join(timeout=30)
        transport.close()
    return result
