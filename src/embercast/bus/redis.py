"""The bus on Redis Streams: one stream per topic, Redis consumer groups, the bus's retry and
dead-letter rules kept beside them.

Keys (under ``embercast:bus:``): ``{topic}`` the stream; ``{topic}:id:{message_id}`` marks an id
published (for ``dedupe_s``, so a second publish is ignored); per group, ``{topic}:{group}:replay``
a stream of its replayed dead letters, ``...:handled`` a counter, ``...:dead`` the dead letters
(a stream), and per stream and group the hashes ``attempts``, ``until`` (when an entry's lease
or backoff ends [s]), ``error`` and ``backoff`` (entries failed and waiting). A lease is an entry
pending with a consumer: :meth:`RedisBus.receive` first claims pending entries whose ``until``
has passed (their consumer died, or their backoff is over; ``XCLAIM`` with the idle time it saw,
so of two consumers racing for one entry only one gets it), then reads new ones.
Acknowledgement, failure and dead-lettering are Lua scripts, atomic on the server, that check the
lease is still the delivery's. :meth:`RedisBus.prune` trims from a stream its old entries that
every group has read and none holds (``XTRIM MINID``) and counts them in ``{topic}:pruned``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from typing import Any

import redis

from embercast import jsonio
from embercast.bus.base import (
    Bus,
    BusError,
    DeadLetter,
    Delivery,
    GroupStats,
    Message,
    RetryPolicy,
    check_name,
    encode,
    new_id,
)
from embercast.errors import InputError

logger = logging.getLogger(__name__)

PREFIX = "embercast:bus:"
"""Prefix of every key the bus uses."""

_PUBLISH = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[5]) then
  redis.call('SADD', KEYS[3], ARGV[6])
  return redis.call('XADD', KEYS[1], '*', 'mid', ARGV[1], 'key', ARGV[2], 'payload', ARGV[3],
                    'ts', ARGV[4])
end
return false
"""

# KEYS: stream, attempts, until, error, backoff, handled | ARGV: group, entry, consumer, attempt
_ACK = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or p[1][2] ~= ARGV[3] or redis.call('HGET', KEYS[2], ARGV[2]) ~= ARGV[4] then
  return 0
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
for i = 2, 5 do redis.call('HDEL', KEYS[i], ARGV[2]) end
redis.call('INCR', KEYS[6])
return 1
"""

# KEYS: stream, attempts, until, error, backoff, dead | ARGV: group, entry, consumer, attempt,
# error, dead (1/0), until_s, now_s
_FAIL = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or p[1][2] ~= ARGV[3] or redis.call('HGET', KEYS[2], ARGV[2]) ~= ARGV[4] then
  return 0
end
if ARGV[6] == '1' then
  local e = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
  local f = {}
  if #e > 0 then f = e[1][2] end
  local fields = {'attempts', ARGV[4], 'error', ARGV[5], 'dead_s', ARGV[8], 'entry', ARGV[2]}
  for i = 1, #f do fields[#fields + 1] = f[i] end
  redis.call('XADD', KEYS[6], '*', unpack(fields))
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
  for i = 2, 5 do redis.call('HDEL', KEYS[i], ARGV[2]) end
  return 2
end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[7])
redis.call('HSET', KEYS[4], ARGV[2], ARGV[5])
redis.call('HSET', KEYS[5], ARGV[2], '1')
return 1
"""

# KEYS: lease | ARGV: owner, ttl [ms]
_HOLD = """
local held = redis.call('GET', KEYS[1])
if held == false or held == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

# KEYS: lease | ARGV: owner
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

LEASES = PREFIX + "lease:"
"""Prefix of the leases' keys."""

SCAN = 1000
"""Pending entries looked at per stream and receive, oldest first."""


def _entry(entry_id: str) -> tuple[int, int]:
    """A stream entry id (``ms-seq``) as numbers that sort as the stream does."""
    ms, _, seq = str(entry_id).partition("-")
    return int(ms), int(seq or 0)


class RedisBus(Bus):
    """The bus on the Redis server at ``url`` (``redis://host:port/db``); a published message
    id is remembered for ``dedupe_s`` seconds."""

    def __init__(
        self, url: str, policy: RetryPolicy | None = None, *, dedupe_s: int = 7 * 86_400
    ) -> None:
        self.url = url
        self.policy = policy or RetryPolicy()
        self.dedupe_s = dedupe_s
        try:
            self.redis = redis.Redis.from_url(url, decode_responses=True)
        except ValueError as exc:
            raise InputError(f"not a Redis URL: {url!r} ({exc})") from None
        self._publish = self.redis.register_script(_PUBLISH)
        self._ack = self.redis.register_script(_ACK)
        self._fail = self.redis.register_script(_FAIL)
        self._hold = self.redis.register_script(_HOLD)
        self._release = self.redis.register_script(_RELEASE)
        self._groups: set[tuple[str, str]] = set()

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except redis.ConnectionError as exc:
            raise BusError(f"the bus at {self.url} cannot be reached ({what}): {exc}") from None
        except redis.ResponseError as exc:
            raise BusError(f"the bus at {self.url} refused {what}: {exc}") from None

    def _keys(self, topic: str, group: str) -> dict[str, str]:
        base = f"{PREFIX}{topic}:{group}"
        return {
            "stream": PREFIX + topic,
            "replay": f"{base}:replay",
            "handled": f"{base}:handled",
            "dead": f"{base}:dead",
        }

    @staticmethod
    def _state(stream: str, group: str) -> list[str]:
        """The attempts, until, error and backoff hashes of ``group``'s entries of ``stream``."""
        return [f"{stream}:{group}:{what}" for what in ("attempts", "until", "error", "backoff")]

    # ------------------------------------------------------------------ publishing
    def publish(
        self, topic: str, payload: dict[str, Any], *, key: str = "", message_id: str | None = None
    ) -> str:
        check_name("topic", topic)
        mid = message_id or new_id()
        body = encode(payload)
        keys = [PREFIX + topic, f"{PREFIX}{topic}:id:{mid}", PREFIX + "topics"]
        self._call(
            "a publish", self._publish, keys=keys,
            args=[mid, key, body, repr(time.time()), self.dedupe_s, topic],
        )  # fmt: skip
        return mid

    def publish_many(
        self, topic: str, items: Sequence[tuple[dict[str, Any], str, str | None]]
    ) -> int:
        """Publish every item in one pipeline (each still deduplicated by its id)."""
        check_name("topic", topic)
        pipe = self.redis.pipeline(transaction=False)
        stamp = repr(time.time())
        for payload, key, message_id in items:
            mid = message_id or new_id()
            keys = [PREFIX + topic, f"{PREFIX}{topic}:id:{mid}", PREFIX + "topics"]
            self._publish(keys=keys, args=[mid, key, encode(payload), stamp, self.dedupe_s, topic],
                          client=pipe)  # fmt: skip
        self._call("a publish", pipe.execute)
        return len(items)

    # ------------------------------------------------------------------ consuming
    def _ensure(self, topic: str, group: str) -> dict[str, str]:
        keys = self._keys(topic, group)
        if (topic, group) not in self._groups:
            for stream in (keys["stream"], keys["replay"]):
                try:
                    self.redis.xgroup_create(stream, group, id="0", mkstream=True)
                except redis.ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise BusError(f"the bus at {self.url} refused a group: {exc}") from None
                except redis.ConnectionError as exc:
                    raise BusError(f"the bus at {self.url} cannot be reached: {exc}") from None
            self._call("a topic", self.redis.sadd, PREFIX + "topics", topic)
            self._groups.add((topic, group))
        return keys

    def receive(
        self,
        topic: str,
        group: str,
        consumer: str,
        *,
        limit: int = 64,
        visibility_s: float = 30.0,
        wait_s: float = 0.0,
    ) -> list[Delivery]:
        check_name("topic", topic)
        check_name("group", group)
        check_name("consumer", consumer)
        if limit < 1 or visibility_s <= 0:
            raise InputError("receive needs limit >= 1 and visibility_s > 0")
        keys = self._ensure(topic, group)
        out: list[Delivery] = []
        for stream in (keys["stream"], keys["replay"]):
            self._reclaim(keys, topic, group, consumer, stream, limit, visibility_s, out)
            if len(out) >= limit:
                return out
        block = None if out or wait_s <= 0 else max(1, int(wait_s * 1000))
        read = self._call(
            "a read", self.redis.xreadgroup, group, consumer,
            {keys["stream"]: ">", keys["replay"]: ">"}, count=limit - len(out), block=block,
        )  # fmt: skip
        for stream, entries in read or []:
            for entry, fields in entries:
                self._deliver(keys, topic, group, consumer, stream, entry, fields,
                              visibility_s, False, out)  # fmt: skip
        return out

    def _reclaim(
        self, keys: dict[str, str], topic: str, group: str, consumer: str, stream: str,
        limit: int, visibility_s: float, out: list[Delivery],
    ) -> None:  # fmt: skip
        """Claim ``stream``'s pending entries whose lease or backoff is over, into ``out``."""
        pending = self._call("the pending entries", self.redis.xpending_range, stream, group,
                             "-", "+", SCAN)  # fmt: skip
        if not pending:
            return
        until_key = self._state(stream, group)[1]
        ids = [str(p["message_id"]) for p in pending]
        until = self._call("the leases", self.redis.hmget, until_key, ids)
        now = time.time()
        for p, ends in zip(pending, until, strict=True):
            if len(out) >= limit:
                return
            if ends is not None and float(ends) > now:
                continue
            claimed = self._call(
                "a claim", self.redis.xclaim, stream, group, consumer,
                int(p["time_since_delivered"]), [p["message_id"]],
            )  # fmt: skip
            for entry, fields in claimed:
                if fields:  # an entry trimmed away meanwhile has none
                    self._deliver(keys, topic, group, consumer, stream, entry, fields,
                                  visibility_s, True, out)  # fmt: skip

    def _deliver(
        self, keys: dict[str, str], topic: str, group: str, consumer: str, stream: str,
        entry: str, fields: dict[str, str], visibility_s: float, claimed: bool,
        out: list[Delivery],
    ) -> None:  # fmt: skip
        attempts_key, until_key, error_key, backoff_key = self._state(stream, group)
        read = self.redis.pipeline(transaction=False)
        for key in (attempts_key, error_key, backoff_key):
            read.hget(key, entry)
        done, last_error, backing_off = self._call("a lease", read.execute)
        attempts, error = int(done or 0), str(last_error or "")
        if claimed and not backing_off:
            error = f"lease of attempt {attempts} ran out (visibility timeout)"
            self._call("a lease", self.redis.hset, error_key, entry, error)
        if attempts >= self.policy.max_attempts:
            self._dead(keys, group, consumer, stream, entry, attempts, error)
            return
        pipe = self.redis.pipeline(transaction=True)
        pipe.hincrby(attempts_key, entry, 1)
        pipe.hset(until_key, entry, repr(time.time() + visibility_s))
        pipe.hdel(backoff_key, entry)
        attempts = int(self._call("a lease", pipe.execute)[0])
        message = Message(topic, fields["mid"], fields["key"], jsonio.loads(fields["payload"]),
                          float(fields["ts"]))  # fmt: skip
        out.append(Delivery(message, group, consumer, attempts, f"{stream}|{entry}"))

    def _dead(
        self, keys: dict[str, str], group: str, consumer: str, stream: str, entry: str,
        attempts: int, error: str,
    ) -> bool:  # fmt: skip
        done = self._call(
            "a dead letter", self._fail,
            keys=[stream, *self._state(stream, group), keys["dead"]],
            args=[group, entry, consumer, str(attempts), error, "1", "0", repr(time.time())],
        )  # fmt: skip
        if done:
            logger.warning("bus: %s/%s entry %s dead after %d attempts: %s",
                           stream, group, entry, attempts, error)  # fmt: skip
        return bool(done)

    def _receipt(self, delivery: Delivery) -> tuple[dict[str, str], str, str]:
        stream, entry = delivery.receipt.split("|")
        return self._keys(delivery.message.topic, delivery.group), stream, entry

    def ack(self, delivery: Delivery) -> bool:
        keys, stream, entry = self._receipt(delivery)
        done = self._call(
            "an acknowledgement", self._ack,
            keys=[stream, *self._state(stream, delivery.group), keys["handled"]],
            args=[delivery.group, entry, delivery.consumer, str(delivery.attempt)],
        )  # fmt: skip
        if not done:
            logger.warning("bus: stale acknowledgement of %s by %s (its lease ran out)",
                           delivery.message.message_id, delivery.consumer)  # fmt: skip
        return bool(done)

    def ack_many(self, deliveries: Sequence[Delivery]) -> int:
        """Acknowledge every delivery in one pipeline (each checked as :meth:`ack` does)."""
        if not deliveries:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for d in deliveries:
            keys, stream, entry = self._receipt(d)
            self._ack(keys=[stream, *self._state(stream, d.group), keys["handled"]],
                      args=[d.group, entry, d.consumer, str(d.attempt)], client=pipe)  # fmt: skip
        done = sum(int(x) for x in self._call("acknowledgements", pipe.execute))
        if done < len(deliveries):
            logger.warning("bus: %d stale acknowledgements (their leases ran out)",
                           len(deliveries) - done)  # fmt: skip
        return done

    def fail(self, delivery: Delivery, error: str) -> bool:
        keys, stream, entry = self._receipt(delivery)
        if delivery.attempt >= self.policy.max_attempts:
            return self._dead(keys, delivery.group, delivery.consumer, stream, entry,
                              delivery.attempt, error)  # fmt: skip
        now = time.time()
        due = now + self.policy.delay_s(delivery.attempt)
        done = self._call(
            "a failure", self._fail,
            keys=[stream, *self._state(stream, delivery.group), keys["dead"]],
            args=[delivery.group, entry, delivery.consumer, str(delivery.attempt), error, "0",
                  repr(due), repr(now)],
        )  # fmt: skip
        return bool(done)

    # ------------------------------------------------------------------ inspection
    def _topics(self) -> list[str]:
        return sorted(self._call("the topics", self.redis.smembers, PREFIX + "topics"))

    def stats(self) -> list[GroupStats]:
        out: list[GroupStats] = []
        for topic in self._topics():
            stream = PREFIX + topic
            published = int(self._call("a length", self.redis.xlen, stream))
            published += int(self._call("a count", self.redis.get, stream + ":pruned") or 0)
            groups = self._call("the groups", self.redis.xinfo_groups, stream)
            for info in sorted(groups, key=lambda g: str(g["name"])):
                group = str(info["name"])
                keys = self._keys(topic, group)
                pending = int(info["pending"])
                replay = self._call("the replays", self.redis.xinfo_groups, keys["replay"])
                lag = int(info.get("lag") or 0) + sum(int(g.get("lag") or 0) for g in replay)
                pending += sum(int(g["pending"]) for g in replay)
                backing_off = sum(
                    int(self._call("a length", self.redis.hlen, self._state(s, group)[3]))
                    for s in (stream, keys["replay"])
                )
                out.append(GroupStats(
                    topic, group, published, lag + backing_off, pending - backing_off,
                    int(self._call("a count", self.redis.get, keys["handled"]) or 0),
                    int(self._call("a length", self.redis.xlen, keys["dead"])),
                ))  # fmt: skip
        return out

    def read(self, topic: str, since_s: float) -> Iterator[Message]:
        check_name("topic", topic)
        stream, start = PREFIX + topic, f"{max(0, int(since_s * 1000))}-0"
        while True:
            entries = self._call("a read", self.redis.xrange, stream, start, "+", count=SCAN)
            for _, f in entries:
                yield Message(topic, f["mid"], f["key"], jsonio.loads(f["payload"]),
                              float(f["ts"]))  # fmt: skip
            if len(entries) < SCAN:
                return
            start = "(" + entries[-1][0]

    def prune(self, older_than_s: float) -> int:
        total = 0
        cutoff = (int((time.time() - older_than_s) * 1000), 0)
        for topic in self._topics():
            stream = PREFIX + topic
            bound = cutoff  # entries below it go: old, read by every group, held by none
            for info in self._call("the groups", self.redis.xinfo_groups, stream):
                ms, seq = _entry(info["last-delivered-id"])
                bound = min(bound, (ms, seq + 1))  # read up to and with last-delivered-id
                if int(info["pending"]):
                    held = self._call("the pending", self.redis.xpending, stream, info["name"])
                    bound = min(bound, _entry(held["min"]))
            gone = int(self._call("a trim", self.redis.xtrim, stream,
                                  minid=f"{bound[0]}-{bound[1]}", approximate=False))  # fmt: skip
            if gone:
                self._call("a count", self.redis.incrby, stream + ":pruned", gone)
                total += gone
        if total:
            logger.info("bus: %d messages older than %.0f s pruned", total, older_than_s)
        return total

    def dead_letters(
        self, topic: str | None = None, group: str | None = None, limit: int = 100
    ) -> list[DeadLetter]:
        out: list[DeadLetter] = []
        for t in [topic] if topic is not None else self._topics():
            groups = self._call("the groups", self.redis.xinfo_groups, PREFIX + t)
            for g in sorted(str(info["name"]) for info in groups):
                if group is not None and g != group:
                    continue
                for _, f in self._call("dead letters", self.redis.xrange, self._keys(t, g)["dead"]):
                    message = Message(t, f["mid"], f["key"], jsonio.loads(f["payload"]),
                                      float(f["ts"]))  # fmt: skip
                    out.append(DeadLetter(message, g, int(f["attempts"]), f["error"],
                                          float(f["dead_s"])))  # fmt: skip
        return out[:limit]

    def replay(self, topic: str, group: str, message_ids: list[str] | None = None) -> int:
        keys = self._keys(topic, group)
        self._ensure(topic, group)
        count = 0
        for dead_id, f in self._call("dead letters", self.redis.xrange, keys["dead"]):
            if message_ids is not None and f["mid"] not in message_ids:
                continue
            pipe = self.redis.pipeline(transaction=True)
            pipe.xadd(keys["replay"], {k: f[k] for k in ("mid", "key", "payload", "ts")})
            pipe.xdel(keys["dead"], dead_id)
            self._call("a replay", pipe.execute)
            count += 1
        logger.info("bus: %d dead letters of %s/%s replayed", count, topic, group)
        return count

    # ------------------------------------------------------------------ leases
    def hold(self, name: str, owner: str, ttl_s: float) -> bool:
        args = [owner, max(1, int(ttl_s * 1000))]
        return bool(self._call("a lease", self._hold, keys=[LEASES + name], args=args))

    def release(self, name: str, owner: str) -> None:
        self._call("a release", self._release, keys=[LEASES + name], args=[owner])

    def holders(self, prefix: str) -> dict[str, str]:
        pattern = LEASES + re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"
        names = sorted(self._call("the leases", lambda: list(self.redis.scan_iter(pattern, 1000))))
        if not names:
            return {}
        owners = self._call("the leases", self.redis.mget, names)
        return {n[len(LEASES) :]: o for n, o in zip(names, owners, strict=True) if o is not None}

    def close(self) -> None:
        self.redis.close()
