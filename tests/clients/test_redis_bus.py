"""The Redis event bus against a real Redis on 127.0.0.1:6379, over RESP2 and RESP3.

Every test works in its own namespace and removes it afterwards; the ``bus`` fixture fails
the test at teardown if anything was left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import traceback
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
import redis.asyncio as redis_asyncio

from pytest_smoke.causes import DependencyUnavailable, root_cause_of
from pytest_smoke.clients.redis_bus import (
    DEAD_LETTER_SUFFIX,
    EventBus,
    _claimed_entries,
    _pending_entries,
    _pending_summary,
    _read_entries,
    connect_redis,
    run_namespace,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator


HOST, PORT = "127.0.0.1", 6379
URL = f"redis://{HOST}:{PORT}/0"
PREFIX = "smoke-test-selftest"
TTL = 60.0
DELIVERY_LIMIT = 3
RETRY_IDLE_MS = 100
PLANTED = "s3cret-planted"


def _redis_listening() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=0.5):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _redis_listening(), reason=f"needs Redis on {HOST}:{PORT}")


@contextlib.asynccontextmanager
async def open_bus(protocol: int, **options: float) -> AsyncIterator[EventBus]:
    """A bus in a fresh namespace, cleaned up however the block ends."""
    client = await connect_redis(URL, connect_timeout=2, timeout=5, protocol=protocol)
    bus = EventBus(
        client,
        namespace=run_namespace(PREFIX),
        ttl=options.get("ttl", TTL),
        delivery_limit=int(options.get("delivery_limit", DELIVERY_LIMIT)),
        retry_idle_ms=int(options.get("retry_idle_ms", RETRY_IDLE_MS)),
    )
    try:
        yield bus
    finally:
        try:
            await bus.cleanup()
        finally:
            await bus.aclose()


@pytest_asyncio.fixture(loop_scope="function", params=[2, 3], ids=["resp2", "resp3"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    """An EventBus on the local Redis in its own namespace; fails at teardown on leftovers."""
    async with open_bus(request.param) as opened:
        yield opened
        namespace = opened.namespace
    async with _raw_client() as client:
        leftover = [key async for key in client.scan_iter(match=namespace + "*")]
    assert leftover == [], f"keys left behind in {namespace}"


@contextlib.asynccontextmanager
async def _raw_client() -> AsyncIterator[redis_asyncio.Redis]:
    client = redis_asyncio.Redis.from_url(URL, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (bound, read, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local port whose listener accepts TCP connections (kernel backlog) but never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((HOST, 0))
        listener.listen(8)
        yield listener.getsockname()[1]


# --------------------------------------------------------------------------------------------
# pub/sub
# --------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_three_subscribers_get_1000_events_each_in_order(bus: EventBus) -> None:
    events = [{"seq": i, "kind": "order.created"} for i in range(1000)]
    async with contextlib.AsyncExitStack() as stack:
        subscribers = [await stack.enter_async_context(bus.subscribe("orders")) for _ in range(3)]
        for event in events:
            assert await bus.publish("orders", event) == 3

        async def drain(sub_index: int) -> list[dict[str, object]]:
            return [await subscribers[sub_index].next(timeout=5) for _ in events]

        received = await asyncio.gather(*(drain(i) for i in range(3)))
    assert [len(got) for got in received] == [1000, 1000, 1000]
    assert all(got == events for got in received)


@pytest.mark.asyncio
async def test_every_subscriber_gets_every_event_and_next_times_out(bus: EventBus) -> None:
    async with bus.subscribe("audit") as first, bus.subscribe("audit") as second:
        for i in range(5):
            assert await bus.publish("audit", {"n": i}) == 2
        for subscriber in (first, second):
            assert [await subscriber.next(timeout=2) for _ in range(5)] == [
                {"n": i} for i in range(5)
            ]
        started = time.perf_counter()
        with pytest.raises(TimeoutError, match="no event"):
            await first.next(timeout=0.3)
        elapsed = time.perf_counter() - started
    assert 0.25 <= elapsed < 2.5
    assert await bus.publish("audit", {"n": "after close"}) == 0


@pytest.mark.asyncio
async def test_other_channels_and_namespaces_are_not_heard(bus: EventBus) -> None:
    async with bus.subscribe("a") as sub:
        assert await bus.publish("b", {"x": 1}) == 0
        async with open_bus(3) as other:
            assert await other.publish("a", {"x": 2}) == 0
        with pytest.raises(TimeoutError):
            await sub.next(timeout=0.1)


# --------------------------------------------------------------------------------------------
# persisted events
# --------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_store_load_and_ttl(bus: EventBus) -> None:
    event = {"id": 7, "status": "paid", "items": [1, 2], "note": "ünïcode"}
    await bus.store("order:7", event)
    assert await bus.load("order:7") == event
    assert 0 < await bus.ttl("order:7") <= TTL

    await bus.store("short", {"x": 1}, ttl=5)
    assert 0 < await bus.ttl("short") <= 5

    assert await bus.load("missing") is None
    assert await bus.ttl("missing") == -2


@pytest.mark.asyncio
async def test_stored_event_expires(bus: EventBus) -> None:
    await bus.store("blink", {"x": 1}, ttl=0.05)
    await asyncio.sleep(0.15)
    assert await bus.load("blink") is None


# --------------------------------------------------------------------------------------------
# queue
# --------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_enqueue_consume_ack_leaves_nothing_pending(bus: EventBus) -> None:
    await bus.ensure_group("jobs", "workers")
    await bus.ensure_group("jobs", "workers")  # BUSYGROUP is not an error
    ids = [await bus.enqueue("jobs", {"job": i}) for i in range(3)]

    deliveries = await bus.consume("jobs", "workers", "w1", block_ms=100)
    assert [d.id for d in deliveries] == ids
    assert [d.event for d in deliveries] == [{"job": i} for i in range(3)]
    assert {d.deliveries for d in deliveries} == {1}

    pending = await bus.pending("jobs", "workers")
    assert pending.count == 3
    assert pending.consumers == {"w1": 3}
    assert [(e.id, e.deliveries) for e in pending.entries] == [(i, 1) for i in ids]

    for delivery in deliveries:
        await bus.ack("jobs", "workers", delivery.id)
    assert (await bus.pending("jobs", "workers")).count == 0
    await asyncio.sleep(RETRY_IDLE_MS / 1000 + 0.05)
    assert await bus.consume("jobs", "workers", "w1", block_ms=50) == []


@pytest.mark.asyncio
async def test_failed_event_is_retried_then_dead_lettered(bus: EventBus) -> None:
    await bus.ensure_group("payments", "workers")
    event_id = await bus.enqueue("payments", {"payment": 42})

    seen = []
    for attempt in range(1, DELIVERY_LIMIT + 1):
        if attempt > 1:
            # the retry waits for retry_idle_ms after the failure, not before
            assert await bus.consume("payments", "workers", "w1", block_ms=0) == []
            await asyncio.sleep(RETRY_IDLE_MS / 1000 + 0.05)
        [delivery] = await bus.consume("payments", "workers", "w1", block_ms=100)
        seen.append(delivery.deliveries)
        assert (delivery.id, delivery.event) == (event_id, {"payment": 42})
        outcome = await bus.fail("payments", "workers", delivery, reason=f"boom #{attempt}")
        assert outcome == ("dead-letter" if attempt == DELIVERY_LIMIT else "retry")
        if outcome == "retry":
            pending = await bus.pending("payments", "workers")
            assert [(e.id, e.deliveries) for e in pending.entries] == [(event_id, attempt)]
    assert seen == [1, 2, 3]

    pending = await bus.pending("payments", "workers")
    assert (pending.count, pending.entries) == (0, [])
    [letter] = await bus.dead_letters("payments")
    assert letter["event"] == {"payment": 42}
    assert letter["reason"] == f"boom #{DELIVERY_LIMIT}"
    assert letter["original_id"] == event_id
    assert letter["deliveries"] == DELIVERY_LIMIT
    await asyncio.sleep(RETRY_IDLE_MS / 1000 + 0.05)
    assert await bus.consume("payments", "workers", "w1", block_ms=50) == []


@pytest.mark.asyncio
async def test_work_of_a_vanished_consumer_is_redelivered_to_another(bus: EventBus) -> None:
    await bus.ensure_group("jobs", "workers")
    event_id = await bus.enqueue("jobs", {"job": "x"})
    [first] = await bus.consume("jobs", "workers", "crashed", block_ms=100)
    assert first.deliveries == 1  # ... and "crashed" never acks nor fails it

    await asyncio.sleep(RETRY_IDLE_MS / 1000 + 0.05)
    [again] = await bus.consume("jobs", "workers", "healthy", block_ms=100)
    assert (again.id, again.deliveries, again.consumer) == (event_id, 2, "healthy")
    await bus.ack("jobs", "workers", again.id)
    assert (await bus.pending("jobs", "workers")).count == 0


@pytest.mark.asyncio
async def test_consume_waits_at_most_block_ms(bus: EventBus) -> None:
    await bus.ensure_group("idle", "workers")
    started = time.perf_counter()
    assert await bus.consume("idle", "workers", "w1", block_ms=200) == []
    assert 0.15 <= time.perf_counter() - started < 2.5


# --------------------------------------------------------------------------------------------
# namespace, TTLs and cleanup
# --------------------------------------------------------------------------------------------


async def _write_everything(bus: EventBus) -> None:
    """Touch every kind of key the bus writes: value, stream, group, dead-letter stream."""
    await bus.store("state", {"a": 1})
    await bus.ensure_group("queue", "g")
    await bus.enqueue("queue", {"b": 2})
    await bus.ensure_group("empty-queue", "g")
    failing = EventBus(
        bus.redis, namespace=bus.namespace, ttl=bus.key_ttl, delivery_limit=1, retry_idle_ms=0
    )
    [delivery] = await failing.consume("queue", "g", "c", block_ms=100)
    assert await failing.fail("queue", "g", delivery, reason="nope") == "dead-letter"


@pytest.mark.asyncio
async def test_every_key_is_namespaced_with_a_ttl_and_cleanup_removes_all(bus: EventBus) -> None:
    await _write_everything(bus)
    keys = sorted(await bus.keys())
    names = ["empty-queue", "queue", "queue" + DEAD_LETTER_SUFFIX, "state"]
    assert keys == sorted(bus.namespace + name for name in names)
    for key in keys:
        assert 0 < await bus.redis.ttl(key) <= TTL, key

    async with _raw_client() as client:
        everything = [key async for key in client.scan_iter(match=f"{PREFIX}:*")]
        assert [key for key in everything if key.startswith(bus.namespace)] == [
            key for key in everything if key in keys
        ]

    assert await bus.cleanup() == len(keys)
    assert await bus.keys() == []
    assert await bus.cleanup() == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", [2, 3])
async def test_cleanup_also_runs_when_the_body_raises(protocol: int) -> None:
    namespaces: list[str] = []

    async def failing_test_body() -> None:
        async with open_bus(protocol) as bus:
            namespaces.append(bus.namespace)
            await _write_everything(bus)
            assert len(await bus.keys()) == 4
            raise RuntimeError("test body failed")

    with pytest.raises(RuntimeError, match="test body failed"):
        await failing_test_body()
    [namespace] = namespaces
    async with _raw_client() as client:
        assert [key async for key in client.scan_iter(match=namespace + "*")] == []


@pytest.mark.asyncio
async def test_cleanup_does_not_touch_other_namespaces(bus: EventBus) -> None:
    async with open_bus(3) as neighbour:
        await neighbour.store("mine", {"x": 1})
        await bus.store("ours", {"y": 2})
        assert await bus.cleanup() == 1
        assert await neighbour.load("mine") == {"x": 1}


def test_namespace_rules() -> None:
    namespace = run_namespace("smoke-test")
    assert namespace.startswith("smoke-test:")
    assert namespace.endswith(":")
    assert len(namespace) == len("smoke-test:") + 7
    assert run_namespace("smoke-test:").count(":") == 2
    assert run_namespace("smoke-test") != namespace
    client = redis_asyncio.Redis()
    for bad in ("", ":", "smoke-test", "*"):
        with pytest.raises(ValueError, match="namespace"):
            EventBus(client, namespace=bad, ttl=1, delivery_limit=1)


# --------------------------------------------------------------------------------------------
# reply shapes (RESP2, RESP3 legacy, unified) normalised in one place
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        [["s", [("1-0", {"event": "{}"}), ("2-0", {"event": "[]"})]]],  # RESP2
        {"s": [[("1-0", {"event": "{}"}), ("2-0", {"event": "[]"})]]},  # RESP3, legacy
        {"s": [("1-0", {"event": "{}"}), ("2-0", {"event": "[]"})]},  # unified
        [[b"s", [[b"1-0", [b"event", b"{}"]], [b"2-0", [b"event", b"[]"]]]]],  # raw bytes
    ],
    ids=["resp2", "resp3-legacy", "unified", "raw"],
)
def test_read_replies_normalise(reply: object) -> None:
    assert _read_entries(reply) == [("1-0", {"event": "{}"}), ("2-0", {"event": "[]"})]


@pytest.mark.parametrize("empty", [[], {}, None])
def test_empty_read_replies_normalise(empty: object) -> None:
    assert _read_entries(empty) == []


def test_other_replies_normalise() -> None:
    assert _claimed_entries(["0-0", [("1-0", {"e": "1"})], ["0-5"]]) == (
        [("1-0", {"e": "1"})],
        ["0-5"],
    )
    assert _claimed_entries(["0-0", [("1-0", None)]]) == ([("1-0", None)], [])
    parsed = {"pending": 2, "min": "1-0", "max": "2-0", "consumers": [{"name": "w", "pending": 2}]}
    assert _pending_summary(parsed) == (2, {"w": 2})
    assert _pending_summary([2, "1-0", "2-0", [["w", "2"]]]) == (2, {"w": 2})
    assert _pending_summary([0, None, None, None]) == (0, {})
    row = {"message_id": "1-0", "consumer": "w", "time_since_delivered": 5, "times_delivered": 2}
    assert _pending_entries([row]) == _pending_entries([["1-0", "w", 5, 2]])
    assert _pending_entries([row])[0].deliveries == 2


# --------------------------------------------------------------------------------------------
# an unreachable or unusable Redis
# --------------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", [2, 3])
async def test_refused_connection_fails_fast(closed_port: int, protocol: int) -> None:
    started = time.perf_counter()
    with pytest.raises(DependencyUnavailable) as caught:
        await connect_redis(
            f"redis://{HOST}:{closed_port}/0", connect_timeout=1, timeout=1, protocol=protocol
        )
    assert time.perf_counter() - started < 3
    error = caught.value
    assert (error.dependency, error.target, error.detail) == (
        "redis",
        f"{HOST}:{closed_port}",
        "connection refused",
    )
    assert root_cause_of(error) == f"redis unreachable at {HOST}:{closed_port}: connection refused"


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", [2, 3])
async def test_silent_listener_fails_within_connect_timeout(
    silent_port: int, protocol: int
) -> None:
    started = time.perf_counter()
    with pytest.raises(DependencyUnavailable, match="no answer within 2s") as caught:
        await connect_redis(
            f"redis://{HOST}:{silent_port}/0", connect_timeout=2, timeout=30, protocol=protocol
        )
    assert time.perf_counter() - started < 4.5
    assert caught.value.target == f"{HOST}:{silent_port}"


def _everything_said(error: BaseException) -> str:
    """Message, repr, attributes and the formatted traceback (chained errors included)."""
    parts = [str(error), repr(error), repr(vars(error)), *traceback.format_exception(error)]
    return "\n".join(parts)


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", [2, 3])
async def test_password_never_appears_when_unreachable(closed_port: int, protocol: int) -> None:
    url = f"redis://:{PLANTED}@{HOST}:{closed_port}/0"
    with pytest.raises(DependencyUnavailable) as caught:
        await connect_redis(url, connect_timeout=1, timeout=1, protocol=protocol)
    assert "connection refused" in str(caught.value)
    assert PLANTED not in _everything_said(caught.value)


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", [2, 3])
async def test_rejected_credentials_say_so_without_the_password(protocol: int) -> None:
    url = f"redis://nobody-{PLANTED}:{PLANTED}@{HOST}:{PORT}/0"
    with pytest.raises(DependencyUnavailable, match="authentication failed") as caught:
        await connect_redis(url, connect_timeout=2, timeout=2, protocol=protocol)
    assert caught.value.target == f"{HOST}:{PORT}"
    assert PLANTED + "@" not in _everything_said(caught.value)
    assert f":{PLANTED}" not in _everything_said(caught.value)


def test_invalid_url_is_a_value_error_without_the_password() -> None:
    with pytest.raises(ValueError, match="invalid Redis URL") as caught:
        asyncio.run(connect_redis(f"http://:{PLANTED}@{HOST}:1/0", connect_timeout=1, timeout=1))
    assert PLANTED not in _everything_said(caught.value)


def test_password_stays_out_of_pytest_tracebacks(
    pytester: pytest.Pytester, closed_port: int
) -> None:
    """Even ``--showlocals --fulltrace`` prints no frame argument or local holding it."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        f"""
        import asyncio
        from pytest_smoke.clients.redis_bus import connect_redis

        def test_connect():
            url = "redis://:" + "{PLANTED[:5]}" + "{PLANTED[5:]}" + "@{HOST}:{closed_port}/0"
            asyncio.run(connect_redis(url, connect_timeout=1, timeout=1))
        """
    )
    for options in (["--tb=long"], ["--tb=long", "--showlocals"], ["--fulltrace", "-l"]):
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *options)
        result.assert_outcomes(failed=1)
        output = result.stdout.str() + result.stderr.str()
        assert "connection refused" in output
        # only the test's own local ``url`` (shown by --showlocals) may hold it
        lines = [line for line in output.splitlines() if PLANTED in line]
        assert all(line.lstrip().startswith("url") for line in lines), lines
