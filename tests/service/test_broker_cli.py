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


def test_set_passwords_adds_many_users_hashed_at_once(tmp_path: Path) -> None:
    import pytest

    from embercast.service.broker import set_password, set_passwords

    need("mosquitto_passwd", "mosquitto")
    set_password(tmp_path, "hall-1")
    assert set_passwords(tmp_path, []) == {}
    made = set_passwords(tmp_path, [f"dev-{i}" for i in range(50)])
    lines = (tmp_path / "passwd").read_text().splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["hall-1"] + [f"dev-{i}" for i in range(50)]
    assert all(line.split(":", 1)[1].startswith("$7$") for line in lines)  # salted hashes
    assert not any(made["dev-3"] in line for line in lines)
    with pytest.raises(ValueError, match="already in .*hall-1"):
        set_passwords(tmp_path, ["hall-1", "dev-99"])
    with pytest.raises(ValueError, match="is not a device id"):
        set_passwords(tmp_path, ["no/slash"])
