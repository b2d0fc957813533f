"""What reads or copies the service's home starts without the service: the backup and restore
commands and the agents with no model to follow import neither the service's composition nor a
model's libraries (each such process would spend seconds importing them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HEAVY = {"embercast.service.state", "embercast.service.ingest", "sklearn", "mlflow", "lightgbm"}


def _loaded_after(code: str, env: dict[str, str] | None = None) -> str:
    """The heavy modules loaded when ``code`` has run in a fresh interpreter."""
    loaded = f"print(sorted({HEAVY!r} & set(sys.modules)))"
    script = f"import atexit, sys\natexit.register(lambda: {loaded})\n{code}"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


def test_backup_and_restore_import_no_model_stack() -> None:
    assert _loaded_after("import embercast.service.backup, embercast.service.restore") == "[]"


def test_agents_without_a_model_start_without_the_service(tmp_path: Path) -> None:
    recipients = tmp_path / "recipients.toml"
    recipients.write_text('[[recipient]]\nname = "ops"\nurl = "json://127.0.0.1:9/e"\n')
    env = {"EMBERCAST_SERVICE_HOME": str(tmp_path), "EMBERCAST_CONFIG": "",
           "EMBERCAST_NOTIFY_RECIPIENTS": str(recipients)}  # fmt: skip
    for name in ("monitoring", "response"):
        argv = ["embercast", "agent", name, "--for", "0"]
        code = f"from embercast.cli import app\nsys.argv = {argv!r}\napp()"
        assert _loaded_after(code, env) == "[]", name
