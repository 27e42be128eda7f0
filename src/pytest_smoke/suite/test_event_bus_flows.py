"""Event bus: Redis carries events between services, keeps them as long as it should, and
routes failed work to retries and a dead-letter stream.

Every key and stream the checks write lives under the run's prefix and is removed afterwards;
the checks that store keys or streams (more than publishing) are marked ``writes``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import pytest

from ._support import ASYNC, crud_resource

if TYPE_CHECKING:
    import httpx
    import redis.asyncio

    from pytest_smoke.checks import Checks
    from pytest_smoke.checks.ledger import Ledger
    from pytest_smoke.clients.redis_bus import EventBus

pytestmark = [pytest.mark.smoke, pytest.mark.redis, ASYNC]


@pytest.mark.critical
async def test_event_bus_connectivity(redis_client: redis.asyncio.Redis) -> None:
    """Redis answers PING.

    Impact: no event is published or consumed; services drift apart.
    """
    assert await redis_client.ping()


async def test_publish_subscribe(event_bus: EventBus) -> None:
    """A published event reaches a subscriber, intact.

    Impact: notifications between services are lost.
    """
    async with event_bus.subscribe("orders") as subscription:
        receivers = await event_bus.publish("orders", {"id": 1, "total": 9.5})
        assert receivers == 1
        assert await subscription.next(timeout=5) == {"id": 1, "total": 9.5}


async def test_multiple_subscribers_each_get_every_event(event_bus: EventBus) -> None:
    """Three subscribers of one channel each receive all events, in order.

    Impact: a service added as a second consumer would miss events.
    """
    async with contextlib.AsyncExitStack() as stack:
        subscribers = [
            await stack.enter_async_context(event_bus.subscribe("fanout")) for _ in range(3)
        ]
        for n in range(20):
            await event_bus.publish("fanout", {"n": n})
        for subscriber in subscribers:
            received = [(await subscriber.next(timeout=5))["n"] for _ in range(20)]
            assert received == list(range(20))


@pytest.mark.writes
async def test_persisted_event_expires(event_bus: EventBus) -> None:
    """A persisted event can be read back and carries a time to live.

    Impact: state kept in Redis would be lost, or grow without bound.
    """
    await event_bus.store("last-order", {"id": 3}, ttl=60)
    assert await event_bus.load("last-order") == {"id": 3}
    assert 0 < await event_bus.ttl("last-order") <= 60


@pytest.mark.writes
async def test_failed_work_is_retried_then_dead_lettered(event_bus: EventBus) -> None:
    """A job that keeps failing is delivered again, then moved to the dead-letter stream.

    Impact: failing jobs would be lost silently, or retried forever.
    """
    await event_bus.ensure_group("jobs", "workers")
    await event_bus.enqueue("jobs", {"job": "resize", "id": 42})
    deliveries = 0
    for _ in range(50):
        batch = await event_bus.consume("jobs", "workers", "worker-1", block_ms=100)
        for delivery in batch:
            deliveries = delivery.deliveries
            if await event_bus.fail("jobs", "workers", delivery) == "dead-letter":
                break
        else:
            await asyncio.sleep(0.12)  # let the failed entry become idle enough to reclaim
            continue
        break
    dead = await event_bus.dead_letters("jobs")
    assert [letter["event"] for letter in dead] == [{"job": "resize", "id": 42}]
    assert deliveries == event_bus.delivery_limit
    assert (await event_bus.pending("jobs", "workers")).count == 0


@pytest.mark.writes
@pytest.mark.needs_checks("events.channel", "events.created_type", "crud.collection")
async def test_service_write_publishes_an_event(
    http_client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    redis_client: redis.asyncio.Redis,
    smoke_checks: Checks,
    smoke_resources: Ledger,
) -> None:
    """Creating the checks file's resource through the service publishes an event about it
    (``events.created_type``) on ``events.channel``; the resource is deleted again.

    Impact: downstream services never hear of new data.
    """
    channel = smoke_checks.get("events.channel")
    expected = smoke_checks.get("events.created_type")
    resource = crud_resource(http_client, auth_headers, smoke_checks, smoke_resources)
    pubsub = redis_client.pubsub()
    try:
        await pubsub.subscribe(channel)
        async with asyncio.timeout(5):  # the confirmation: events published before it are lost
            while (await pubsub.get_message(timeout=1)) is None:
                pass
        async with resource.created() as item:
            event, others = await _event_about(pubsub, item.marker, item.id, timeout=5)
        assert event is not None, (
            f"no event about the created item on {channel!r} within 5 s of the write "
            f"({others} other event(s) seen)"
        )
        assert event.get("type") == expected, (
            f"the first event about the created item is {event.get('type')!r}, not {expected!r}"
        )
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # typed in redis 8


async def _event_about(
    pubsub: redis.asyncio.client.PubSub, marker: str, item_id: Any, *, timeout: float
) -> tuple[dict[str, Any] | None, int]:
    """The first event naming the item (its marker or its id), and how many others came first.

    Other checks write to the same channel at the same time: the first event is not ours.
    """
    import json

    others = 0
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if not message or message.get("type") != "message":
            continue
        raw = message["data"]
        try:
            data = json.loads(raw)
        except ValueError:
            data = raw
        event = data if isinstance(data, dict) else {"data": data}
        if marker in str(raw) or event.get("id") == item_id:
            return event, others
        others += 1
    return None, others
