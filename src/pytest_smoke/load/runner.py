"""The burst: requests on asyncio, at a constant arrival rate or from a fixed set of workers.

**Constant arrival rate** (``rate``, open loop): request ``i`` is due at ``t0 + i / rate``,
``ceil(rate * duration)`` requests in all. The scheduler sleeps until the next one is due and
starts every request that is due as its own task, whether or not earlier ones were answered.
A request's latency runs from when it was due, not from when it left: if the server stalls,
requests keep being sent on schedule and each one's wait counts, so a one-second stall shows
as a second in the percentiles instead of hiding behind a client that slowed down with it
(coordinated omission). How late each request actually left is the *schedule lag*.

Bounds: at most :data:`~pytest_smoke.load.spec.MAX_IN_FLIGHT` requests in flight; beyond it
the scheduler waits for one to finish, and the waiting still counts in the latencies of the
requests it delays. A request that could not be sent within ``timeout_seconds`` of its due
time is not sent at all: it fails ("not sent in time"), its latency the time it waited. Each
request is bounded by ``timeout_seconds``. So a burst ends within ``duration_seconds`` plus
twice ``timeout_seconds``, whatever the server does.

**Fixed concurrency** (``concurrency``, closed loop): that many workers, each sending its next
request when its last one is answered, until ``duration_seconds`` have passed; latency from
each send. This is how many load tools work, and it cannot see a stall the same way: while
the server holds every worker's request, no other request is sent, so a one-second stall
costs one slow request per worker among the many fast ones, and the percentiles stay low
(the maximum shows it). Use it to ask "how fast with N clients"; use a rate to ask "what do
users arriving at this rate see".
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import TYPE_CHECKING, Final

from pytest_smoke.load.schedule import Plan, due_at, request_count
from pytest_smoke.load.spec import MAX_IN_FLIGHT
from pytest_smoke.load.stats import Tally

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from pytest_smoke.load.spec import LoadSpec, Target
    from pytest_smoke.load.stats import LoadResult

    #: Sends one request and returns the answer's status; raises :class:`RequestFailed` when
    #: no answer came (a connect error, a dropped connection).
    Send = Callable[[Target], Awaitable[int]]

#: Why a request that was due too long ago was never sent.
NOT_SENT: Final = "not sent in time"
#: Why a request failed when it ran out of ``timeout_seconds``.
TIMEOUT: Final = "timeout"


class RequestFailed(Exception):
    """No answer to a request; ``kind`` says why in a word (``"ConnectError"``)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


async def run_burst(
    spec: LoadSpec,
    send: Send,
    *,
    seed: int | None = None,
    clock: Callable[[], float] = time.perf_counter,
    max_in_flight: int = MAX_IN_FLIGHT,
) -> LoadResult:
    """Run the burst ``spec`` with ``send`` and summarise it. ``seed`` makes the ``random``
    strategy repeatable; ``clock`` must be monotonic seconds, like the event loop's."""
    burst = _Burst(
        spec, send, Plan(spec.targets, spec.strategy, spec.duration_seconds, seed=seed), clock
    )
    if spec.rate is not None:
        await burst.open_loop(spec.rate, max_in_flight)
    else:
        assert spec.concurrency is not None  # LoadSpec holds exactly one of the two
        await burst.closed_loop(spec.concurrency)
    return burst.tally.result(spec, burst.t0)


class _Burst:
    """One burst's state while it runs."""

    def __init__(self, spec: LoadSpec, send: Send, plan: Plan, clock: Callable[[], float]) -> None:
        self.spec = spec
        self.send = send
        self.plan = plan
        self.clock = clock
        self.tally = Tally(spec.targets)
        self.t0 = clock()

    async def one(self, target_index: int) -> tuple[float, int | None, str | None, float]:
        """Send one request: when it left, its status or why it failed, when it ended."""
        sent = self.clock()
        status: int | None = None
        failure: str | None = None
        try:
            async with asyncio.timeout(self.spec.timeout_seconds):
                status = await self.send(self.plan.targets[target_index])
        except TimeoutError:
            failure = TIMEOUT
        except RequestFailed as error:
            failure = error.kind
        return sent, status, failure, self.clock()

    async def open_loop(self, rate: float, max_in_flight: int) -> None:
        """Request ``i`` due at ``t0 + i / rate``, latency from then (see the module)."""
        slots = asyncio.Semaphore(max_in_flight)
        running: set[asyncio.Task[None]] = set()
        broken: list[BaseException] = []  # what a send raised besides a failed request: a bug
        timeout, clock, tally = self.spec.timeout_seconds, self.clock, self.tally

        async def request(due: float, target_index: int) -> None:
            try:
                sent, status, failure, finished = await self.one(target_index)
            except Exception as error:
                broken.append(error)
                return
            finally:
                slots.release()
            tally.add(
                target_index,
                sent=sent,
                latency=finished - due,
                status=status,
                failure=failure,
                lag=max(sent - due, 0.0),
                finished=finished,
            )

        try:
            for index in range(request_count(rate, self.spec.duration_seconds)):
                offset = due_at(index, rate)
                due = self.t0 + offset
                target_index = self.plan.index(index, offset)
                delay = due - clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                await slots.acquire()  # waits only when max_in_flight requests are out
                if broken:
                    slots.release()
                    break
                now = clock()
                if now - due > timeout:  # too far behind: counted, with the time it waited
                    slots.release()
                    tally.add(
                        target_index, sent=None, latency=now - due, failure=NOT_SENT, finished=now
                    )
                    continue
                task = asyncio.create_task(request(due, target_index))
                running.add(task)
                task.add_done_callback(running.discard)
            if running:
                # each request is bounded by timeout already: this only guards against a send
                # that ignores cancellation
                await asyncio.wait(set(running), timeout=timeout + 1.0)
        finally:
            for task in running:
                task.cancel()
        if broken:
            raise broken[0]

    async def closed_loop(self, concurrency: int) -> None:
        """``concurrency`` workers, each sending when its last request was answered."""
        end = self.t0 + self.spec.duration_seconds
        numbers = itertools.count()

        async def worker() -> None:
            while (now := self.clock()) < end:
                target_index = self.plan.index(next(numbers), now - self.t0)
                sent, status, failure, finished = await self.one(target_index)
                self.tally.add(
                    target_index,
                    sent=sent,
                    latency=finished - sent,
                    status=status,
                    failure=failure,
                    finished=finished,
                )

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
