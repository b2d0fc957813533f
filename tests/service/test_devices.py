"""Devices, twins and commands: the store on a state file of its own (fast), then ``/v1/devices``
through the served app (versions with ETag / If-Match, the command lifecycle, scopes)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from embercast.errors import EmbercastError, InputError
from embercast.service.db import ServiceDB
from embercast.service.device_records import Conflict, NotFound
from embercast.service.devices import DeviceStore
from embercast.service.twins import StaleVersion


@pytest.fixture
def store(tmp_path: Path) -> DeviceStore:
    """A device store on a state file in ``tmp_path``, with devices ``cam-1`` and ``cam-2`` in
    zone ``kitchen`` and ``hall-1`` in zone ``hall``."""
    devices = DeviceStore(ServiceDB(str(tmp_path / "service.sqlite")))
    devices.register("cam-1", "kitchen", "Kitchen camera", now=100.0)
    devices.register("cam-2", "kitchen", now=101.0)
    devices.register("hall-1", "hall", now=102.0)
    return devices


# the store


def test_register_list_get_and_revoke(store: DeviceStore) -> None:
    assert [d.device_id for d in store.list()] == ["cam-1", "cam-2", "hall-1"]
    assert [d.device_id for d in store.list(zone="kitchen")] == ["cam-1", "cam-2"]
    one = store.get("cam-1")
    assert (one.name, one.zone, one.created_s, one.revoked_s) == (
        "Kitchen camera", "kitchen", 100.0, None,
    )  # fmt: skip
    assert store.get("cam-2").name == "cam-2"  # the name defaults to the id
    with pytest.raises(Conflict, match="'cam-1' is already registered"):
        store.register("cam-1", "hall")
    for bad in ("", "cam 1", "cam/1", "x" * 129):
        with pytest.raises(InputError, match="device id"):
            store.register(bad, "hall")
    with pytest.raises(InputError, match="zone"):
        store.register("cam-3", "the hall")
    with pytest.raises(NotFound, match="no device 'nope'"):
        store.get("nope")
    with pytest.raises(NotFound, match="no device 'nope'"):
        store.revoke("nope")

    revoked = store.revoke("cam-2", now=200.0)
    assert revoked.revoked_s == 200.0
    assert store.revoke("cam-2", now=300.0).revoked_s == 200.0  # revoking again changes nothing
    assert [d.device_id for d in store.list()] == ["cam-1", "hall-1"]
    assert [d.device_id for d in store.list(include_revoked=True)] == ["cam-1", "cam-2", "hall-1"]
    with pytest.raises(Conflict, match="revoked; a device id is never reused"):
        store.register("cam-2", "kitchen")


def test_twin_versions_and_stale_writes(store: DeviceStore) -> None:
    empty = store.twin("cam-1")
    assert (empty.reported, empty.reported_version, empty.desired, empty.desired_version) == (
        {}, 0, {}, 0,
    )  # fmt: skip
    first = store.report("cam-1", {"fw": "1.0", "fan": {"on": True}}, now=110.0)
    assert (first.reported_version, first.reported_s) == (1, 110.0)
    second = store.report("cam-1", {"fw": "1.1"}, expected_version=1)  # a report replaces
    assert (second.reported, second.reported_version) == ({"fw": "1.1"}, 2)
    with pytest.raises(StaleVersion, match="at version 2, not 1") as stale:
        store.report("cam-1", {"fw": "0.9"}, expected_version=1)
    assert (stale.value.given, stale.value.current) == (1, 2)
    assert isinstance(stale.value, EmbercastError)

    desired = store.desire("cam-1", {"interval_s": 5, "led": {"on": True, "hue": 3}}, if_match=0)
    assert (desired.desired_version, desired.reported_version) == (1, 2)
    merged = store.desire("cam-1", {"interval_s": None, "led": {"hue": 4}}, if_match=1)
    assert merged.desired == {"led": {"on": True, "hue": 4}}  # null deletes, objects merge
    assert merged.desired_version == 2
    with pytest.raises(StaleVersion, match="desired state of device 'cam-1' is at version 2"):
        store.desire("cam-1", {"led": None}, if_match=1)
    assert store.twin("cam-1") == merged  # the refused write left nothing behind
    assert store.desire("cam-1", {"x": 1}, if_match=None).desired_version == 3  # If-Match: *
    # a state that cannot be stored is refused whole
    with pytest.raises(InputError, match="not plain JSON"):
        store.report("cam-1", {"t": float("nan")})
    with pytest.raises(InputError, match="at most 65536"):
        store.desire("cam-1", {"blob": "x" * 70_000}, if_match=3)
    with pytest.raises(InputError, match="must be a JSON object"):
        store.report("cam-1", [1, 2])  # type: ignore[arg-type]
    assert store.twin("cam-1").desired_version == 3 and store.twin("cam-1").reported_version == 2
    with pytest.raises(NotFound):
        store.twin("nope")


def test_two_writers_with_the_same_version_exactly_one_wins(tmp_path: Path) -> None:
    path = str(tmp_path / "service.sqlite")
    DeviceStore(ServiceDB(path)).register("cam-1", "kitchen")
    writers = [DeviceStore(ServiceDB(path)) for _ in range(2)]  # two connections, as two processes
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def write(store: DeviceStore, value: int) -> None:
        version = store.twin("cam-1").desired_version
        start.wait()
        try:
            store.desire("cam-1", {"writer": value}, if_match=version)
            outcomes.append("won")
        except StaleVersion:
            outcomes.append("stale")

    threads = [threading.Thread(target=write, args=(s, i)) for i, s in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["stale", "won"]
    final = writers[0].twin("cam-1")
    assert final.desired_version == 1 and list(final.desired) == ["writer"]


def test_command_lifecycle_and_refused_transitions(store: DeviceStore) -> None:
    sent = store.send("cam-1", "reboot", {"delay_s": 2}, timeout_s=60, now=1000.0)
    assert (sent.status, sent.created_s, sent.deadline_s, sent.args) == (
        "pending", 1000.0, 1060.0, {"delay_s": 2},
    )  # fmt: skip
    other = store.send("cam-1", "ffc", now=1001.0)
    assert [c.command_id for c in store.pending("cam-1", now=1002.0)] == [
        sent.command_id, other.command_id,
    ]  # fmt: skip
    assert store.pending("cam-2", now=1002.0) == []

    delivered = store.mark_delivered(sent.command_id, now=1003.0)
    assert (delivered.status, delivered.delivered_s) == ("delivered", 1003.0)
    assert [c.command_id for c in store.pending("cam-1", now=1004.0)] == [other.command_id]
    with pytest.raises(Conflict, match="is delivered: it cannot become delivered"):
        store.mark_delivered(sent.command_id, now=1004.0)
    done = store.acknowledge(sent.command_id, True, {"uptime_s": 0}, now=1005.0)
    assert (done.status, done.acked_s, done.result, done.reason) == (
        "acknowledged", 1005.0, {"uptime_s": 0}, None,
    )  # fmt: skip
    with pytest.raises(Conflict, match="is acknowledged: .* nothing more: it is final"):
        store.acknowledge(sent.command_id, False, now=1006.0)
    # a device may answer before its delivery was recorded; a failure keeps its result
    failed = store.acknowledge(other.command_id, False, {"error": "busy"}, now=1007.0)
    assert (failed.status, failed.result) == ("failed", {"error": "busy"})
    assert [c.status for c in store.commands("cam-1", now=1008.0)] == ["acknowledged", "failed"]
    assert [c.name for c in store.commands("cam-1", "failed", now=1008.0)] == ["ffc"]

    with pytest.raises(NotFound, match="no command 'nope'"):
        store.acknowledge("nope", True, now=1009.0)
    with pytest.raises(NotFound, match="for device 'cam-2'"):  # only the device's own commands
        store.command(sent.command_id, "cam-2", now=1009.0)
    with pytest.raises(NotFound, match="no device 'nope'"):
        store.send("nope", "reboot")
    for timeout in (0.0, -1.0, 86_401.0, float("inf")):
        with pytest.raises(InputError, match="timeout"):
            store.send("cam-1", "reboot", timeout_s=timeout)
    with pytest.raises(InputError, match="command name"):
        store.send("cam-1", "re boot")


def test_commands_expire_at_their_deadline(store: DeviceStore) -> None:
    waiting = store.send("cam-1", "reboot", timeout_s=60, now=1000.0)
    delivered = store.send("cam-1", "ffc", timeout_s=30, now=1000.0)
    store.mark_delivered(delivered.command_id, now=1001.0)
    late = store.send("hall-1", "ffc", timeout_s=600, now=1000.0)
    assert store.command(waiting.command_id, now=1060.0).status == "pending"  # at the deadline
    # any read applies expiry first: the delivered one is past its deadline at 1031
    assert store.command(delivered.command_id, now=1031.0).status == "expired"
    expired = store.command(waiting.command_id, now=1061.0)
    assert (expired.status, expired.reason) == ("expired", "not acknowledged by its deadline")
    assert store.pending("cam-1", now=1061.0) == []
    with pytest.raises(Conflict, match=f"{waiting.command_id} is expired .* cannot become ackn"):
        store.acknowledge(waiting.command_id, True, now=1061.0)
    with pytest.raises(Conflict, match="is expired"):
        store.mark_delivered(waiting.command_id, now=1061.0)
    assert store.expire(now=1599.0) == 0
    assert store.expire(now=1601.0) == 1
    assert store.command(late.command_id, now=1601.0).status == "expired"


def test_a_revoked_device_refuses_reports_desires_and_commands(store: DeviceStore) -> None:
    assert store.refusal("stranger") == "unknown_device"
    assert store.refusal("cam-1") is None  # registered: remembered for the next messages
    assert store.refusal("cam-1") is None
    open_one = store.send("cam-1", "reboot", now=1000.0)
    answered = store.send("cam-1", "ffc", now=1000.0)
    store.acknowledge(answered.command_id, True, now=1001.0)
    store.revoke("cam-1", now=1002.0)
    assert store.refusal("cam-1") == "revoked_device"  # not what was remembered
    with pytest.raises(Conflict, match="'cam-1' is revoked: it takes no reported state"):
        store.report("cam-1", {"fw": "1"})
    with pytest.raises(Conflict, match="it takes no desired state"):
        store.desire("cam-1", {"fw": "1"}, if_match=0)
    with pytest.raises(Conflict, match="it takes no commands"):
        store.send("cam-1", "reboot")
    failed = store.command(open_one.command_id, now=1003.0)
    assert (failed.status, failed.reason) == ("failed", "the device was revoked")
    assert store.command(answered.command_id, now=1003.0).status == "acknowledged"
    with pytest.raises(Conflict, match="is failed"):
        store.acknowledge(open_one.command_id, True, now=1003.0)
    assert store.twin("cam-1").reported_version == 0  # still readable, unchanged
    assert store.twin("cam-2").reported_version == 0
    assert store.report("cam-2", {"fw": "1"}).reported_version == 1  # other devices go on


# the API


def _register(client: TestClient, auth: dict[str, str], device_id: str, zone: str) -> Any:
    answer = client.post("/v1/devices", headers=auth, json={"device_id": device_id, "zone": zone})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_devices_api_register_list_get_revoke_and_scopes(served: Any) -> None:
    client: TestClient = served.client
    admin, read = served.auth("admin"), served.auth("read")
    body = {"device_id": "cam-1", "zone": "kitchen", "name": "Kitchen camera"}
    for scope in ("read", "operate"):
        refused = client.post("/v1/devices", headers=served.auth(scope), json=body)
        assert refused.status_code == 403 and "'admin' scope" in refused.json()["detail"]
    made = client.post("/v1/devices", headers=admin, json=body)
    assert made.status_code == 201, made.text
    assert made.json()["device_id"] == "cam-1" and made.json()["revoked_s"] is None
    again = client.post("/v1/devices", headers=admin, json=body)
    assert again.status_code == 409 and "already registered" in again.json()["detail"]
    bad = client.post("/v1/devices", headers=admin, json={"device_id": "cam 2", "zone": "k"})
    assert bad.status_code == 422 and "device_id" in str(bad.json()["detail"])
    extra = client.post("/v1/devices", headers=admin, json={**body, "owner": "me"})
    assert extra.status_code == 422
    _register(client, admin, "hall-1", "hall")

    listed = client.get("/v1/devices", headers=read).json()
    assert [d["device_id"] for d in listed] == ["cam-1", "hall-1"]
    kitchen = client.get("/v1/devices", headers=read, params={"zone": "kitchen"}).json()
    assert [d["device_id"] for d in kitchen] == ["cam-1"]
    one = client.get("/v1/devices/cam-1", headers=read).json()
    assert one["name"] == "Kitchen camera" and one["twin"]["desired_version"] == 0
    missing = client.get("/v1/devices/nope", headers=read)
    assert missing.status_code == 404 and "'nope'" in missing.json()["detail"]

    assert client.delete("/v1/devices/cam-1", headers=served.auth("operate")).status_code == 403
    revoked = client.delete("/v1/devices/cam-1", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_s"] is not None
    assert [d["device_id"] for d in client.get("/v1/devices", headers=read).json()] == ["hall-1"]
    everyone = client.get("/v1/devices", headers=read, params={"include_revoked": True}).json()
    assert len(everyone) == 2
    assert client.delete("/v1/devices/nope", headers=admin).status_code == 404


def test_twin_api_etag_if_match_412_428_and_one_winner(served: Any) -> None:
    client: TestClient = served.client
    admin, read, operate = served.auth("admin"), served.auth("read"), served.auth("operate")
    _register(client, admin, "cam-1", "kitchen")
    url = "/v1/devices/cam-1/twin"
    got = client.get(url, headers=read)
    assert got.status_code == 200 and got.headers["ETag"] == '"0"'

    patch = {"interval_s": 5, "led": {"on": True}}
    unconditional = client.patch(f"{url}/desired", headers=admin, json=patch)
    assert unconditional.status_code == 428 and "If-Match" in unconditional.json()["detail"]
    denied = client.patch(f"{url}/desired", headers={**operate, "If-Match": '"0"'}, json=patch)
    assert denied.status_code == 403
    first = client.patch(f"{url}/desired", headers={**admin, "If-Match": '"0"'}, json=patch)
    assert first.status_code == 200, first.text
    assert first.headers["ETag"] == '"1"' and first.json()["desired"] == patch
    # a second writer that read version 0 too is refused, and told the current version
    stale = client.patch(f"{url}/desired", headers={**admin, "If-Match": '"0"'}, json={"x": 1})
    assert stale.status_code == 412 and "at version 1, not 0" in stale.json()["detail"]
    assert stale.headers["ETag"] == '"1"'
    garbage = client.patch(f"{url}/desired", headers={**admin, "If-Match": "abc"}, json={})
    assert garbage.status_code == 412 and "names no version" in garbage.json()["detail"]
    deleted = client.patch(
        f"{url}/desired", headers={**admin, "If-Match": '"1"'}, json={"interval_s": None}
    )
    assert deleted.json()["desired"] == {"led": {"on": True}}
    assert client.get(url, headers=read).headers["ETag"] == '"2"'
    listish = client.patch(f"{url}/desired", headers={**admin, "If-Match": '"2"'}, json=[1])
    assert listish.status_code == 422

    # two clients with the same version at once: exactly one wins
    start = threading.Barrier(2)
    codes: list[int] = []

    def write(value: int) -> None:
        start.wait()
        answer = client.patch(
            f"{url}/desired", headers={**admin, "If-Match": '"2"'}, json={"writer": value}
        )
        codes.append(answer.status_code)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200, 412]
    assert client.get(url, headers=read).headers["ETag"] == '"3"'

    # the reported side: operate may write, If-Match optional
    assert client.put(f"{url}/reported", headers=read, json={"fw": "1"}).status_code == 403
    reported = client.put(f"{url}/reported", headers=operate, json={"fw": "1.0"})
    assert reported.status_code == 200 and reported.headers["ETag"] == '"1"'
    guarded = client.put(f"{url}/reported", headers={**operate, "If-Match": '"1"'}, json={})
    assert guarded.json()["reported"] == {} and guarded.json()["reported_version"] == 2
    late = client.put(f"{url}/reported", headers={**operate, "If-Match": '"1"'}, json={})
    assert late.status_code == 412
    assert client.get("/v1/devices/nope/twin", headers=read).status_code == 404


def test_commands_api_lifecycle_expiry_and_revoked_device(served: Any) -> None:
    client: TestClient = served.client
    admin, read, operate = served.auth("admin"), served.auth("read"), served.auth("operate")
    _register(client, admin, "cam-1", "kitchen")
    _register(client, admin, "cam-2", "kitchen")
    url = "/v1/devices/cam-1/commands"
    assert client.post(url, headers=read, json={"name": "reboot"}).status_code == 403
    sent = client.post(url, headers=operate, json={"name": "reboot", "args": {"delay_s": 1}})
    assert sent.status_code == 201, sent.text
    command = sent.json()
    assert command["status"] == "pending"
    assert command["deadline_s"] - command["created_s"] == pytest.approx(60.0)
    too_long = client.post(url, headers=operate, json={"name": "x", "timeout_s": 86_401})
    assert too_long.status_code == 422 and "timeout_s" in str(too_long.json()["detail"])
    unknown = client.post("/v1/devices/nope/commands", headers=operate, json={"name": "x"})
    assert unknown.status_code == 404 and "no device 'nope'" in unknown.json()["detail"]

    one = f"{url}/{command['command_id']}"
    assert client.get(one, headers=read).json()["status"] == "pending"
    elsewhere = client.get(f"/v1/devices/cam-2/commands/{command['command_id']}", headers=read)
    assert elsewhere.status_code == 404  # a command belongs to its device
    ack = client.post(f"{one}/ack", headers=operate, json={"ok": True, "result": {"up": 1}})
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    assert ack.json()["result"] == {"up": 1}
    twice = client.post(f"{one}/ack", headers=operate, json={"ok": False})
    assert twice.status_code == 409 and "is acknowledged" in twice.json()["detail"]
    nothing = client.post(f"{url}/nope/ack", headers=operate, json={"ok": True})
    assert nothing.status_code == 404 and "no command 'nope'" in nothing.json()["detail"]

    # a command whose deadline has passed is expired by the next read and cannot be answered
    store = client.app.state.service.devices  # type: ignore[attr-defined]
    old = store.send("cam-1", "ffc", timeout_s=5.0, now=time.time() - 10.0)
    listed = client.get(url, headers=read, params={"status": "expired"}).json()
    assert [c["command_id"] for c in listed] == [old.command_id]
    late = client.post(f"{url}/{old.command_id}/ack", headers=operate, json={"ok": True})
    assert late.status_code == 409 and "is expired" in late.json()["detail"]
    statuses = [c["status"] for c in client.get(url, headers=read).json()]
    assert statuses == ["expired", "acknowledged"]  # oldest first: the expired one was older
    assert client.get(url, headers=read, params={"status": "lost"}).status_code == 422

    # a revoked device refuses reports, desires and commands
    pending = client.post(url, headers=operate, json={"name": "reboot"}).json()
    assert client.delete("/v1/devices/cam-1", headers=admin).status_code == 200
    twin = "/v1/devices/cam-1/twin"
    for answer in (
        client.put(f"{twin}/reported", headers=operate, json={"fw": "2"}),
        client.patch(f"{twin}/desired", headers={**admin, "If-Match": '"0"'}, json={"a": 1}),
        client.post(url, headers=operate, json={"name": "reboot"}),
    ):
        assert answer.status_code == 409 and "revoked" in answer.json()["detail"]
    failed = client.get(f"{url}/{pending['command_id']}", headers=read).json()
    assert (failed["status"], failed["reason"]) == ("failed", "the device was revoked")
