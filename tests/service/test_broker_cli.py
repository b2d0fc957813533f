"""``embercast broker``: the broker's configuration and passwords from the command line."""

from __future__ import annotations

from pathlib import Path

from components import need
from helpers import invoke


def test_broker_config_and_password(tmp_path: Path) -> None:
    need("mosquitto_passwd", "mosquitto")
    folder = tmp_path / "broker"
    refused = invoke("broker", "password", str(folder), "hall-1")
    assert refused.exit_code == 2 and "run embercast broker config" in refused.output
    made = invoke("broker", "config", str(folder), "--port", "18830", "--user", "mosquitto")
    assert made.exit_code == 0, made.output
    conf = (folder / "mosquitto.conf").read_text()
    assert "listener 18830 127.0.0.1" in conf and "user mosquitto" in conf
    assert "pattern write embercast/v1/devices/%u/scd41" in (folder / "acl").read_text()
    password = invoke("broker", "password", str(folder), "hall-1")
    assert password.exit_code == 0 and len(password.stdout.strip()) >= 24
    assert (folder / "passwd").read_text().startswith("hall-1:")
    assert oct((folder / "passwd").stat().st_mode & 0o777) == "0o600"
    bad = invoke("broker", "password", str(folder), "no/slash")
    assert bad.exit_code == 2 and "is not a device id" in bad.output
    half = invoke("broker", "config", str(folder), "--tls-cert", "c.pem")
    assert half.exit_code == 2 and "go together" in half.output
