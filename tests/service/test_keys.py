"""API keys: scopes, hashing (the state file never holds a key), revocation, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import invoke


def test_keys_are_stored_hashed_and_revocation_takes_effect(tmp_path: Path) -> None:
    from embercast.service.db import ServiceDB
    from embercast.service.keys import KeyStore

    db = ServiceDB(str(tmp_path / "service.sqlite"))
    store = KeyStore(db)
    record, key = store.create("panel", "operate")
    other, other_key = store.create("ops", "admin")
    assert key.startswith(f"emb_{record.key_id}_") and len(key) > 40
    found = store.verify(key)
    assert found is not None and found.scope == "operate" and found.allows("read")
    assert not found.allows("admin")
    assert store.verify(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert store.verify(f"emb_{record.key_id}_guess") is None and store.verify("") is None
    db.close()
    # neither key is anywhere in the state file or its write-ahead log
    for path in tmp_path.iterdir():
        data = path.read_bytes()
        assert key.encode() not in data and other_key.encode() not in data
        assert key.split("_", 2)[2].encode() not in data
    store = KeyStore(ServiceDB(str(tmp_path / "service.sqlite")))
    assert store.revoke(record.key_id).revoked_s is not None
    assert store.verify(key) is None and store.verify(other_key) is not None
    with pytest.raises(ValueError, match="no API key 'nope'"):
        store.revoke("nope")
    with pytest.raises(ValueError, match="unknown scope 'root'"):
        store.create("x", "root")


def test_keys_cli_create_list_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBERCAST_SERVICE_HOME", str(tmp_path / "svc"))
    created = invoke("keys", "create", "dashboard", "--scope", "read", "--json")
    assert created.exit_code == 0, created.output
    made = json.loads(created.stdout)
    assert made["scope"] == "read" and made["key"].startswith("emb_")
    listed = json.loads(invoke("keys", "list", "--json").stdout)
    assert [(k["key_id"], k["name"], k["revoked_s"]) for k in listed] == [
        (made["key_id"], "dashboard", None)
    ]
    assert "key" not in listed[0]
    revoked = invoke("keys", "revoke", made["key_id"])
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    assert json.loads(invoke("keys", "list", "--json").stdout)[0]["revoked_s"] is not None
    bad = invoke("keys", "create", "x", "--scope", "root")
    assert bad.exit_code == 2 and "unknown scope 'root'" in bad.output


def test_quota_counts_per_utc_day_survives_a_restart_and_renews(tmp_path: Path) -> None:
    from embercast.service.db import ServiceDB
    from embercast.service.keys import DAY_S, KeyStore

    db = ServiceDB(str(tmp_path / "service.sqlite"))
    store = KeyStore(db)
    record, key = store.create("meter", "read", quota_per_day=3)
    unlimited, _ = store.create("panel", "read")
    noon = 20_000 * DAY_S + DAY_S / 2
    assert [store.spend(record, noon + i) for i in range(3)] == [0.0, 0.0, 0.0]
    assert store.spend(record, noon + 3) == pytest.approx(DAY_S / 2 - 3)
    assert all(store.spend(unlimited, noon) == 0.0 for _ in range(10))
    store.flush()
    db.close()
    # a restart remembers the day's use; the next UTC day starts again
    store = KeyStore(ServiceDB(str(tmp_path / "service.sqlite")))
    found = store.verify(key)
    assert found is not None and found.quota_per_day == 3
    assert store.used_today(record.key_id, noon) == 3
    assert store.spend(found, noon + 10) > 0
    assert store.spend(found, noon + DAY_S) == 0.0
    assert store.set_quota(record.key_id, None).quota_per_day is None
    with pytest.raises(ValueError, match="positive number of requests per day, not 0"):
        store.create("x", "read", quota_per_day=0)


def test_a_key_over_its_quota_gets_429_and_others_are_served(
    service_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from embercast.config import get_settings
    from embercast.service.app import create_app

    app = create_app(get_settings())
    limited = {"X-API-Key": app.state.service.keys.create("meter", "read", quota_per_day=2)[1]}
    other = {"X-API-Key": app.state.service.keys.create("panel", "read")[1]}
    with TestClient(app) as client:
        codes = [client.get("/v1/models/current", headers=limited).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        refused = client.get("/v1/models/current", headers=limited)
        assert (
            refused.status_code == 429 and "quota of 2 requests per day" in refused.json()["detail"]
        )
        assert 1 <= int(refused.headers["Retry-After"]) <= 86_400
        assert client.get("/v1/models/current", headers=other).status_code == 200
        metrics = client.get("/metrics", headers=other).text
        assert 'embercast_rejected_inputs_total{reason="quota"} 2.0' in metrics


def test_keys_cli_quota(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBERCAST_SERVICE_HOME", str(tmp_path / "svc"))
    made = json.loads(invoke("keys", "create", "meter", "--quota-per-day", "500", "--json").stdout)
    assert made["quota_per_day"] == 500
    listed = json.loads(invoke("keys", "list", "--json").stdout)[0]
    assert (listed["quota_per_day"], listed["used_today"]) == (500, 0)
    changed = invoke("keys", "quota", made["key_id"], "none")
    assert changed.exit_code == 0 and "no quota" in changed.stdout
    assert json.loads(invoke("keys", "list", "--json").stdout)[0]["quota_per_day"] is None
    bad = invoke("keys", "quota", made["key_id"], "lots")
    assert bad.exit_code == 2 and "not 'lots'" in bad.output
