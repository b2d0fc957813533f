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
