"""Queue mode: runs dispatched over Redis with Dramatiq to ``smoke-gate worker`` processes.

The service (:class:`QueueExecutor`, the same interface as
:class:`~.executor.LocalExecutor`) sends each run as a Dramatiq message (actor
:data:`ACTOR_NAME`, queue :data:`QUEUE_NAME`) through Dramatiq's Redis broker. A worker
(:func:`run_worker`: Dramatiq's own worker command, in the foreground until SIGTERM/SIGINT)
runs it with :func:`~.executor.execute`, the one implementation of a run, in its own profiles
and data directories, and reports through keys of its own under the namespace prefix (default
:data:`DEFAULT_NAMESPACE`), each with a TTL of :data:`KEY_TTL` seconds:

- ``PREFIX:run:ID:started``: set when a worker starts the run (the service's handle: started);
- ``PREFIX:run:ID:outcome``: the :class:`~.runs.RunOutcome` as JSON, when it has ended;
- ``PREFIX:run:ID:cancel``: set by the service to cancel; the worker polls it every
  :data:`POLL` s and stops the run's process tree, or skips a run not started yet.

Dramatiq's own keys (its queues) are under ``PREFIX:dramatiq``. A message is never retried (a
smoke run is not idempotent: it writes to the deployment) and runs at most the worker's timeout
(the worker stops it then: TIMED_OUT), plus the grace periods. When a worker stops, it cancels
the runs it has going. A run whose worker vanished (no outcome long after the timeout) is
reported crashed by the service.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from pytest_smoke.server.executor import GRACE, RunBook, RunHandle, _Run, execute
from pytest_smoke.server.runs import RunOutcome, RunRequest, RunState

if TYPE_CHECKING:
    from types import FrameType

log = logging.getLogger("pytest_smoke.server.queue")

DEFAULT_NAMESPACE: Final = "smoke-gate"
ACTOR_NAME: Final = "smoke_gate_run"
QUEUE_NAME: Final = "smoke-gate"
#: Seconds the run keys live (an outcome nobody read is gone a day later).
KEY_TTL: Final = 24 * 3600
#: Seconds between two looks at a run's keys (service) or its cancel key (worker).
POLL: Final = 0.25
#: The worker processes' configuration, in their environment (never passed on to a run).
CONFIG_VARIABLE: Final = "SMOKE_WORKER_CONFIG"
#: How long past its timeout a started run may go without an outcome before it counts as lost.
LOST_AFTER: Final = 60.0


@dataclass(frozen=True)
class RunKeys:
    """The Redis keys of the runs under one namespace prefix."""

    namespace: str = DEFAULT_NAMESPACE

    def started(self, run_id: str) -> str:
        return f"{self.namespace}:run:{run_id}:started"

    def outcome(self, run_id: str) -> str:
        return f"{self.namespace}:run:{run_id}:outcome"

    def cancel(self, run_id: str) -> str:
        return f"{self.namespace}:run:{run_id}:cancel"

    @property
    def broker_namespace(self) -> str:
        return f"{self.namespace}:dramatiq"


def outcome_json(outcome: RunOutcome) -> str:
    """``outcome`` as the worker stores it."""
    return json.dumps(
        {
            "state": outcome.state.value,
            "exit_code": outcome.exit_code,
            "document": outcome.document,
            "error": outcome.error,
        }
    )


def outcome_from_json(text: str | bytes) -> RunOutcome:
    """The outcome a worker stored."""
    data = json.loads(text)
    return RunOutcome(
        state=RunState(data["state"]),
        exit_code=data["exit_code"],
        document=data["document"],
        error=data["error"],
    )


def make_broker(redis_url: str, keys: RunKeys) -> RedisBroker:
    """Dramatiq's Redis broker, its keys under the namespace prefix."""
    return RedisBroker(url=redis_url, namespace=keys.broker_namespace)  # type: ignore[no-untyped-call]


def declare_actor(
    broker: dramatiq.Broker, *, time_limit_ms: int | None = None
) -> dramatiq.Actor[[str, dict[str, Any]], None]:
    """The run actor on ``broker``: never retried, ``time_limit_ms`` when given."""
    options: dict[str, Any] = {"max_retries": 0}
    if time_limit_ms is not None:
        options["time_limit"] = time_limit_ms
    declare = dramatiq.actor(broker=broker, actor_name=ACTOR_NAME, queue_name=QUEUE_NAME, **options)
    return declare(run_message)


# --- the service side ----------------------------------------------------------------------------


class QueueExecutor:
    """Runs sent to ``smoke-gate worker`` processes over Redis; the interface of
    :class:`~.executor.LocalExecutor`. ``profiles_dir``, ``data_dir`` and ``max_concurrent``
    are the workers' business (their own options); ``timeout`` tells when a started run whose
    worker never answers counts as lost."""

    def __init__(
        self,
        redis_url: str,
        *,
        profiles_dir: Path | None = None,
        data_dir: Path | None = None,
        max_concurrent: int = 1,
        timeout: float = 900.0,
        namespace: str = DEFAULT_NAMESPACE,
        grace: float = GRACE,
    ) -> None:
        import redis.asyncio

        self.keys = RunKeys(namespace)
        self.timeout = timeout
        self.grace = grace
        self.profiles_dir = profiles_dir
        self.data_dir = data_dir
        self.max_concurrent = max_concurrent
        self._broker = make_broker(redis_url, self.keys)
        self._actor = declare_actor(self._broker)
        self._redis = redis.asyncio.Redis.from_url(redis_url)
        self._book = RunBook()

    @property
    def active(self) -> list[str]:
        return self._book.ids()

    async def submit(self, run_id: str, request: RunRequest) -> RunHandle:
        """Send ``request`` as run ``run_id`` to the workers, or join the identical one."""
        run, joined = self._book.enter(run_id, request)
        if joined:
            return RunHandle(run, joined=True)
        try:
            await asyncio.to_thread(self._actor.send, run_id, request.as_json())
        except Exception:
            self._book.forget(run)
            raise
        run.task = asyncio.create_task(self._follow(run), name=f"smoke-run-{run_id}")
        return RunHandle(run)

    async def cancel(self, run_id: str) -> bool:
        """Ask the worker to stop run ``run_id``; False when it is not queued or running here."""
        run = self._book.get(run_id)
        if run is None:
            return False
        await self._redis.set(self.keys.cancel(run_id), "1", ex=KEY_TTL)
        run.cancel.set()
        return True

    async def shutdown(self) -> None:
        """Cancel every run and wait for their outcomes (a while); then close the connections."""
        self._book.closed = True
        runs = self._book.runs()
        for run in runs:
            await self.cancel(run.run_id)
        tasks = [run.task for run in runs if run.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=3 * self.grace + 10)
        for task in tasks:
            task.cancel()
        await self._redis.aclose()
        await asyncio.to_thread(self._broker.close)

    async def _follow(self, run: _Run) -> None:
        outcome = RunOutcome(RunState.CANCELLED, None, None, "the service stopped")
        try:
            outcome = await self._watch(run)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # Redis went away: the run is lost to this service
            log.exception("lost track of a queued run", extra={"run_id": run.run_id})
            outcome = RunOutcome(
                RunState.CRASHED,
                None,
                None,
                f"run crashed: lost track of it ({type(error).__name__})",
            )
        finally:
            self._book.forget(run)
            if not run.outcome.done():
                run.outcome.set_result(outcome)

    async def _watch(self, run: _Run) -> RunOutcome:
        keys, run_id = self.keys, run.run_id
        started_at: float | None = None
        while True:
            stored = await self._redis.get(keys.outcome(run_id))
            if stored is not None:
                run.started.set()
                return outcome_from_json(stored)
            if started_at is None and await self._redis.exists(keys.started(run_id)):
                started_at = time.monotonic()
                run.started.set()
            if started_at is None and run.cancel.is_set():
                # not started: the worker that takes it sees the cancel key and skips it
                return RunOutcome(RunState.CANCELLED, None, None, "cancelled while queued")
            if started_at is not None and (
                time.monotonic() - started_at > self.timeout + 3 * self.grace + LOST_AFTER
            ):
                return RunOutcome(
                    RunState.CRASHED, None, None, "run crashed: its worker never reported an end"
                )
            await asyncio.sleep(POLL)


# --- the worker side -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerConfig:
    """What a worker process runs runs with (from :data:`CONFIG_VARIABLE`)."""

    redis_url: str
    profiles_dir: str
    data_dir: str
    timeout: float
    namespace: str = DEFAULT_NAMESPACE
    grace: float = GRACE

    @classmethod
    def from_environment(cls) -> WorkerConfig:
        text = os.environ.get(CONFIG_VARIABLE)
        if not text:
            raise RuntimeError(f"{CONFIG_VARIABLE} is not set: start workers with run_worker")
        return cls(**json.loads(text))


#: Runs going in this worker process: run id -> (its loop, its cancel event).
_ACTIVE: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Event]] = {}
_ACTIVE_LOCK = threading.Lock()
_STOPPING = threading.Event()


def setup_worker() -> None:
    """Dramatiq's broker setup in each worker process (``module:callable`` on its command
    line): the Redis broker as the global one, the run actor, stopping runs on shutdown."""
    # Dramatiq's worker processes ignore SIGINT (their parent turns it into SIGTERM), and an
    # ignored signal stays ignored across exec: the runs' pytest would not get the SIGINT it
    # tears its fixtures down on. A handler of ours is reset to the default on exec instead.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _ignore)
    config = WorkerConfig.from_environment()
    broker = make_broker(config.redis_url, RunKeys(config.namespace))
    broker.add_middleware(_StopRunsOnShutdown())
    dramatiq.set_broker(broker)
    limit = config.timeout + 3 * config.grace + LOST_AFTER
    declare_actor(broker, time_limit_ms=int(limit * 1000))


def _ignore(signum: int, frame: FrameType | None) -> None:
    """SIGINT in a worker process: ignored, as Dramatiq does, yet not inherited by runs."""


class _StopRunsOnShutdown(dramatiq.Middleware):
    """When the worker stops, the runs it has going are cancelled (their trees killed)."""

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        _STOPPING.set()
        with _ACTIVE_LOCK:
            active = list(_ACTIVE.values())
        for loop, event in active:
            loop.call_soon_threadsafe(event.set)


def run_message(run_id: str, request: dict[str, Any]) -> None:
    """The actor: run ``request`` as run ``run_id`` in this worker, store its outcome."""
    config = WorkerConfig.from_environment()
    asyncio.run(_work(config, run_id, RunRequest.from_json(request)))


async def _work(config: WorkerConfig, run_id: str, request: RunRequest) -> None:
    import redis.asyncio

    keys = RunKeys(config.namespace)
    client = redis.asyncio.Redis.from_url(config.redis_url)
    try:
        if await client.exists(keys.cancel(run_id)):
            outcome = RunOutcome(RunState.CANCELLED, None, None, "cancelled while queued")
        else:
            await client.set(keys.started(run_id), "1", ex=KEY_TTL)
            outcome = await _execute(config, client, keys, run_id, request)
        await client.set(keys.outcome(run_id), outcome_json(outcome), ex=KEY_TTL)
    finally:
        await client.aclose()


async def _execute(
    config: WorkerConfig, client: Any, keys: RunKeys, run_id: str, request: RunRequest
) -> RunOutcome:
    cancel = asyncio.Event()
    with _ACTIVE_LOCK:
        _ACTIVE[run_id] = (asyncio.get_running_loop(), cancel)
    if _STOPPING.is_set():
        cancel.set()
    poller = asyncio.create_task(_poll_cancel(client, keys.cancel(run_id), cancel))
    try:
        outcome = await execute(
            run_id,
            request,
            profiles_dir=Path(config.profiles_dir),
            data_dir=Path(config.data_dir),
            timeout=config.timeout,
            cancel=cancel,
            grace=config.grace,
        )
    except Exception as error:  # the run could not even start: the worker goes on
        log.exception("run failed to start", extra={"run_id": run_id})
        outcome = RunOutcome(RunState.CRASHED, None, None, f"run crashed: {type(error).__name__}")
    finally:
        poller.cancel()
        with _ACTIVE_LOCK:
            _ACTIVE.pop(run_id, None)
    if outcome.state is RunState.CANCELLED and _STOPPING.is_set():
        outcome = dataclasses.replace(outcome, error="cancelled: the worker stopped")
    return outcome


async def _poll_cancel(client: Any, key: str, cancel: asyncio.Event) -> None:
    while not cancel.is_set():
        try:
            if await client.exists(key):
                cancel.set()
                return
        except Exception:  # Redis blinked: look again next time
            log.warning("could not read the cancel key", exc_info=True)
        await asyncio.sleep(POLL)


def run_worker(
    redis_url: str,
    *,
    processes: int,
    threads: int,
    profiles_dir: Path | str,
    data_dir: Path | str,
    timeout: float,
    namespace: str = DEFAULT_NAMESPACE,
    grace: float = GRACE,
) -> int:
    """Run Dramatiq's worker in the foreground (``processes`` x ``threads`` runs at once) until
    SIGTERM or SIGINT; its exit status. Call it from the main thread."""
    from dramatiq.cli import main, make_argument_parser

    config = WorkerConfig(
        redis_url=redis_url,
        profiles_dir=str(Path(profiles_dir).resolve()),
        data_dir=str(Path(data_dir).resolve()),
        timeout=timeout,
        namespace=namespace,
        grace=grace,
    )
    os.environ[CONFIG_VARIABLE] = json.dumps(dataclasses.asdict(config))
    shutdown_ms = int((3 * grace + 10) * 1000)
    parser = make_argument_parser()  # type: ignore[no-untyped-call]
    args = parser.parse_args(
        [
            f"{__name__}:setup_worker",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
            "--queues",
            QUEUE_NAME,
            "--worker-shutdown-timeout",
            str(shutdown_ms),
        ]
    )
    status: int = main(args)  # type: ignore[no-untyped-call]
    return status
