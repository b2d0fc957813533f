"""``embercast agent response`` in processes of its own: two of them on one bus and one outbox
deliver each zone event to each recipient exactly once; without recipients it says so."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from components import WebhookReceiver
from embercast.bus import open_bus


def test_two_response_processes_deliver_each_event_once(tmp_path: Path) -> None:
    receiver = WebhookReceiver(fail_first=3)
    recipients = tmp_path / "recipients.toml"
    recipients.write_text(f'[[recipient]]\nname = "ops"\nurl = "{receiver.url()}"\n')
    env = dict(os.environ, EMBERCAST_CONFIG="", EMBERCAST_BUS_URL=str(tmp_path / "bus.sqlite"),
               EMBERCAST_SERVICE_HOME=str(tmp_path / "home"),
               EMBERCAST_NOTIFY_RECIPIENTS=str(recipients))  # fmt: skip
    with open_bus(str(tmp_path / "bus.sqlite")) as bus:
        for i in range(20):
            event = {"event_id": f"zone-{i}:alarm:1", "zone": f"zone-{i}", "kind": "alarm",
                     "t": 1.0, "state": "alarm", "detail": {}}  # fmt: skip
            bus.publish("alarms", event, key=event["zone"], message_id=event["event_id"])
    agents = [
        subprocess.Popen(
            [sys.executable, "-m", "embercast.cli", "agent", "response", "--for", "25"],
            env=env,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 60
        while len(receiver.accepted) < 20 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(6.0)  # anything sent twice (after the backoff of 5 s) would be here by now
        titles = [r["body"]["title"] for r in receiver.accepted]  # type: ignore[index]
        assert sorted(titles) == sorted(f"FIRE ALARM in zone-{i}" for i in range(20))
        assert len(receiver.received) == 23  # three refused, then each taken once
    finally:
        for a in agents:
            a.terminate()
        for a in agents:
            assert a.wait(30) == 0
        receiver.stop()


def test_the_response_agent_needs_recipients(tmp_path: Path) -> None:
    env = dict(os.environ, EMBERCAST_CONFIG="", EMBERCAST_BUS_URL=str(tmp_path / "bus.sqlite"))
    env.pop("EMBERCAST_NOTIFY_RECIPIENTS", None)
    done = subprocess.run([sys.executable, "-m", "embercast.cli", "agent", "response"], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: the response agent needs notify_recipients (a TOML file of recipients)"
    )
