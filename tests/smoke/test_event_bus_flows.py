"""Event bus: Redis carries events between services, keeps them as long as it should, and
routes failed work to retries and a dead-letter stream.

Every key and stream the checks write lives under the run's prefix and is removed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import pytest

from ._support import ASYNC, fill, need, new_marker

if TYPE_CHECKING:
    import httpx
    import redis.asyncio

    from pytest_smoke.checks import Checks
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


async def test_persisted_event_expires(event_bus: EventBus) -> None:
    """A persisted event can be read back and carries a time to live.

    Impact: state kept in Redis would be lost, or grow without bound.
    """
    await event_bus.store("last-order", {"id": 3}, ttl=60)
    assert await event_bus.load("last-order") == {"id": 3}
    assert 0 < await event_bus.ttl("last-order") <= 60


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


async def test_service_write_publishes_an_event(
    http_client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    redis_client: redis.asyncio.Redis,
    smoke_checks: Checks,
) -> None:
    """Creating a resource through the service publishes its event on the bus.

    Impact: downstream services never hear of new data.
    """
    channel = need(smoke_checks, "events.channel")
    path = need(smoke_checks, "crud.path")
    marker = new_marker()
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(channel)
    created = None
    try:
        while (await pubsub.get_message(timeout=1)) is None:  # the subscribe confirmation
            pass
        response = await http_client.post(
            path, json=fill(need(smoke_checks, "crud.create"), marker), headers=auth_headers
        )
        assert response.status_code in (200, 201), response.text
        created = response.json()
        event = await _next_event(pubsub, timeout=5)
        expected = smoke_checks.get("events.created_type")
        assert event is not None, f"no event on {channel!r} within 5 s of the write"
        if expected:
            assert event.get("type") == expected
    finally:
        if created is not None:
            item_id = created[smoke_checks.get("crud.id_field", "id")]
            await http_client.delete(f"{path}/{item_id}", headers=auth_headers)
        await pubsub.aclose()


async def _next_event(pubsub: redis.asyncio.client.PubSub, *, timeout: float) -> dict | None:
    import json

    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if message and message.get("type") == "message":
            data = json.loads(message["data"])
            return data if isinstance(data, dict) else {"data": data}
    return None
