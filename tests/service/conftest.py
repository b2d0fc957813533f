"""The service's fixtures: settings of a service of the test's own, and its app with an API key
of each scope (the registry they serve from is the root conftest's ``fire_registry``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def service_env(fire_registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings of a service of the test's own: its home in ``tmp_path``, a copy of the fire
    registry (so tests may register and promote)."""
    import shutil

    from embercast.config import get_settings

    store = tmp_path / "mlflow.db"
    shutil.copy(fire_registry, store)
    monkeypatch.setenv("EMBERCAST_MLFLOW_URI", str(store))
    monkeypatch.setenv("EMBERCAST_SERVICE_HOME", str(tmp_path / "service"))
    get_settings.cache_clear()
    return tmp_path / "service"


@dataclass
class Served:
    client: TestClient
    keys: dict[str, str]
    """An API key of each scope: read, operate, admin."""

    def auth(self, scope: str = "read") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"}


@pytest.fixture
def served(service_env: Path) -> Iterator[Served]:
    """The app on :func:`service_env` (started: its model loaded), with a key of each scope."""
    from embercast.config import get_settings
    from embercast.service.app import create_app

    app = create_app(get_settings())
    state = app.state.service
    keys = {
        scope: state.keys.create(f"test-{scope}", scope)[1]
        for scope in ("read", "operate", "admin")
    }
    with TestClient(app) as client:
        yield Served(client, keys)
