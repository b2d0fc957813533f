"""The bus, on both backends (SQLite and a real redis-server): every group sees every message,
one consumer of a group at a time, leases that run out, retries with backoff, dead letters and
their replay, duplicate publishes, counts that add up, a queue filled faster than it drains, and
durability across a SIGKILL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

from components import Redis
from embercast.bus import Bus, RetryPolicy, open_bus
from embercast.bus.base import GroupStats
from embercast.bus.sqlite import SqliteBus
from embercast.errors import InputError

POLICY = RetryPolicy(max_attempts=3, backoff_s=0.2, backoff_max_s=1.0)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    server = Redis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "redis"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "bus.sqlite")
    server: Redis = request.getfixturevalue("redis_server")
    import redis

    redis.Redis.from_url(server.url).flushall()
    return server.url


@pytest.fixture
def bus(url: str) -> Iterator[Bus]:
    with open_bus(url, POLICY) as opened:
        yield opened


def _one(stats: list[GroupStats], topic: str, group: str) -> GroupStats:
    return next(s for s in stats if (s.topic, s.group) == (topic, group))


def test_every_group_sees_every_message_in_order_once(bus: Bus) -> None:
    ids = [bus.publish("readings", {"n": n}, key=f"dev-{n % 2}") for n in range(5)]
    got = bus.receive("readings", "monitor", "m1", limit=10)
    assert [d.message.message_id for d in got] == ids
    assert [d.message.payload for d in got] == [{"n": n} for n in range(5)]
    assert [d.message.key for d in got] == ["dev-0", "dev-1", "dev-0", "dev-1", "dev-0"]
    assert {d.attempt for d in got} == {1}
    assert all(bus.ack(d) for d in got)
    assert bus.receive("readings", "monitor", "m1") == []
    other = bus.receive("readings", "analysis", "a1", limit=10)  # another group: all of them
    assert [d.message.message_id for d in other] == ids
    assert bus.receive("risk", "monitor", "m1") == []  # another topic: none


def test_a_message_id_published_twice_is_one_message(bus: Bus) -> None:
    first = bus.publish("alarms", {"zone": "kitchen"}, message_id="event-1")
    again = bus.publish("alarms", {"zone": "kitchen", "again": True}, message_id="event-1")
    assert first == again == "event-1"
    got = bus.receive("alarms", "notify", "n1", limit=10)
    assert [(d.message.message_id, d.message.payload) for d in got] == [
        ("event-1", {"zone": "kitchen"})
    ]


def test_many_published_at_once_are_each_one_message(bus: Bus) -> None:
    items = [({"n": n}, f"dev-{n}", f"m{n}") for n in range(3)]
    assert bus.publish_many("risk", [*items, items[0]]) == 4  # the repeat is ignored
    got = bus.receive("risk", "zones", "z1", limit=10)
    assert [(d.message.message_id, d.message.key, d.message.payload) for d in got] == [
        (f"m{n}", f"dev-{n}", {"n": n}) for n in range(3)
    ]


def test_many_acknowledged_at_once_and_a_stale_one_does_not_count(bus: Bus) -> None:
    for n in range(3):
        bus.publish("risk", {"n": n})
    first = bus.receive("risk", "g", "c1", limit=3, visibility_s=0.2)
    time.sleep(0.3)
    (again,) = bus.receive("risk", "g", "c2", limit=1, visibility_s=5)  # the oldest, taken over
    assert bus.ack_many(first) == 2  # the one c2 holds now is not c1's to acknowledge
    assert bus.ack_many([again]) == 1
    stats = _one(bus.stats(), "risk", "g")
    assert (stats.handled, stats.leased, stats.waiting) == (3, 0, 0)


def test_consumers_of_a_group_never_hold_the_same_message(bus: Bus) -> None:
    for n in range(3):
        bus.publish("features", {"n": n})
    first = bus.receive("features", "score", "c1", limit=2)
    second = bus.receive("features", "score", "c2", limit=10)
    assert [d.message.payload["n"] for d in first] == [0, 1]
    assert [d.message.payload["n"] for d in second] == [2]
    assert bus.receive("features", "score", "c3", limit=10) == []


def test_a_lease_that_runs_out_goes_to_another_consumer(bus: Bus) -> None:
    bus.publish("readings", {"n": 1})
    (held,) = bus.receive("readings", "g", "dies", visibility_s=0.3)
    assert bus.receive("readings", "g", "other", visibility_s=0.3) == []
    time.sleep(0.5)
    (taken,) = bus.receive("readings", "g", "other", visibility_s=5)
    assert taken.message.message_id == held.message.message_id and taken.attempt == 2
    assert not bus.ack(held)  # the first consumer's lease is gone
    assert bus.ack(taken)
    stats = _one(bus.stats(), "readings", "g")
    assert (stats.handled, stats.leased, stats.waiting, stats.dead) == (1, 0, 0, 0)


def test_failures_back_off_then_dead_letter_then_replay(bus: Bus) -> None:
    mid = bus.publish("notifications", {"to": "ops"}, key="kitchen")
    bus.publish("notifications", {"to": "fine"})
    seen: list[tuple[int, float]] = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 10:
        for d in bus.receive("notifications", "send", "s1", visibility_s=5, wait_s=0.1):
            if d.message.payload["to"] == "fine":
                assert bus.ack(d)
                continue
            seen.append((d.attempt, time.monotonic() - t0))
            assert bus.fail(d, f"smtp refused (attempt {d.attempt})")
        if bus.dead_letters("notifications"):
            break
    assert [a for a, _ in seen] == [1, 2, 3]  # POLICY.max_attempts
    gaps = [b - a for (_, a), (_, b) in zip(seen, seen[1:], strict=False)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4  # backoff 0.2 s, doubled
    (dead,) = bus.dead_letters("notifications")
    assert (dead.message.message_id, dead.group, dead.attempts) == (mid, "send", 3)
    assert dead.error == "smtp refused (attempt 3)" and dead.message.key == "kitchen"
    stats = _one(bus.stats(), "notifications", "send")
    assert (stats.published, stats.handled, stats.dead, stats.waiting, stats.leased) == (
        2, 1, 1, 0, 0,
    )  # fmt: skip
    assert bus.receive("notifications", "send", "s1") == []
    assert bus.replay("notifications", "send") == 1
    assert bus.dead_letters("notifications") == []
    (again,) = bus.receive("notifications", "send", "s1")
    assert (again.message.message_id, again.attempt) == (mid, 1)
    assert bus.ack(again)
    assert _one(bus.stats(), "notifications", "send").dead == 0


def test_a_lease_that_runs_out_on_the_last_attempt_is_a_dead_letter(bus: Bus) -> None:
    bus.publish("risk", {"p": 0.9}, message_id="r-1")
    for attempt in (1, 2, 3):
        (d,) = bus.receive("risk", "g", "crashy", visibility_s=0.2)
        assert d.attempt == attempt
        time.sleep(0.3)  # never acknowledged: the consumer died each time
    assert bus.receive("risk", "g", "crashy", visibility_s=0.2) == []
    (dead,) = bus.dead_letters("risk", "g")
    assert dead.message.message_id == "r-1" and dead.attempts == 3
    assert "ran out" in dead.error


def test_prune_forgets_old_messages_every_group_is_done_with_and_counts_them(bus: Bus) -> None:
    for n in range(6):
        bus.publish("risk", {"n": n}, message_id=f"r-{n}")
    one = bus.receive("risk", "g1", "c", limit=6, visibility_s=30)
    assert bus.ack_many(one[:4]) == 4 and bus.fail(one[4], "flaky")  # r-5 stays leased
    two = bus.receive("risk", "g2", "c", limit=3, visibility_s=30)
    assert bus.ack_many(two) == 3  # r-3 .. r-5 not read yet by g2
    assert bus.prune(3600.0) == 0  # nothing that old
    before = {s.group: s for s in bus.stats() if s.topic == "risk"}
    time.sleep(0.01)
    assert bus.prune(0.0) == 3  # r-0 .. r-2: handled by both groups
    after = {s.group: s for s in bus.stats() if s.topic == "risk"}
    assert after == before  # still counted as published and handled
    assert all(s.published == s.waiting + s.leased + s.handled + s.dead for s in after.values())
    rest = bus.receive("risk", "g2", "c", limit=10, visibility_s=30)
    assert [d.message.message_id for d in rest] == ["r-3", "r-4", "r-5"]
    assert bus.ack_many(rest) == 3 and bus.prune(0.0) == 1  # r-3; g1 holds r-4 and r-5
    time.sleep(0.25)  # r-4's backoff is over
    (again,) = bus.receive("risk", "g1", "c", limit=10, visibility_s=30)
    assert again.message.message_id == "r-4" and again.attempt == 2


def test_a_dead_letter_stays_replayable_after_a_prune(bus: Bus) -> None:
    bus.publish("alerts", {"to": "ops"}, message_id="a-1")
    deadline = time.monotonic() + 10
    while not bus.dead_letters("alerts") and time.monotonic() < deadline:
        for d in bus.receive("alerts", "send", "s", visibility_s=5, wait_s=0.1):
            assert bus.fail(d, "refused")
    time.sleep(0.01)
    bus.prune(0.0)
    (dead,) = bus.dead_letters("alerts")
    assert dead.message.message_id == "a-1" and dead.message.payload == {"to": "ops"}
    stats = _one(bus.stats(), "alerts", "send")
    assert (stats.published, stats.dead, stats.handled) == (1, 1, 0)
    assert bus.replay("alerts", "send") == 1
    (back,) = bus.receive("alerts", "send", "s")
    assert back.message.message_id == "a-1" and bus.ack(back)


def test_read_gives_what_was_published_since_page_by_page_and_changes_nothing(bus: Bus) -> None:
    since = time.time() - 1.0
    bus.publish_many("risk", [({"n": n}, f"d{n % 3}", f"r-{n}") for n in range(2_500)])
    got = list(bus.read("risk", since))
    assert [m.payload["n"] for m in got] == list(range(2_500))  # pages of 1,000, in order
    assert (got[7].message_id, got[7].key, got[7].topic) == ("r-7", "d1", "risk")
    assert list(bus.read("risk", time.time() + 60)) == [] and list(bus.read("other", 0.0)) == []
    assert len(bus.receive("risk", "g", "c", limit=3000)) == 2_500  # nobody took them before


def test_bad_names_and_payloads_are_refused(bus: Bus) -> None:
    with pytest.raises(InputError, match="topic 'no spaces' is not a usable name"):
        bus.publish("no spaces", {})
    with pytest.raises(InputError, match="a bus payload must be JSON"):
        bus.publish("readings", {"x": float("nan")})
    with pytest.raises(InputError, match="a bus payload must be JSON"):
        bus.publish("readings", {"x": object()})
    with pytest.raises(InputError, match="group '' is not a usable name"):
        bus.receive("readings", "", "c")
    assert bus.stats() == [] or all(s.published == 0 for s in bus.stats())


def test_what_was_published_survives_a_sigkill_of_redis(tmp_path: Path) -> None:
    server = Redis(tmp_path / "redis")
    server.start()
    try:
        with open_bus(server.url, POLICY) as bus:
            for n in range(50):
                bus.publish("readings", {"n": n}, message_id=f"m{n}")
            got = bus.receive("readings", "g", "c", limit=20, visibility_s=0.2)
            assert all(bus.ack(d) for d in got[:10])
        server.kill()
        server.start()
        with open_bus(server.url, POLICY) as bus:
            stats = _one(bus.stats(), "readings", "g")
            assert (stats.published, stats.handled) == (50, 10)
            time.sleep(0.3)
            rest = bus.receive("readings", "g", "c2", limit=100, visibility_s=0.2)
            assert sorted(int(d.message.message_id[1:]) for d in rest) == list(range(10, 50))
    finally:
        server.kill()


def test_a_queue_filled_faster_than_it_drains_loses_and_repeats_nothing(url: str) -> None:
    import threading

    published: list[str] = []

    def flood() -> None:  # its own connection, as another process would have
        with open_bus(url, POLICY) as other:
            for start in range(0, 3000, 100):
                batch = [({"n": n}, f"dev-{n % 7}", f"m-{n}") for n in range(start, start + 100)]
                other.publish_many("risk", batch)
                published.extend(m for _, _, m in batch)

    with open_bus(url, POLICY) as bus:
        assert bus.receive("risk", "zones", "z1") == []  # the group exists before the flood
        writer = threading.Thread(target=flood)
        writer.start()
        seen: list[str] = []
        while writer.is_alive():  # a slow consumer: 20 messages per 10 ms at most
            got = bus.receive("risk", "zones", "z1", limit=20)
            time.sleep(0.01)
            bus.ack_many(got)
            seen += [d.message.message_id for d in got]
        writer.join()
        backlog = _one(bus.stats(), "risk", "zones")
        assert backlog.published == 3000 and backlog.waiting > 0  # it filled faster
        assert backlog.handled == len(seen) and backlog.waiting + len(seen) == 3000
        while got := bus.receive("risk", "zones", "z1", limit=500):
            bus.ack_many(got)
            seen += [d.message.message_id for d in got]
        stats = _one(bus.stats(), "risk", "zones")
    assert len(seen) == len(set(seen)) == 3000 and set(seen) == set(published)
    numbers = [int(m.removeprefix("m-")) for m in seen]
    for dev in range(7):  # each device's messages in the order they were published
        mine = [n for n in numbers if n % 7 == dev]
        assert mine == sorted(mine)
    assert (stats.published, stats.waiting, stats.leased, stats.handled, stats.dead) == (
        3000, 0, 0, 3000, 0,
    )  # fmt: skip


def test_sqlite_makes_a_delivery_only_when_it_leases_and_indexes_only_those_to_handle(
    tmp_path: Path,
) -> None:
    import sqlite3

    from embercast.bus.sqlite import SqliteBus

    path = tmp_path / "bus.sqlite"
    with sqlite3.connect(path) as old:  # a file of the schema before: its index of every delivery
        old.execute("CREATE TABLE bus_deliveries (grp TEXT NOT NULL, seq INTEGER NOT NULL, "
                    "topic TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL, "
                    "due_s REAL NOT NULL, consumer TEXT, lease TEXT, error TEXT, "
                    "changed_s REAL NOT NULL, PRIMARY KEY (grp, seq))")  # fmt: skip
        old.execute("CREATE INDEX bus_due ON bus_deliveries (topic, grp, state, due_s)")
    bus = SqliteBus(str(path), POLICY)
    bus.publish_many("risk", [({"n": n}, "", None) for n in range(10)])
    first = bus.receive("risk", "g", "c", limit=3, visibility_s=30)
    assert bus.fail(first[1], "flaky")  # waiting again, due after its backoff
    assert bus.ack_many([first[0], first[2]]) == 2
    rows = bus._query("SELECT seq, state FROM bus_deliveries ORDER BY seq")
    assert [state for _, state in rows] == ["handled", "waiting", "handled"]  # 7 not made yet
    assert (_one(bus.stats(), "risk", "g").waiting, _one(bus.stats(), "risk", "g").handled) == (
        8,
        2,
    )
    time.sleep(0.3)  # the failed one is due: it comes first, then the messages past the cursor
    again = bus.receive("risk", "g", "c", limit=4, visibility_s=30)
    assert [d.message.payload["n"] for d in again] == [1, 3, 4, 5]
    assert [d.attempt for d in again] == [2, 1, 1, 1]
    indexes = dict(bus._query("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                              "AND tbl_name = 'bus_deliveries'"))  # fmt: skip
    assert "bus_due" not in indexes and "WHERE state IN" in indexes["bus_pending"]
    plan = " ".join(str(r) for r in bus._query(
        "EXPLAIN QUERY PLAN SELECT seq FROM bus_deliveries d WHERE d.topic = ? AND d.grp = ? "
        "AND d.state IN ('waiting', 'leased') AND d.due_s <= ? ORDER BY d.seq", ("risk", "g", 0.0)
    ))  # fmt: skip
    assert "bus_pending" in plan
    bus.close()


def test_sqlite_reads_past_a_cursor_through_an_index_also_in_a_file_made_without_it(
    tmp_path: Path,
) -> None:
    import sqlite3

    from embercast.bus.sqlite import PAST_CURSOR, SCHEMA, SqliteBus

    path = tmp_path / "bus.sqlite"
    with sqlite3.connect(path) as old:  # the schema before the index
        for statement in SCHEMA:
            if "bus_topic_seq" not in statement:
                old.execute(statement)
        old.executemany(
            "INSERT INTO bus_messages (topic, message_id, key, payload, published_s) "
            "VALUES (?,?,'','{}',0)",
            [(topic, str(n)) for n in range(50) for topic in ("risk", "alarms")],
        )
    bus = SqliteBus(str(path), POLICY)
    plan = " ".join(str(r) for r in bus._query("EXPLAIN QUERY PLAN " + PAST_CURSOR, ("risk", 0, 8)))
    # a range of the index, in its order: not every message of the topic, scanned and sorted
    assert "bus_topic_seq (topic=? AND seq>?)" in plan and "TEMP B-TREE" not in plan, plan
    taken = bus.receive("risk", "g", "c", limit=8)
    assert [d.message.message_id for d in taken] == [str(n) for n in range(8)]
    bus.close()


def test_waiting_counts_a_groups_messages_past_its_cursors_and_due_again_as_stats_does(
    bus: Bus,
) -> None:
    for topic in ("readings.p0", "readings.p1"):
        bus.publish_many(topic, [({"n": n}, "", None) for n in range(10)])
    bus.publish_many("risk", [({"n": n}, "", None) for n in range(4)])  # another group's
    taken = bus.receive("readings.p0", "fold", "w1", limit=6, visibility_s=30)
    assert bus.ack_many(taken[:3]) == 3 and bus.fail(taken[3], "flaky")  # 2 stay leased
    bus.receive("readings.p1", "fold", "w1", limit=1, visibility_s=30)
    bus.receive("risk", "zones", "z1", limit=1, visibility_s=30)
    # p0: 4 past the cursor + 1 due again; p1: 9 past the cursor; leased and handled do not wait
    assert bus.waiting("fold") == 14 == sum(s.waiting for s in bus.stats() if s.group == "fold")
    assert bus.waiting("zones") == 3 and bus.waiting("nobody") == 0


def test_sqlite_counts_what_waits_through_its_indexes() -> None:
    from embercast.bus.sqlite import WAITING_AGAIN, WAITING_PAST_CURSOR, SqliteBus

    bus = SqliteBus(":memory:", POLICY)
    plans = [
        " ".join(str(r) for r in bus._query("EXPLAIN QUERY PLAN " + sql, ("t", arg)))
        for sql, arg in ((WAITING_PAST_CURSOR, 0), (WAITING_AGAIN, "g"))
    ]
    assert "bus_topic_seq (topic=? AND seq>?)" in plans[0], plans[0]
    assert "bus_pending (topic=? AND grp=?)" in plans[1], plans[1]
    bus.close()


def test_a_waiting_sqlite_receive_wakes_on_a_publication_of_its_process(tmp_path: Path) -> None:
    """A receive waiting up to ``poll_s`` looks once, then waits for a publication of its own
    process (through any bus object of the file), which wakes it at once; without one it
    returns nothing when the wait is over (the consumer's next receive looks again)."""
    import threading

    path = str(tmp_path / "bus.sqlite")
    with open_bus(path) as publisher, SqliteBus(path, poll_s=60.0) as waiting:
        got: list[tuple[float, int]] = []

        def receive() -> None:
            taken = waiting.receive("risk", "g", "c", wait_s=60.0)
            got.append((time.monotonic(), len(taken)))

        thread = threading.Thread(target=receive)
        thread.start()
        time.sleep(0.5)
        sent = time.monotonic()
        publisher.publish("risk", {"n": 1})
        thread.join(60)
        ((when, count),) = got
        assert count == 1 and when - sent < 1.5  # not at the wait's end, 59.5 s on
        with mock.patch.object(waiting, "_lease", wraps=waiting._lease) as lease:
            started = time.monotonic()
            assert waiting.receive("risk", "g", "c", wait_s=0.3) == []
        assert time.monotonic() - started >= 0.3 and lease.call_count == 1  # one look per wait
    with pytest.raises(InputError, match="poll_s"):
        SqliteBus(path, poll_s=0)
