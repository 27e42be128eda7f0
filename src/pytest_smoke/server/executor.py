"""Running runs on this machine: one ``python -m pytest`` child process per run.

:func:`execute` is the one implementation of a run, used by :class:`LocalExecutor` here and by
the Dramatiq worker (:mod:`.queue`): it starts ``smoke-gate run``'s pytest command
(:func:`pytest_smoke.cli.pytest_command`) for the request's profile, in the profiles directory,
with ``-m`` for the request's markers and categories and ``--smoke-report-json
<data_dir>/runs/<id>/smoke-gate.json``; pytest's output goes to ``output.log`` beside it. The
child gets the service's environment and a session of its own (``start_new_session``), so the
whole process tree can be stopped: SIGINT to the group first (pytest tears its fixtures down:
what the run created in the deployment is removed, as when ``smoke-gate run`` is stopped), then
SIGTERM, then SIGKILL, a grace period apart. Whatever is left in the group when the run ends is
killed too: a run never leaves a process behind.

How a run ends (:class:`~.runs.RunOutcome`):

- pytest wrote its report: ``done``, the report as the document, pytest's exit status;
- the timeout passed: ``timed out``, killed, an INVESTIGATE document ("timed out after N s");
- cancelled: ``cancelled``, killed, no document;
- pytest ended without a report (crashed, killed, exit status 3/4 on bad settings): ``crashed``,
  an INVESTIGATE document ("run crashed: <the last line pytest printed>").

The documents of the last two are built by the gate's own code (:func:`pytest_smoke.gate.decide`,
:func:`pytest_smoke.reports.json_report.report_document`), so they are valid reports. Error
lines are masked with the profile's secrets.

:class:`LocalExecutor` runs at most ``max_concurrent`` at once; the rest wait, ``queued``.
State changes reach the service two ways, both optional: the :class:`RunHandle` (``started``, an
:class:`asyncio.Event` set when the run leaves the queue; ``await wait()`` for the outcome), and
the callbacks given to the executor, ``on_started(run_id)`` and ``on_finished(run_id,
outcome)`` (coroutine functions, awaited in the run's task; an exception in them is logged and
does not change the run).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pytest_smoke.server.runs import RunOutcome, RunRequest, RunState

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from pytest_smoke.gate import Policy
    from pytest_smoke.masking import Masker

log = logging.getLogger("pytest_smoke.server.executor")

#: Seconds between the stop signals (SIGINT, SIGTERM, SIGKILL) sent to a run's process group.
GRACE: Final = 5.0
#: The report a run writes, and its output, in ``<data_dir>/runs/<id>/``.
REPORT_NAME: Final = "smoke-gate.json"
OUTPUT_NAME: Final = "output.log"
#: Environment variables of the service that its runs do not get (they are the service's own).
PRIVATE_ENVIRONMENT: Final = ("SMOKE_WORKER_CONFIG",)
#: Longest error line kept.
MAX_ERROR: Final = 300


def run_directory(data_dir: Path, run_id: str) -> Path:
    """Where run ``run_id`` writes its report and output."""
    return data_dir / "runs" / run_id


def remove_run_directories(data_dir: Path, older_than: float) -> int:
    """Remove the run directories last written before ``older_than`` (a ``time.time()``), as
    the history's retention deletes their runs; how many."""
    removed = 0
    for directory in (data_dir / "runs").glob("*"):
        try:
            if directory.is_dir() and directory.stat().st_mtime < older_than:
                shutil.rmtree(directory)
                removed += 1
        except OSError:  # gone already, or not ours to remove: the next sweep tries again
            continue
    return removed


def run_command(request: RunRequest, *, profiles_dir: Path, report: Path) -> list[str]:
    """The pytest command line of ``request``: ``smoke-gate run``'s, plus -m and the report."""
    from pytest_smoke.cli import RunOptions, pytest_command

    options = RunOptions(env=request.profile, quick=request.quick, read_only=request.read_only)
    argv = pytest_command(options, cwd=profiles_dir)
    # runs may go at the same time in one directory: none writes pytest's cache there
    argv += ["-p", "no:cacheprovider"]
    expression = request.marker_expression()
    if expression:
        argv += ["-m", expression]
    return [*argv, "--smoke-report-json", str(report)]


async def execute(
    run_id: str,
    request: RunRequest,
    *,
    profiles_dir: Path,
    data_dir: Path,
    timeout: float,
    cancel: asyncio.Event,
    grace: float = GRACE,
    on_spawn: Callable[[int], None] | None = None,
) -> RunOutcome:
    """Run ``request`` as run ``run_id`` to its end; how it ended.

    ``cancel``: set it to stop the run (-> CANCELLED); ``on_spawn(pid)``: called once pytest
    started (its pid is its process group's id).
    """
    directory = run_directory(data_dir, run_id)
    directory.mkdir(parents=True, exist_ok=True)
    report = directory / REPORT_NAME
    report.unlink(missing_ok=True)
    argv = run_command(request, profiles_dir=profiles_dir, report=report)
    environment = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENVIRONMENT}
    started_at = datetime.now(UTC)
    began = time.monotonic()
    with (directory / OUTPUT_NAME).open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=profiles_dir,
            env=environment,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    if on_spawn is not None:
        on_spawn(process.pid)
    ended = asyncio.ensure_future(process.wait())
    stopped = asyncio.ensure_future(cancel.wait())
    how = "timed out"
    try:
        done, _ = await asyncio.wait(
            {ended, stopped}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        how = "ended" if ended in done else "cancelled" if stopped in done else how
        if how != "ended":
            await stop_process_group(process, grace)
    finally:
        stopped.cancel()
        if not ended.done():  # this task was cancelled itself: stop the run all the same
            await asyncio.shield(stop_process_group(process, grace))
        kill_group(process.pid)  # what pytest left running in its group
    status = process.returncode
    assert status is not None
    status = 128 - status if status < 0 else status
    duration = time.monotonic() - began

    if how == "cancelled":
        return RunOutcome(RunState.CANCELLED, status, None, "cancelled")
    context = _RunContext(request, profiles_dir, started_at, duration, status)
    if how == "timed out":
        reason = f"timed out after {timeout:g} s"
        document = await asyncio.to_thread(context.document, reason)
        return RunOutcome(RunState.TIMED_OUT, document["exit_code"], document, reason)
    written = await asyncio.to_thread(_read_report, report)
    if written is not None:
        return RunOutcome(RunState.DONE, status, written)
    return await asyncio.to_thread(_crashed, context, directory / OUTPUT_NAME)


def _crashed(context: _RunContext, output: Path) -> RunOutcome:
    """The outcome of a run whose pytest ended without a report."""
    reason = f"run crashed: {_crash_line(output, context.pytest_status, context.masker)}"
    return RunOutcome(RunState.CRASHED, context.pytest_status, context.document(reason), reason)


async def stop_process_group(process: asyncio.subprocess.Process, grace: float) -> None:
    """Stop ``process`` and its group: SIGINT, SIGTERM, SIGKILL, ``grace`` seconds apart."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        _signal_group(process.pid, sig)
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), grace)
            return
        except TimeoutError:
            continue
    kill_group(process.pid)
    await process.wait()


def kill_group(pgid: int) -> None:
    """SIGKILL every process left in group ``pgid`` (none left: nothing happens)."""
    _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _read_report(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) and "verdict" in document else None


def _crash_line(output: Path, status: int, masker: Masker) -> str:
    """One line on why pytest ended without a report: its exit status and its last line."""
    if status > 128:
        try:
            how = f"pytest was killed by {signal.Signals(status - 128).name}"
        except ValueError:
            how = f"pytest exited with status {status}"
    else:
        how = f"pytest exited with status {status} without a report"
    try:
        lines = output.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    last = next((line.strip() for line in reversed(lines) if line.strip()), "")
    text = f"{how}: {last}" if last else how
    text = masker.scrub(" ".join(text.split()))
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 3] + "..."


@dataclass
class _RunContext:
    """What a document the service writes for a run (timed out, crashed) needs."""

    request: RunRequest
    profiles_dir: Path
    started_at: datetime
    duration: float
    pytest_status: int
    _loaded: tuple[Policy, Masker] | None = field(default=None, repr=False)

    @property
    def masker(self) -> Masker:
        return self._load()[1]

    def document(self, reason: str) -> dict[str, Any]:
        """An INVESTIGATE report whose one reason is ``reason``, valid against the schema."""
        from pytest_smoke import __version__
        from pytest_smoke.gate import RunSummary, Verdict, decide
        from pytest_smoke.reports.json_report import report_document

        policy, masker = self._load()
        reason = masker.scrub(reason)
        run = RunSummary(interrupted=reason)
        decision = replace(
            decide(run, policy), verdict=Verdict.INVESTIGATE, reasons=(reason,), notes=()
        )
        finished = datetime.now(UTC)
        return report_document(
            decision,
            run,
            policy,
            gate_enabled=True,
            pytest_exit_status=self.pytest_status,
            profile=self.request.profile,
            started_at=self.started_at.isoformat(),
            finished_at=finished.isoformat(),
            duration_seconds=self.duration,
            ungated=0,
            tool_version=__version__,
        )

    def _load(self) -> tuple[Policy, Masker]:
        if self._loaded is None:
            self._loaded = profile_policy_and_masker(self.profiles_dir, self.request.profile)
        return self._loaded


def profile_policy_and_masker(profiles_dir: Path, profile: str) -> tuple[Policy, Masker]:
    """The profile's gate policy (the default one if its settings do not load) and a masker
    that knows its secrets and the service's."""
    from dotenv import dotenv_values

    from pytest_smoke._state import register_setting_secrets
    from pytest_smoke.gate import Policy
    from pytest_smoke.masking import Masker
    from pytest_smoke.setting_specs import SPECS
    from pytest_smoke.settings import SettingsError, load_settings

    masker = Masker()
    policy = Policy()
    try:
        settings = load_settings(
            cli={"profile": profile}, environ=os.environ, ini={}, rootdir=profiles_dir
        )
    except (SettingsError, ValueError, OSError):
        pass
    else:
        register_setting_secrets(masker, settings)
        policy = settings.policy
    # the raw values too: settings that did not load still have secrets to hide
    raw: Mapping[str, str | None]
    try:
        raw = dotenv_values(profiles_dir / f".env.{profile}")
    except (OSError, ValueError):
        raw = {}
    values = {**raw, **os.environ}
    for spec in SPECS:
        if spec.secret and spec.env:
            masker.add(values.get(spec.env))
    for name, value in values.items():
        masker.add_url(value)
        if any(word in name.upper() for word in ("TOKEN", "PASSWORD", "SECRET")):
            masker.add(value)
    return policy, masker


# --- the local executor --------------------------------------------------------------------------


@dataclass(eq=False)
class _Run:
    """One submitted run, shared by every handle on it."""

    run_id: str
    request: RunRequest
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    outcome: asyncio.Future[RunOutcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    pid: int | None = None
    task: asyncio.Task[None] | None = None


class RunBook:
    """The runs an executor has queued or running, by id and by request: a request identical
    to one of them joins it. Shared by :class:`LocalExecutor` and the queue's executor."""

    def __init__(self) -> None:
        self.closed = False
        self._runs: dict[str, _Run] = {}
        self._by_key: dict[tuple[Any, ...], _Run] = {}

    def ids(self) -> list[str]:
        return list(self._runs)

    def runs(self) -> list[_Run]:
        return list(self._runs.values())

    def get(self, run_id: str) -> _Run | None:
        return self._runs.get(run_id)

    def enter(self, run_id: str, request: RunRequest) -> tuple[_Run, bool]:
        """The run for ``request``: the identical one already here (joined: True), or a new
        one as ``run_id``. Raises RuntimeError once closed, ValueError for a known id."""
        if self.closed:
            raise RuntimeError("the executor was shut down")
        existing = self._by_key.get(request.key())
        if existing is not None:
            return existing, True
        if run_id in self._runs:
            raise ValueError(f"run {run_id} was already submitted")
        run = _Run(run_id, request)
        self._runs[run_id] = run
        self._by_key[request.key()] = run
        return run, False

    def forget(self, run: _Run) -> None:
        """``run`` ended (or never went out): later identical requests start a new one."""
        self._runs.pop(run.run_id, None)
        if self._by_key.get(run.request.key()) is run:
            del self._by_key[run.request.key()]


@dataclass(frozen=True, eq=False)
class RunHandle:
    """A submitted run, as its submitter sees it; ``joined``: an identical run was already
    queued or running, and this is that run."""

    _run: _Run
    joined: bool = False

    @property
    def run_id(self) -> str:
        return self._run.run_id

    @property
    def started(self) -> asyncio.Event:
        """Set when the run left the queue (its pytest is starting)."""
        return self._run.started

    @property
    def pid(self) -> int | None:
        """The run's pytest process (its process group's id), once started."""
        return self._run.pid

    @property
    def done(self) -> bool:
        return self._run.outcome.done()

    async def wait(self) -> RunOutcome:
        """The outcome, when the run has ended (cancelling the wait leaves the run going)."""
        return await asyncio.shield(self._run.outcome)


class LocalExecutor:
    """Runs on this machine, ``max_concurrent`` at once, each stopped after ``timeout`` s.

    A request identical (:meth:`RunRequest.key`) to one queued or running joins it.
    """

    def __init__(
        self,
        profiles_dir: Path,
        data_dir: Path,
        *,
        max_concurrent: int,
        timeout: float,
        grace: float = GRACE,
        on_started: Callable[[str], Awaitable[None]] | None = None,
        on_finished: Callable[[str, RunOutcome], Awaitable[None]] | None = None,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.profiles_dir = Path(profiles_dir)
        self.data_dir = Path(data_dir)
        self.max_concurrent = max_concurrent
        self.timeout = timeout
        self.grace = grace
        self.on_started = on_started
        self.on_finished = on_finished
        self._slots: asyncio.Semaphore | None = None
        self._book = RunBook()

    @property
    def active(self) -> list[str]:
        """Ids of the runs queued or running."""
        return self._book.ids()

    async def submit(self, run_id: str, request: RunRequest) -> RunHandle:
        """Queue ``request`` as run ``run_id``, or join the identical run queued or running."""
        run, joined = self._book.enter(run_id, request)
        if joined:
            return RunHandle(run, joined=True)
        run.task = asyncio.create_task(self._drive(run), name=f"smoke-run-{run_id}")
        return RunHandle(run)

    async def cancel(self, run_id: str) -> bool:
        """Stop run ``run_id`` (-> CANCELLED); False when it is not queued or running here."""
        run = self._book.get(run_id)
        if run is None:
            return False
        run.cancel.set()
        return True

    async def shutdown(self) -> None:
        """Stop every run and wait for them to end; no run is accepted afterwards."""
        self._book.closed = True
        runs = self._book.runs()
        for run in runs:
            run.cancel.set()
        tasks = [run.task for run in runs if run.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=3 * self.grace + 10)

    async def _drive(self, run: _Run) -> None:
        try:
            outcome = await self._run(run)
        except asyncio.CancelledError:
            outcome = RunOutcome(RunState.CANCELLED, None, None, "cancelled")
            raise
        except Exception as error:  # a run that cannot start is lost, not the executor
            log.exception("run failed to start", extra={"run_id": run.run_id})
            outcome = RunOutcome(
                RunState.CRASHED, None, None, f"run crashed: {type(error).__name__}"
            )
        finally:
            self._book.forget(run)
            if not run.outcome.done():
                run.outcome.set_result(outcome)
        if self.on_finished is not None:
            await self._call(self.on_finished(run.run_id, outcome), run.run_id)

    async def _run(self, run: _Run) -> RunOutcome:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_concurrent)
        slots = self._slots
        acquire = asyncio.ensure_future(slots.acquire())
        stop = asyncio.ensure_future(run.cancel.wait())
        try:
            await asyncio.wait({acquire, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not acquire.done():
                acquire.cancel()
        if not acquire.done() or acquire.cancelled():
            return RunOutcome(RunState.CANCELLED, None, None, "cancelled while queued")
        try:
            if run.cancel.is_set():
                return RunOutcome(RunState.CANCELLED, None, None, "cancelled while queued")
            run.started.set()
            if self.on_started is not None:
                await self._call(self.on_started(run.run_id), run.run_id)
            return await execute(
                run.run_id,
                run.request,
                profiles_dir=self.profiles_dir,
                data_dir=self.data_dir,
                timeout=self.timeout,
                cancel=run.cancel,
                grace=self.grace,
                on_spawn=lambda pid: setattr(run, "pid", pid),
            )
        finally:
            slots.release()

    @staticmethod
    async def _call(callback: Awaitable[None], run_id: str) -> None:
        try:
            await callback
        except Exception:
            log.exception("a run callback failed", extra={"run_id": run_id})
