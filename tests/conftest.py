"""Shared fixtures: paths, settings, a replayable random seed, and the data the tests share.

Datasets, feature sets and models that several tests read are built once per session (under
``tmp_path_factory``) by the session fixtures below, in the settings every test starts from
(:func:`default_settings`), whatever the test that first asks for them has changed. They are
read-only: a test that changes or breaks one copies it first (``shutil.copytree``); each is
checked at the end of the session to hold the files it was built with.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from typer.testing import CliRunner

from embercast.config import get_settings
from helpers import free_port, generate_three_classes

if TYPE_CHECKING:
    from embercast.features.build import FeaturesSummary

ROOT = Path(__file__).resolve().parents[1]
REAL_FIRES = ROOT.parent / "shared" / "data" / "real_fires"
TEST_ROOT = tempfile.mkdtemp(prefix="embercast-tests-")
"""This process's folder of the catalog, MLflow store and compiled models: removed when it
exits."""
atexit.register(shutil.rmtree, TEST_ROOT, ignore_errors=True)
TEST_CATALOG = str(Path(TEST_ROOT) / "catalog.sqlite")
"""Catalog of everything the tests generate: never the working directory's catalog."""
TEST_MLFLOW = str(Path(TEST_CATALOG).parent / "mlflow.db")
"""MLflow store of the tests."""
TEST_COMPILED = str(Path(TEST_CATALOG).parent / "compiled")
"""Where the tests' LightGBM models are compiled to."""
os.environ["EMBERCAST_CATALOG_PATH"] = TEST_CATALOG  # also for module-scoped fixtures
os.environ["EMBERCAST_MLFLOW_URI"] = TEST_MLFLOW
os.environ["EMBERCAST_COMPILED_DIR"] = TEST_COMPILED


@contextmanager
def default_settings() -> Iterator[None]:
    """The settings a test starts from (no other EMBERCAST_* variable), for building shared
    data outside any test: a variable a test set, or settings it cached, do not leak in."""
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("EMBERCAST_"):
                mp.delenv(key)
        mp.setenv("EMBERCAST_CATALOG_PATH", TEST_CATALOG)
        mp.setenv("EMBERCAST_MLFLOW_URI", TEST_MLFLOW)
        mp.setenv("EMBERCAST_COMPILED_DIR", TEST_COMPILED)
        get_settings.cache_clear()
        try:
            yield
        finally:
            get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test reads settings anew (tests override them with EMBERCAST_* variables); the
    catalog is a temporary file unless a test sets another."""
    for key in list(os.environ):
        if key.startswith("EMBERCAST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("EMBERCAST_CATALOG_PATH", TEST_CATALOG)
    monkeypatch.setenv("EMBERCAST_MLFLOW_URI", TEST_MLFLOW)
    monkeypatch.setenv("EMBERCAST_COMPILED_DIR", TEST_COMPILED)
    get_settings.cache_clear()


FLOW_MEMO_PAIRS = 2048
"""Frame pairs whose Farneback flow a test process keeps (about 77 kB each)."""


@pytest.fixture(scope="session", autouse=True)
def _one_flow_per_frame_pair() -> Iterator[None]:
    """The tests fold the same frame pairs many times over (offline and streamed, from raw frames
    and from edge rows, in the service, on both sides of every comparison): the Farneback flow of a
    pair, a deterministic function of its two frames, is computed once per test process and
    reused, keyed by both frames' dtype, shape and bytes (a pair that differs by one bit is
    computed anew). Processes the tests start compute their own."""
    from embercast.features import flow

    real = flow.flow_magnitude
    kept: OrderedDict[bytes, Any] = OrderedDict()

    def flow_magnitude(previous: Any, frame: Any) -> Any:
        key = hashlib.blake2b(digest_size=20)
        for image in (previous, frame):
            key.update(f"{image.dtype.str}{image.shape}".encode())
            key.update(np.ascontiguousarray(image).tobytes())
        digest = key.digest()
        if digest in kept:
            kept.move_to_end(digest)
            return kept[digest]
        magnitude = real(previous, frame)
        magnitude.flags.writeable = False
        kept[digest] = magnitude
        if len(kept) > FLOW_MEMO_PAIRS:
            kept.popitem(last=False)
        return magnitude

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(flow, "flow_magnitude", flow_magnitude)
        yield


SLOWEST_FIRST = (
    "tests/cli/test_bad_inputs.py",  # it builds the shared feature set most tests read
    "tests/lifecycle/test_pipeline.py",
    "tests/service/test_operations.py",
    "tests/cli/test_run.py",
    "tests/features/test_inline.py",
    "tests/service/test_fold_workers.py",
    "tests/service/test_dashboard.py",
    "tests/service/test_simulator.py",
    "tests/features/test_edge_thermal.py",
    "tests/service/test_zones_live.py",
    "tests/service/test_agents_apart.py",
    "tests/service/test_edge.py",
    "tests/service/test_ingest.py",
    "tests/service/test_durability.py",
    "tests/benchmarks/test_bench_service.py",
    "tests/synth/test_writer.py",
)
"""The test files that took longest (``--durations``, about 40-140 s each on 2 cores), longest
first: with ``make test``'s ``--dist loadfile --no-loadscope-reorder`` the workers start with
them, so that no worker is left with a long file at the end."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


@pytest.fixture(params=[0, 7, 42])
def global_random_seed(request: pytest.FixtureRequest) -> int:
    """Seeds a stochastic test must pass for; reproduce one with ``-k 'global_random_seed-7'``."""
    return int(request.param)


@pytest.fixture
def rng(global_random_seed: int) -> np.random.Generator:
    return np.random.default_rng(global_random_seed)


@pytest.fixture(scope="session")
def real_fires() -> Path:
    if not REAL_FIRES.is_dir():
        pytest.fail(f"the real fire-test data are missing: expected {REAL_FIRES}")
    return REAL_FIRES


@pytest.fixture
def catalog_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The catalog of the settings is a fresh file in the test's folder."""
    path = tmp_path / "cat" / "catalog.sqlite"
    monkeypatch.setenv("EMBERCAST_CATALOG_PATH", str(path))
    monkeypatch.setenv("EMBERCAST_CONFIG", "")
    get_settings.cache_clear()
    return path


@pytest.fixture
def s3_bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto S3 server on loopback with one bucket; settings point s3:// at it."""
    import boto3  # type: ignore[import-untyped]
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "EMBERCAST_S3_ENDPOINT_URL": endpoint,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    get_settings.cache_clear()
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
        Bucket="embercast-test"
    )
    try:
        yield "embercast-test"
    finally:
        server.stop()
        get_settings.cache_clear()


# --------------------------------------------------------------------------- shared data


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@contextmanager
def read_only(root: Path) -> Iterator[None]:
    """Fail the session if a test changed, added or removed a file below ``root``."""
    before = _files(root)
    yield
    changed = sorted(set(before.items()) ^ set(_files(root).items()))
    assert not changed, f"a test changed the shared data {root}: {changed[:5]}"


def _cli(*args: str, **env: str) -> str:
    """Run an ``embercast`` command in the default settings (and the EMBERCAST_* ``env``); its
    output."""
    from embercast.cli import app

    with default_settings(), pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(f"EMBERCAST_{name}", value)
        result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def shared_build(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """``build(folder)`` once for every pytest-xdist worker of this run (the first to ask builds
    under a file lock, the others wait and reuse it); the folder, registered in this worker's
    catalog."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder, done = root / f"shared-{name}", root / f"shared-{name}.done"
    with FileLock(str(root / f"shared-{name}.lock")):
        if not done.exists():
            if folder.exists():
                shutil.rmtree(folder)
            build(folder)
            done.touch()
    return folder


def _register(*locations: Path) -> None:
    for location in locations:
        _cli("catalog", "add", str(location))


@pytest.fixture(scope="session")
def features(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The feature set of 24 generated scenarios (seed 5), ``room_size=large`` held out, its
    extended features computed while generating (no frames stored), two scenarios a task."""

    def build(out: Path) -> None:
        args = ["generate", "-n", "24", "--seed", "5", "--frames", "none", "--features", "extended"]
        args += ["--scenarios-per-task", "2"]  # 12 tasks share two workers evenly, not 3
        _cli(*args, "--workers", "2", "--out", str(out), "--holdout", "room_size=large")

    out = shared_build(tmp_path_factory, "features", build)
    _register(out, out / "features")
    with read_only(out):
        yield out / "features"


@pytest.fixture(scope="session")
def inline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A dataset with every frame stored and its features computed while generating: four
    scenarios (seed 22: a flaming fire, two cooking, hot machinery) of 1.7 h in all."""

    def build(out: Path) -> None:
        args = ["generate", "-n", "4", "--seed", "22", "--frames", "all"]
        args += ["--scenarios-per-task", "2", "--features", "extended"]
        stdout = _cli(*args, "--out", str(out), "--json")
        assert json.loads(stdout)["features"] == f"{out}/features"

    out = shared_build(tmp_path_factory, "inline", build)
    _register(out, out / "features")
    with read_only(out):
        yield out


@pytest.fixture(scope="session")
def frames_dataset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Three generated scenarios (seed 4: a flaming fire, a sensor fault, hot machinery), every
    frame stored."""
    from embercast.synth.writer import generate_dataset

    out = tmp_path_factory.mktemp("ds") / "ds"
    with default_settings():
        generate_dataset(
            str(out),
            scenarios=3,
            seed=4,
            frames="all",
            workers=1,
            classes=["flaming_fire", "sensor_fault", "hot_machinery"],
        )
    with read_only(out):
        yield out


@pytest.fixture(scope="session")
def gas_model(features: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The gas model trained on :func:`features` (``train --model gas --out``) once for every
    worker: a model file and its sidecar, compiled nowhere."""

    def build(folder: Path) -> None:
        model, compiled = folder / "model" / "gas.pkl", folder / "compiled"
        model.parent.mkdir(parents=True)
        _cli("train", str(features), "--model", "gas", "--out", str(model),
             COMPILED_DIR=str(compiled))  # fmt: skip
        assert not list(compiled.glob("*.o"))  # training compiles nothing (only predict may)

    model = shared_build(tmp_path_factory, "gas", build) / "model" / "gas.pkl"
    with read_only(model.parent):
        yield model


@pytest.fixture(scope="session")
def three_classes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One generated scenario of each of ``helpers.THREE_CLASSES`` (seed 1), no frames stored."""
    out = tmp_path_factory.mktemp("three") / "ds"
    with default_settings():
        generate_three_classes(str(out))
    with read_only(out):
        yield out


@pytest.fixture(scope="session")
def relative_standard18(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Two generated scenarios (seed 2: a toaster and a flaming fire), no frames stored, their
    standard18 features computed while generating; generated to a relative location (``--out
    rel``, from its parent), once for every worker."""

    def build(parent: Path) -> None:
        args = ["generate", "-n", "2", "--seed", "2", "--frames", "none"]
        parent.mkdir(parents=True)
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(parent)
            _cli(*args, "--features", "standard18", "--out", "rel")

    out = shared_build(tmp_path_factory, "relative", build) / "rel"
    _register(out, out / "features")
    with read_only(out):
        yield out


@pytest.fixture(scope="session")
def offline_features(
    frames_dataset: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], tuple[FeaturesSummary, Path]]]:
    """``build_features`` of :func:`frames_dataset` for a feature set (default engine and
    workers), built once: its summary and location."""
    from embercast.features.build import build_features

    built: dict[str, tuple[FeaturesSummary, Path]] = {}
    guards = ExitStack()

    def build(feature_set: str) -> tuple[FeaturesSummary, Path]:
        if feature_set not in built:
            out = tmp_path_factory.mktemp(f"offline-{feature_set}") / "f"
            with default_settings():
                summary = build_features(str(frames_dataset), str(out), feature_set=feature_set)
            built[feature_set] = (summary, out)
            guards.enter_context(read_only(out))
        return built[feature_set]

    with guards:
        yield build


@pytest.fixture(scope="session")
def fire_registry(features: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow store whose ``fire`` version 1 (``fire@champion``) is LightGBM trained on the
    shared feature set (``features``)."""

    def build(folder: Path) -> None:
        folder.mkdir(parents=True)
        store = str(folder / "mlflow.db")
        # the operating point on val (one fit): the service tests need a model, not its numbers
        _cli("train", str(features), "--model", "gbm", "--register", "fire", "--alarm-on", "val",
             MLFLOW_URI=store)  # fmt: skip

    return shared_build(tmp_path_factory, "fire-registry", build) / "mlflow.db"
