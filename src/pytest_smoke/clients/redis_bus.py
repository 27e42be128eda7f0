"""Redis as an event bus for smoke tests: pub/sub, persisted events and a retrying work queue.

Plain asyncio code over ``redis.asyncio``; no pytest inside, so a script can use it as well as
a fixture. The design follows what was measured against a real Redis (DESIGN.md, section 5):

* **Fail fast.** :func:`connect_redis` builds a client with connect and socket timeouts and no
  retries, and bounds its PING with :func:`asyncio.timeout`, because redis-py otherwise waits
  about a minute on a host that accepts the TCP connection and never answers. Every failure
  becomes one :class:`~pytest_smoke.causes.DependencyUnavailable` whose one-line detail
  ("connection refused", "no answer within 2s", "authentication failed") never holds the URL or
  its password.
* **Nothing outlives the run.** An :class:`EventBus` works inside a per-run *namespace*
  (``run_namespace("smoke-test")`` gives e.g. ``"smoke-test:1a2b3c:"``): every key, channel and
  stream it touches is ``namespace + name``, every key it writes gets an expiry of ``ttl``
  seconds (streams: refreshed after each write), and :meth:`EventBus.cleanup` removes the whole
  namespace with SCAN + UNLINK. A crashed run leaves keys that expire on their own.
* **No lost messages.** :meth:`EventBus.subscribe` returns only once Redis has confirmed the
  subscription; publishing before that confirmation silently drops messages (300 of 300 in the
  measurement).
* **Retries and a dead-letter stream.** The queue is a Redis stream with consumer groups. A
  delivery that is neither acknowledged nor failed for good stays pending; once it has been idle
  for ``retry_idle_ms`` the next :meth:`EventBus.consume` reclaims it (XAUTOCLAIM), which counts
  one more delivery. After ``delivery_limit`` deliveries :meth:`EventBus.fail` moves it to
  ``stream + ":dead-letter"`` with the reason and acknowledges it.
* **RESP2 and RESP3.** redis-py 8 speaks RESP3 by default, where XREADGROUP replies a mapping
  (with an extra level of nesting) instead of RESP2's list of pairs; replies also differ with
  ``legacy_responses=False``. Every reply shape is normalised in the "Reply shapes" section
  below, and nothing else in the module looks at raw replies.

Events are JSON objects (``dict[str, Any]``), stored as JSON text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, TypedDict
from urllib.parse import unquote, urlsplit

import redis.asyncio
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from pytest_smoke.causes import DependencyUnavailable
from pytest_smoke.clients.tcp import endpoint

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Mapping

    from redis.asyncio.client import PubSub

__all__ = [
    "DEAD_LETTER_SUFFIX",
    "DeadLetter",
    "Delivery",
    "Event",
    "EventBus",
    "PendingEntry",
    "PendingSummary",
    "Subscription",
    "connect_redis",
    "run_namespace",
]

#: An event: a JSON object.
Event = dict[str, Any]

#: Appended to a stream's name to name its dead-letter stream.
DEAD_LETTER_SUFFIX: Final = ":dead-letter"

#: Extra time the PING gets beyond ``connect_timeout``, so that redis-py's own, more precise
#: connect timeout error fires first when it applies.
_PROBE_MARGIN: Final = 0.25

#: Field of a stream entry that holds the event's JSON.
_EVENT_FIELD: Final = "event"


def run_namespace(prefix: str) -> str:
    """``prefix`` plus a short random run id and a colon, e.g. ``"smoke-test:1a2b3c:"``.

    Each run (and each test that wants isolation) takes its own namespace, so concurrent runs
    against the same Redis (CI jobs, xdist workers) never see or delete each other's keys.
    """
    base = prefix.rstrip(":")
    if not base:
        raise ValueError("namespace prefix must not be empty")
    return f"{base}:{secrets.token_hex(3)}:"


# --------------------------------------------------------------------------------------------
# Connecting
# --------------------------------------------------------------------------------------------


async def connect_redis(
    url: str, *, connect_timeout: float, timeout: float, protocol: int = 3
) -> redis.asyncio.Redis:
    """A connected ``redis.asyncio.Redis`` for ``url`` (``redis://``, ``rediss://``, ``unix://``).

    The client decodes replies to ``str``, times out connects after ``connect_timeout`` and
    reads after ``timeout`` seconds, and never retries: a smoke test wants to see a failure,
    not have it hidden. It is probed with a PING bounded by ``connect_timeout`` (plus a quarter
    of a second), whatever the server does.

    Raises :class:`DependencyUnavailable` (dependency ``"redis"``, target ``host:port``) with a
    one-line detail when the server is unreachable, silent, or rejects the credentials, and
    ``ValueError`` for a malformed URL. Neither message contains the URL or its password. The
    caller owns the client and closes it with ``await client.aclose()``.
    """
    __tracebackhide__ = True  # pytest: the frame's arguments hold the URL and its password
    scrub = _scrubber(url)
    target = _target_of(url)
    try:
        client = redis.asyncio.Redis.from_url(
            url,
            protocol=protocol,
            decode_responses=True,
            socket_connect_timeout=connect_timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
    except ValueError as error:
        raise ValueError(f"invalid Redis URL: {scrub(str(error))}") from None
    # Only the client (whose repr redis-py redacts) keeps the URL's parts from here on: a
    # traceback that shows this frame's arguments must not show the password.
    del url
    try:
        async with asyncio.timeout(connect_timeout + _PROBE_MARGIN):
            await client.ping()
    except (redis.exceptions.RedisError, OSError, TimeoutError) as error:
        await _close_quietly(client, connect_timeout)
        detail = scrub(_describe(error, connect_timeout))
        raise DependencyUnavailable("redis", target, detail) from None
    except BaseException:
        await _close_quietly(client, connect_timeout)
        raise
    return client


def _scrubber(url: str) -> Callable[[str], str]:
    """A function that masks the URL's password in a text.

    A closure rather than a local variable, so that the password is not in any frame's locals
    that a traceback (``pytest --showlocals``) would print.
    """
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    secrets_ = {s for s in (password, unquote(password or "")) if s}

    def scrub(text: str) -> str:
        for secret in secrets_:
            text = text.replace(secret, "***")
        return text

    return scrub


def _target_of(url: str) -> str:
    """``host:port`` (or the socket path) for messages: never the credentials."""
    try:
        parts = urlsplit(url)
        if parts.scheme.lower() == "unix":
            return parts.path or "unix socket"
        host, port = endpoint(url)
    except ValueError:
        return "an invalid URL"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _describe(error: BaseException, connect_timeout: float) -> str:
    """One line saying why the probe failed, from the most specific error in the chain."""
    if isinstance(error, TimeoutError | redis.exceptions.TimeoutError):
        return f"no answer within {connect_timeout:g}s"
    if isinstance(error, redis.exceptions.AuthenticationError):
        return "authentication failed"
    if isinstance(error, redis.exceptions.AuthorizationError):
        return "not authorised to run PING"
    for link in _chain(error):
        if isinstance(link, ConnectionRefusedError):
            return "connection refused"
        if isinstance(link, OSError) and type(link).__name__ == "gaierror":
            return "host not found"
        if isinstance(link, TimeoutError):
            return f"no answer within {connect_timeout:g}s"
        if isinstance(link, OSError) and link.strerror:
            return link.strerror.lower()
    if isinstance(error, redis.exceptions.ResponseError):
        return f"server error: {_first_line(str(error))}"
    return _first_line(str(error)) or type(error).__name__


def _chain(error: BaseException) -> list[BaseException]:
    links: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in links:
        links.append(current)
        current = current.__cause__ or current.__context__
    return links


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


async def _close_quietly(client: redis.asyncio.Redis, limit: float) -> None:
    # Closing a connection to a silent peer can itself wait: bound it and ignore its errors,
    # the probe's failure is what the caller needs to hear about.
    with contextlib.suppress(Exception, TimeoutError):
        async with asyncio.timeout(max(limit, 0.1)):
            await client.aclose()


# --------------------------------------------------------------------------------------------
# Values the bus returns
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One stream entry handed to a consumer.

    ``deliveries`` counts how many times it has been delivered, this time included (1 for a
    fresh entry); ``consumer`` is who holds it now.
    """

    id: str
    event: Event
    deliveries: int
    consumer: str


@dataclass(frozen=True)
class PendingEntry:
    """An entry delivered but not acknowledged yet (one row of XPENDING's extended form)."""

    id: str
    consumer: str
    idle_ms: int
    deliveries: int


@dataclass(frozen=True)
class PendingSummary:
    """What a consumer group holds unacknowledged: total, per consumer, and the entries."""

    count: int
    consumers: dict[str, int] = field(default_factory=dict)
    entries: list[PendingEntry] = field(default_factory=list)


class DeadLetter(TypedDict):
    """An entry of a dead-letter stream, as :meth:`EventBus.dead_letters` returns it."""

    id: str
    event: Event
    reason: str
    original_id: str
    deliveries: int


# --------------------------------------------------------------------------------------------
# Reply shapes: the only place that knows RESP2, RESP3 and redis-py's parsed forms
# --------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _is_entry(item: Any) -> bool:
    """Is ``item`` one stream entry, ``(id, fields)``?"""
    return (
        isinstance(item, tuple | list)
        and len(item) == 2
        and isinstance(item[0], str | bytes)
        and (item[1] is None or isinstance(item[1], dict | list))
    )


def _fields(raw: Any) -> dict[str, str] | None:
    if raw is None:
        return None
    if isinstance(raw, dict):
        return {_text(k): _text(v) for k, v in raw.items()}
    pairs = list(raw)
    return {_text(k): _text(v) for k, v in zip(pairs[::2], pairs[1::2], strict=True)}


def _entries(raw: Any) -> list[tuple[str, dict[str, str] | None]]:
    """Entries from a list that holds them directly or, RESP3 legacy style, nested once more."""
    found: list[tuple[str, dict[str, str] | None]] = []
    for item in raw or []:
        if _is_entry(item):
            found.append((_text(item[0]), _fields(item[1])))
        elif isinstance(item, list | tuple):
            found.extend(_entries(item))
    return found


def _read_entries(reply: Any) -> list[tuple[str, dict[str, str] | None]]:
    """XREADGROUP of one stream.

    RESP2: ``[[stream, [(id, fields), ...]]]``; RESP3 (legacy): ``{stream: [[(id, fields),
    ...]]}``; unified: ``{stream: [(id, fields), ...]}``; nothing: ``[]``, ``{}`` or ``None``.
    """
    if not reply:
        return []
    streams = list(reply.values()) if isinstance(reply, dict) else [pair[1] for pair in reply]
    return [entry for entries in streams for entry in _entries(entries)]


def _claimed_entries(reply: Any) -> tuple[list[tuple[str, dict[str, str] | None]], list[str]]:
    """XAUTOCLAIM: ``[next_cursor, entries, deleted_ids]`` (Redis >= 7 adds the third)."""
    if isinstance(reply, dict):  # a mapping form, should a parser ever give one
        claimed, deleted = reply.get("claimed", []), reply.get("deleted", [])
    else:
        claimed = reply[1] if len(reply) > 1 else []
        deleted = reply[2] if len(reply) > 2 else []
    return _entries(claimed), [_text(i) for i in deleted or []]


def _pending_summary(reply: Any) -> tuple[int, dict[str, int]]:
    """XPENDING summary: parsed ``{"pending", "consumers": [{"name", "pending"}]}`` or raw."""
    if isinstance(reply, dict):
        count = int(reply.get("pending") or 0)
        rows = reply.get("consumers") or []
        consumers = {_text(row["name"]): int(row["pending"]) for row in rows}
    else:
        count = int(reply[0] or 0)
        consumers = {_text(name): int(n) for name, n in reply[3] or []}
    return count, consumers


def _pending_entries(reply: Any) -> list[PendingEntry]:
    """XPENDING extended form: parsed dicts or raw ``[id, consumer, idle, deliveries]`` rows."""
    entries = []
    for row in reply or []:
        if isinstance(row, dict):
            values = (
                row["message_id"],
                row["consumer"],
                row["time_since_delivered"],
                row["times_delivered"],
            )
        else:
            values = tuple(row)
        entries.append(
            PendingEntry(
                id=_text(values[0]),
                consumer=_text(values[1]),
                idle_ms=int(values[2]),
                deliveries=int(values[3]),
            )
        )
    return entries


def _encode(event: Mapping[str, Any]) -> str:
    return json.dumps(dict(event), separators=(",", ":"))


def _decode(raw: Any) -> Event:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError(f"not an event (a JSON object): got a JSON {type(value).__name__}")
    return value


# --------------------------------------------------------------------------------------------
# Pub/sub
# --------------------------------------------------------------------------------------------


class Subscription:
    """One subscriber to one channel, already confirmed by Redis. Made by
    :meth:`EventBus.subscribe`; each has its own connection, so every subscriber gets every
    event published after it was created, in publishing order."""

    def __init__(self, pubsub: PubSub, channel: str) -> None:
        self._pubsub = pubsub
        self.channel = channel

    async def next(self, timeout: float) -> Event:
        """The next event; ``TimeoutError`` if none arrives within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no event on {self.channel!r} within {timeout:g}s")
            message = await self._pubsub.get_message(
                ignore_subscribe_messages=True, timeout=remaining
            )
            if message is not None and message.get("type") == "message":
                return _decode(message["data"])

    async def aclose(self) -> None:
        """Unsubscribe and close the connection (idempotent)."""
        try:
            if self._pubsub.connection is not None:
                await self._pubsub.unsubscribe()
        finally:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # typed in redis 8


# --------------------------------------------------------------------------------------------
# The bus
# --------------------------------------------------------------------------------------------


class EventBus:
    """Events over one ``redis.asyncio.Redis`` client, confined to ``namespace``.

    ``namespace`` is prepended to every key, channel and stream name (it must end with ``":"``;
    see :func:`run_namespace`). ``ttl`` is the expiry, in seconds, of every key written.
    ``delivery_limit`` is how many deliveries a queued event gets before :meth:`fail` sends it
    to the dead-letter stream. ``retry_idle_ms`` is how long a failed or abandoned delivery
    stays pending before :meth:`consume` hands it out again; the default, 100 ms, suits tests,
    and a handler that may run longer than that must be given more, or its entry is
    redelivered to another consumer while it still works on it.

    The bus owns the client: :meth:`aclose` closes it. The client should decode responses
    (:func:`connect_redis` does); bytes replies are accepted too.
    """

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        *,
        namespace: str,
        ttl: float,
        delivery_limit: int,
        retry_idle_ms: int = 100,
    ) -> None:
        if not namespace.endswith(":") or not namespace.strip(":"):
            # cleanup() deletes namespace*: an empty or open-ended namespace could match
            # somebody else's keys.
            raise ValueError(f"namespace must be non-empty and end with ':', got {namespace!r}")
        if ttl <= 0:
            raise ValueError(f"ttl must be positive, got {ttl!r}")
        if delivery_limit < 1:
            raise ValueError(f"delivery_limit must be at least 1, got {delivery_limit!r}")
        if retry_idle_ms < 0:
            raise ValueError(f"retry_idle_ms must not be negative, got {retry_idle_ms!r}")
        self.redis = redis
        self.namespace = namespace
        self.key_ttl = ttl
        self.delivery_limit = delivery_limit
        self.retry_idle_ms = retry_idle_ms
        self._subscriptions: set[Subscription] = set()

    def key(self, name: str) -> str:
        """The full Redis name of ``name`` in this bus' namespace."""
        return self.namespace + name

    @property
    def _ttl_ms(self) -> int:
        return max(1, round(self.key_ttl * 1000))

    # pub/sub -----------------------------------------------------------------------------

    async def publish(self, channel: str, event: Mapping[str, Any]) -> int:
        """Publish ``event`` on ``channel``; return how many subscribers received it."""
        return int(await self.redis.publish(self.key(channel), _encode(event)))

    @contextlib.asynccontextmanager
    async def subscribe(
        self, channel: str, *, confirm_timeout: float = 5.0
    ) -> AsyncIterator[Subscription]:
        """``async with bus.subscribe("orders") as sub:`` a confirmed :class:`Subscription`.

        Returns only after Redis confirmed the subscription, so nothing published afterwards
        is lost (``TimeoutError`` if no confirmation within ``confirm_timeout`` seconds).
        Leaving the block unsubscribes and closes its connection.
        """
        full = self.key(channel)
        pubsub = self.redis.pubsub()
        subscription = Subscription(pubsub, full)
        try:
            await pubsub.subscribe(full)
            await self._confirm(pubsub, full, confirm_timeout)
            self._subscriptions.add(subscription)
            yield subscription
        finally:
            self._subscriptions.discard(subscription)
            await subscription.aclose()

    @staticmethod
    async def _confirm(pubsub: PubSub, channel: str, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (remaining := deadline - loop.time()) > 0:
            message = await pubsub.get_message(timeout=remaining)
            if (
                message is not None
                and message.get("type") == "subscribe"
                and _text(message.get("channel")) == channel
            ):
                return
        raise TimeoutError(f"subscription to {channel!r} not confirmed within {timeout:g}s")

    # persisted events --------------------------------------------------------------------

    async def store(self, name: str, event: Mapping[str, Any], ttl: float | None = None) -> None:
        """Save ``event`` under ``name``, expiring after ``ttl`` seconds (default: the bus')."""
        ttl_ms = self._ttl_ms if ttl is None else max(1, round(ttl * 1000))
        await self.redis.set(self.key(name), _encode(event), px=ttl_ms)

    async def load(self, name: str) -> Event | None:
        """The event saved under ``name``, or ``None`` if there is none (or it expired)."""
        raw = await self.redis.get(self.key(name))
        return None if raw is None else _decode(raw)

    async def ttl(self, name: str) -> float:
        """Seconds until ``name`` expires; as Redis' TTL, -2 if it does not exist and -1 if
        it never expires."""
        remaining = int(await self.redis.pttl(self.key(name)))
        return remaining / 1000 if remaining >= 0 else float(remaining)

    # queue -------------------------------------------------------------------------------

    async def enqueue(self, stream: str, event: Mapping[str, Any]) -> str:
        """Append ``event`` to ``stream`` (XADD) and refresh the stream's expiry; return its id."""
        key = self.key(stream)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, {_EVENT_FIELD: _encode(event)})
            pipe.pexpire(key, self._ttl_ms)
            entry_id, _ = await pipe.execute()
        return _text(entry_id)

    async def ensure_group(self, stream: str, group: str, *, start: str = "0") -> None:
        """Create consumer ``group`` on ``stream`` (and the stream), unless it exists.

        ``start="0"`` delivers entries already in the stream too; ``"$"`` only later ones.
        """
        key = self.key(stream)
        try:
            await self.redis.xgroup_create(key, group, id=start, mkstream=True)
        except redis.exceptions.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        await self.redis.pexpire(key, self._ttl_ms)

    async def consume(
        self,
        stream: str,
        group: str,
        consumer: str,
        *,
        count: int = 10,
        block_ms: int | None = 1000,
    ) -> list[Delivery]:
        """Up to ``count`` deliveries for ``consumer``: retries first, then new entries.

        Entries pending for longer than ``retry_idle_ms`` (failed, or held by a consumer that
        died) are reclaimed first, with their delivery count raised. If that leaves room, new
        entries are read, waiting up to ``block_ms`` for one when there is nothing else to
        return (``None`` or 0: do not wait). ``block_ms`` must stay below the client's socket
        timeout. Each delivery must end in :meth:`ack` or :meth:`fail`.
        """
        key = self.key(stream)
        deliveries = await self._reclaim(key, group, consumer, count)
        room = count - len(deliveries)
        if room > 0:
            wait = block_ms if block_ms and not deliveries else None
            reply = await self.redis.xreadgroup(group, consumer, {key: ">"}, count=room, block=wait)
            for entry_id, fields in _read_entries(reply):
                if fields is not None:
                    deliveries.append(self._delivery(entry_id, fields, 1, consumer))
        return deliveries

    async def _reclaim(self, key: str, group: str, consumer: str, count: int) -> list[Delivery]:
        reply = await self.redis.xautoclaim(
            key, group, consumer, min_idle_time=self.retry_idle_ms, start_id="0-0", count=count
        )
        claimed, _deleted = _claimed_entries(reply)
        vanished = [entry_id for entry_id, fields in claimed if fields is None]
        if vanished:  # deleted from the stream while pending (Redis < 7 reports them so)
            await self.redis.xack(key, group, *vanished)
        live = [(entry_id, fields) for entry_id, fields in claimed if fields is not None]
        if not live:
            return []
        # XAUTOCLAIM does not say how often an entry was delivered; XPENDING does, exactly
        # for one id at a time (a range could be crowded by the consumer's other entries).
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry_id, _ in live:
                pipe.xpending_range(key, group, min=entry_id, max=entry_id, count=1)
            replies = await pipe.execute()
        counts = {row.id: row.deliveries for reply in replies for row in _pending_entries(reply)}
        return [
            self._delivery(entry_id, fields, counts.get(entry_id, 1), consumer)
            for entry_id, fields in live
            if fields is not None
        ]

    @staticmethod
    def _delivery(
        entry_id: str, fields: dict[str, str], deliveries: int, consumer: str
    ) -> Delivery:
        return Delivery(
            id=entry_id,
            event=_decode(fields[_EVENT_FIELD]),
            deliveries=deliveries,
            consumer=consumer,
        )

    async def ack(self, stream: str, group: str, id: str) -> None:
        """Acknowledge entry ``id``: done, never delivered again."""
        await self.redis.xack(self.key(stream), group, id)

    async def fail(
        self, stream: str, group: str, delivery: Delivery, *, reason: str = "handler failed"
    ) -> Literal["retry", "dead-letter"]:
        """Give up on ``delivery`` for now; return what happens to it.

        Below ``delivery_limit`` deliveries it stays pending and is handed out again by
        :meth:`consume` once ``retry_idle_ms`` have passed from now (``"retry"``). At the
        limit it is appended to ``stream + ":dead-letter"`` with ``reason``, its original id
        and delivery count, and acknowledged, all in one transaction (``"dead-letter"``).
        """
        key = self.key(stream)
        if delivery.deliveries < self.delivery_limit:
            # Re-claiming it to the same consumer restarts its idle clock, so the retry delay
            # counts from the failure rather than from the delivery (JUSTID: no extra count).
            await self.redis.xclaim(key, group, delivery.consumer, 0, [delivery.id], justid=True)
            return "retry"
        dead = key + DEAD_LETTER_SUFFIX
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                dead,
                {
                    _EVENT_FIELD: _encode(delivery.event),
                    "reason": reason,
                    "original_id": delivery.id,
                    "deliveries": str(delivery.deliveries),
                },
            )
            pipe.pexpire(dead, self._ttl_ms)
            pipe.xack(key, group, delivery.id)
            await pipe.execute()
        return "dead-letter"

    async def pending(self, stream: str, group: str, *, limit: int = 100) -> PendingSummary:
        """What ``group`` holds unacknowledged on ``stream``, with up to ``limit`` entries."""
        key = self.key(stream)
        count, consumers = _pending_summary(await self.redis.xpending(key, group))
        entries: list[PendingEntry] = []
        if count:
            rows = await self.redis.xpending_range(key, group, min="-", max="+", count=limit)
            entries = _pending_entries(rows)
        return PendingSummary(count=count, consumers=consumers, entries=entries)

    async def dead_letters(self, stream: str) -> list[DeadLetter]:
        """The entries of ``stream``'s dead-letter stream, oldest first."""
        reply = await self.redis.xrange(self.key(stream) + DEAD_LETTER_SUFFIX)
        letters: list[DeadLetter] = []
        for entry_id, fields in _entries(reply):
            if fields is None:
                continue
            letters.append(
                DeadLetter(
                    id=entry_id,
                    event=_decode(fields[_EVENT_FIELD]),
                    reason=fields.get("reason", ""),
                    original_id=fields.get("original_id", ""),
                    deliveries=int(fields.get("deliveries", "0")),
                )
            )
        return letters

    # lifecycle ---------------------------------------------------------------------------

    async def keys(self) -> list[str]:
        """Every key currently in the namespace (SCAN, so it does not block Redis)."""
        pattern = _glob_escape(self.namespace) + "*"
        return [_text(key) async for key in self.redis.scan_iter(match=pattern, count=1000)]

    async def cleanup(self) -> int:
        """Remove every key in the namespace (SCAN + UNLINK); return how many were removed."""
        removed = 0
        batch: list[str] = []
        for key in await self.keys():
            batch.append(key)
            if len(batch) >= 500:
                removed += int(await self.redis.unlink(*batch))
                batch = []
        if batch:
            removed += int(await self.redis.unlink(*batch))
        return removed

    async def aclose(self) -> None:
        """Close the open subscriptions and the client."""
        for subscription in list(self._subscriptions):
            with contextlib.suppress(Exception):
                await subscription.aclose()
        self._subscriptions.clear()
        await self.redis.aclose()


_GLOB_SPECIALS: Final = re.compile(r"([*?\[\]\\])")


def _glob_escape(text: str) -> str:
    return _GLOB_SPECIALS.sub(r"\\\1", text)
