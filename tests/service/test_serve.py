"""``embercast serve`` as a real process: uvicorn on a loopback port, over HTTP and over TLS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from components import wait_http
from helpers import free_port


def _wait(url: str, process: subprocess.Popen[bytes], **kwargs: object) -> None:
    wait_http(url, process=process, **kwargs)  # type: ignore[arg-type]


def _self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_serve_answers_over_the_network_and_stops_cleanly(
    service_env: Path, tmp_path: Path, tls: bool
) -> None:
    env = dict(os.environ)
    port = free_port()
    scheme, verify = "http", True
    if tls:
        cert, key = _self_signed(tmp_path)
        env |= {"EMBERCAST_SERVICE_TLS_CERT": str(cert), "EMBERCAST_SERVICE_TLS_KEY": str(key)}
        scheme, verify = "https", str(cert)  # type: ignore[assignment]
        env["EMBERCAST_SERVICE_ACCESS_LOG"] = "true"  # requests logged (off by default)
    made = subprocess.run(
        [sys.executable, "-m", "embercast.cli", "keys", "create", "probe", "--json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    api_key = json.loads(made.stdout)["key"]
    process = subprocess.Popen(
        [sys.executable, "-m", "embercast.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"{scheme}://127.0.0.1:{port}"
    try:
        _wait(f"{base}/readyz", process, verify=verify)
        current = httpx.get(
            f"{base}/v1/models/current", headers={"X-API-Key": api_key}, verify=verify
        )
        assert current.status_code == 200 and current.json()["version"] == 1
        assert httpx.get(f"{base}/v1/models/current", verify=verify).status_code == 401
        if tls:  # no plain HTTP on a TLS port
            with pytest.raises(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2.0)
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert process.returncode == -signal.SIGTERM, output
    assert "Application shutdown complete" in output and "Finished server process" in output
    assert ('"GET /v1/models/current HTTP/1.1" 200' in output) == tls, output
