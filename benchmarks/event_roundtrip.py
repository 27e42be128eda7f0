"""How long an event takes to go round through Redis with the smoke suite's EventBus.

(a) pub/sub round trip: one subscriber (subscribed and confirmed first), then N events
    published one at a time, each awaited by the subscriber before the next is published;
    each round trip is timed with ``time.perf_counter``. Prints p50/p90/p99/max in ms.
(b) queue round trip: N events, each enqueued (XADD + expiry), consumed by a consumer group
    (XAUTOCLAIM + XREADGROUP) and acknowledged (XACK), one at a time. Prints p50/p99/max.

Everything lives in a fresh namespace (``smoke-test-bench:<run id>:``) that is removed at the
end, even when the run fails. Run it from the repository root with the project's virtualenv::

    .venv/bin/python benchmarks/event_roundtrip.py                      # 2000 events, RESP3
    .venv/bin/python benchmarks/event_roundtrip.py --events 5000 --protocol 2

It is a measurement, not a test: it exits 0 unless it cannot reach Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

from pytest_smoke.causes import DependencyUnavailable
from pytest_smoke.clients.redis_bus import EventBus, connect_redis, run_namespace


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``samples`` (seconds), ``fraction`` in (0, 1]."""
    ordered = sorted(samples)
    rank = max(1, round(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def describe(label: str, samples: list[float], fractions: tuple[float, ...]) -> str:
    ms = [s * 1000 for s in samples]
    parts = [f"p{round(f * 100)} {percentile(ms, f):.3f}" for f in fractions]
    parts.append(f"max {max(ms):.3f}")
    parts.append(f"mean {statistics.fmean(ms):.3f}")
    return f"{label:<28} " + "  ".join(parts) + " ms"


async def pubsub_roundtrips(bus: EventBus, events: int) -> list[float]:
    samples = []
    async with bus.subscribe("bench") as subscription:
        for seq in range(events):
            started = time.perf_counter()
            await bus.publish("bench", {"seq": seq})
            event = await subscription.next(timeout=5)
            samples.append(time.perf_counter() - started)
            if event["seq"] != seq:
                raise RuntimeError(f"event {seq} arrived as {event['seq']}")
    return samples


async def queue_roundtrips(bus: EventBus, events: int) -> list[float]:
    await bus.ensure_group("bench-queue", "bench")
    samples = []
    for seq in range(events):
        started = time.perf_counter()
        await bus.enqueue("bench-queue", {"seq": seq})
        [delivery] = await bus.consume("bench-queue", "bench", "c1", count=1, block_ms=1000)
        await bus.ack("bench-queue", "bench", delivery.id)
        samples.append(time.perf_counter() - started)
        if delivery.event["seq"] != seq:
            raise RuntimeError(f"queued event {seq} arrived as {delivery.event['seq']}")
    return samples


async def main(events: int, url: str, protocol: int) -> int:
    try:
        client = await connect_redis(url, connect_timeout=2, timeout=5, protocol=protocol)
    except DependencyUnavailable as error:
        print(f"cannot run: {error}", file=sys.stderr)
        return 2
    bus = EventBus(client, namespace=run_namespace("smoke-test-bench"), ttl=300, delivery_limit=3)
    try:
        pubsub = await pubsub_roundtrips(bus, events)
        queue = await queue_roundtrips(bus, events)
    finally:
        removed = await bus.cleanup()
        await bus.aclose()
    print(f"{events} events, RESP{protocol}, loopback, Python {sys.version.split()[0]}")
    print(describe("publish -> subscriber", pubsub, (0.5, 0.9, 0.99)))
    print(describe("enqueue -> consume -> ack", queue, (0.5, 0.99)))
    print(f"cleanup: removed {removed} key(s) from {bus.namespace}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events per measurement")
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0", help="Redis URL")
    parser.add_argument("--protocol", type=int, choices=(2, 3), default=3, help="RESP version")
    arguments = parser.parse_args()
    if arguments.events < 1:
        parser.error("--events must be at least 1")
    sys.exit(asyncio.run(main(arguments.events, arguments.url, arguments.protocol)))
