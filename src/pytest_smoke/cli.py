"""``smoke-gate``: the command line of pytest-smoke-gate.

- ``smoke-gate run [PATHS]... [-- PYTEST_ARGS]``: the bundled suite (plus the user's own smoke
  tests) with the gate on, against the deployment an env profile describes.
- ``smoke-gate demo``: starts a packaged demo deployment, runs the suite against it, stops it.
- ``smoke-gate merge FILES... -o OUT``: one verdict from the JSON reports of a split run.
- ``smoke-gate init --openapi URL-or-FILE -o OUT``: a checks file drafted from the deployment's
  OpenAPI document.
- ``smoke-gate serve``: the gate as an HTTP service (runs on demand, gates, history, metrics).
- ``smoke-gate worker``: a worker of the service's queue mode (Dramatiq over Redis).

This module only translates flags: :func:`pytest_command` builds a pytest command line, the
plugin does the rest (settings, the gate, reports) exactly as in a plain pytest run, and the exit
status is pytest's, which the gate sets (0 PROCEED or MONITOR, 10 INVESTIGATE, 11 ROLLBACK).
``run_smoke_tests.sh`` and ``python -m pytest_smoke`` call :func:`main` too: one implementation.

Bad usage is one line on stderr naming the problem and the command's ``--help``, exit status 2.
A flag whose extra is not installed (``--parallel``, ``--timeout``, the demo) is one line naming
the extra, exit status 4 (pytest's own status for an option it does not know).

click is imported here only; the plugin never imports this module.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click

from pytest_smoke import __version__
from pytest_smoke.demo import APPS, faults_of

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType

PROG: Final = "smoke-gate"
#: Bad usage of the command (click's UsageError): one line, never a run.
EXIT_USAGE: Final = 2
#: A flag needs an extra that is not installed: pytest's USAGE_ERROR, as pytest itself exits
#: for an option no installed plugin adds (``-n`` without pytest-xdist).
EXIT_MISSING_EXTRA: Final = 4
#: The demo could not be started (the launcher said why, in one line).
EXIT_DEMO_FAILED: Final = 1

SUITE: Final = "pytest_smoke.suite"
DEFAULT_REPORTS: Final = "reports"
LAUNCHER: Final = "pytest_smoke.demo.launch"

#: Modules of the ``demo`` extra (and of the extras it pulls in) that a demo run needs.
_DEMO_MODULES: Final = (
    "fastapi",
    "uvicorn",
    "prometheus_client",
    "jwt",
    "trustme",
    "python_multipart",
    "sqlalchemy",
    "asyncpg",
    "redis",
    "httpx",
    "tenacity",
    "pytest_asyncio",
    "aiohttp",
    "azure.identity",
    "azure.keyvault.secrets",
    "azure.monitor.querymetrics",
    "azure.monitor.query",
    "openapi_core",  # the examples' contract checks ([openapi])
)

_EXIT_STATUS_HELP: Final = """\b
Exit status:
  0   PROCEED or MONITOR: keep the deployment
  10  INVESTIGATE: the run cannot be trusted (nothing ran, collection
      errors, flaky, crash)
  11  ROLLBACK: a critical or database test failed, a dependency is
      down, or too many failed
  2   bad usage;  4 a bad setting or a missing extra;  1, 3 pytest
      could not run (3 also when the gate crashed)"""

_RUN_HELP: Final = f"""Run the bundled smoke suite against a deployment, with the gate on.

The deployment is described by an env profile: --env NAME reads .env.NAME from the current
directory (see .env.staging.example), --env-file reads PATH. PATHS are your own smoke tests,
run with the bundled suite; arguments after -- go to pytest unchanged.

\b
Examples:
  smoke-gate run --env staging --report
  smoke-gate run --env production --read-only --quick
  smoke-gate run --env staging tests/smoke -- -k health

{_EXIT_STATUS_HELP}"""


def _wrapped(words: Sequence[str], indent: int) -> str:
    margin = " " * indent
    text = ", ".join(words)
    return textwrap.fill(
        text, 78, initial_indent=margin, subsequent_indent=margin, break_on_hyphens=False
    ).lstrip()


_DEMO_HELP: Final = f"""Start a demo deployment, run the bundled suite against it, stop it.

PostgreSQL (and Redis for the items app) are the local ones when they answer (or
SMOKE_DEMO_POSTGRES_URL / SMOKE_DEMO_REDIS_URL), else throwaway servers started from their
installed binaries. --fault starts the demo broken on purpose, to see the gate roll back.
Reports always go to --report DIR. Needs the demo extra: pip install 'pytest-smoke-gate[demo]'.

\b
Faults:
  items:    {_wrapped(faults_of("items"), 12)}
  articles: {_wrapped(faults_of("articles"), 12)}

{_EXIT_STATUS_HELP}"""

_MERGE_HELP: Final = """Merge the JSON reports of a split run into one verdict.

FILES are the shards' --smoke-report-json reports. They must not share a test and must have the
same gate policy and profile. The verdict block is printed as a run prints it; -o writes the
merged report (the same JSON schema). The Markdown summary is appended to $GITHUB_STEP_SUMMARY
when that is set, as a run does.

\b
Exit status:
  0 PROCEED or MONITOR, 10 INVESTIGATE, 11 ROLLBACK (the gate's);
  4 a missing, unreadable or invalid report, or shards that do not
    belong together; 3 the merge itself failed (never 0); 2 bad usage"""


_INIT_HELP: Final = """Draft a checks file from the deployment's OpenAPI document.

--openapi is the document's URL or a local file (JSON or YAML, OpenAPI 3.0 or 3.1). The draft holds
what the document tells: health-like paths and list endpoints ([service], [[endpoints]]), the
auth from its securitySchemes and its login ([auth]), a CRUD resource with its create body,
update, listing and pagination ([crud]), an id no one has ([errors]), and the document itself
for the contract checks ([openapi]). Every guess carries a '# guessed' comment: check those
lines. The draft is validated as a run would load it before it is written.

\b
Examples:
  smoke-gate init --openapi https://staging.example.com/openapi.json -o smoke-checks.toml
  smoke-gate init --openapi openapi.yaml > smoke-checks.toml

\b
Exit status:
  0 written;  1 the document cannot be read, or is not valid OpenAPI 3;
  2 bad usage, or OUTPUT exists (give --force);  4 the openapi extra is missing"""

#: ``init`` could not read the document (or drafted something that does not load).
EXIT_INIT_FAILED: Final = 1


class CommandError(click.ClickException):
    """A command cannot go on: one line naming the command, and the class's exit status."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        ctx = click.get_current_context(silent=True)
        #: ``smoke-gate run``: the command the message is about.
        self.command = ctx.command_path if ctx is not None else PROG


class MissingExtra(CommandError):
    """A flag or command needs an optional dependency that is not installed."""

    exit_code = EXIT_MISSING_EXTRA


@dataclass(frozen=True)
class RunOptions:
    """What ``run`` (and ``demo``) was asked for, flag by flag."""

    env: str | None = None
    env_file: str | None = None
    quick: bool = False
    report: str | None = None
    parallel: bool = False
    verbose: bool = False
    timeout: float | None = None
    read_only: bool = False
    paths: tuple[str, ...] = ()
    pytest_args: tuple[str, ...] = ()


def report_paths(directory: Path) -> dict[str, Path]:
    """The reports a run with ``--report DIR`` writes, by kind."""
    return {
        "junit": directory / "junit.xml",
        "html": directory / "smoke.html",
        "json": directory / "smoke-gate.json",
    }


def installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (a parent package is)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def pytest_command(
    options: RunOptions, *, cwd: Path, python: str = sys.executable, html: bool | None = None
) -> list[str]:
    """The pytest command line of a run; ``html``: whether pytest-html is there (else looked up).

    Raises :class:`MissingExtra` for ``--parallel`` without pytest-xdist and ``--timeout``
    without pytest-timeout.
    """
    # The suite goes by package name (--pyargs), never by its path in site-packages: pytest looks
    # for the ini file from the paths it is given, and must find the user's (their markers and
    # asyncio settings for their own tests), from where they run the command. With --pyargs,
    # pytest first tries every argument as a module name, importing its parent package: a
    # relative ``test_mine.py`` would import the user's module ``test_mine`` before collection
    # (without assertion rewriting). Absolute paths never name a module.
    paths = [path if os.path.isabs(path) else os.path.join(cwd, path) for path in options.paths]
    argv = [python, "-m", "pytest", "--pyargs", SUITE, *paths]
    # The rootdir is where the user runs the command: .env.NAME is read from there, and test
    # ids and the cache are relative to it, whatever ini file pytest finds above it.
    argv += ["--rootdir", str(cwd), "--smoke-gate", "-ra"]
    # A library's deprecation warning must never turn a smoke check into a failure, whatever
    # the project's own warning filters say (a later -W wins over the ini's filterwarnings).
    argv += ["-W", "default"]
    if options.env:
        argv += ["--smoke-env", options.env]
    if options.env_file:
        argv += ["--smoke-env-file", os.path.join(cwd, options.env_file)]
    if options.report is not None:
        reports = report_paths(Path(cwd, options.report))
        argv += ["--junitxml", str(reports["junit"])]
        if html is None:
            html = installed("pytest_html")
        if html:
            argv += ["--html", str(reports["html"]), "--self-contained-html"]
        argv += ["--smoke-report-json", str(reports["json"])]
    if options.parallel:
        if not installed("xdist"):
            raise MissingExtra(
                "--parallel needs pytest-xdist: pip install 'pytest-smoke-gate[parallel]'"
            )
        argv += ["-n", "auto"]
    if options.verbose:
        argv += ["-v"]
    if options.timeout is not None:
        if not installed("pytest_timeout"):
            raise MissingExtra(
                "--timeout needs pytest-timeout: pip install 'pytest-smoke-gate[timeout]'"
            )
        argv += ["--timeout", f"{options.timeout:g}"]
    if options.quick:
        argv += ["--smoke-quick"]
    if options.read_only:
        argv += ["--smoke-read-only"]
    return [*argv, *options.pytest_args]


class _Supervisor:
    """Runs one child process at a time and relays signals to it, so that cleanup always runs.

    Ctrl-C in a terminal reaches the whole foreground process group, the child included: this
    process only notes it and waits for the child (pytest tears its fixtures down, the launcher
    stops what it started). SIGTERM and SIGHUP (a CI job cancelled, ``kill``) reach this process
    alone: the child gets a SIGINT, the signal it cleans up on.
    """

    _RELAYED: Final = (signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.signalled: int | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Supervisor:
        self._previous[signal.SIGINT] = signal.signal(signal.SIGINT, self._note)
        for sig in self._RELAYED:
            self._previous[sig] = signal.signal(sig, self._relay)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _note(self, signum: int, _frame: FrameType | None) -> None:
        self.signalled = signum

    def _relay(self, signum: int, _frame: FrameType | None) -> None:
        self.signalled = signum
        if self._child is not None and self._child.poll() is None:
            self._child.send_signal(signal.SIGINT)

    def call(self, argv: Sequence[str], *, relay: bool = True, **popen: Any) -> int:
        """Run ``argv`` to its end; its exit status, 128 + N when signal N killed it.

        ``relay=False``: signals are noted, not passed on (stopping the demo must finish).
        """
        child = subprocess.Popen(argv, **popen)
        self._child = child if relay else None
        try:
            status = child.wait()
        finally:
            self._child = None
        return 128 - status if status < 0 else status

    def exit_status(self, status: int) -> int:
        """``status``, or 128 + N when signal N asked this command to stop."""
        return 128 + self.signalled if self.signalled is not None else status


def _run_suite(supervisor: _Supervisor, options: RunOptions, cwd: Path) -> int:
    argv = pytest_command(options, cwd=cwd)
    if options.report is not None:
        Path(cwd, options.report).mkdir(parents=True, exist_ok=True)
    # pytest runs in a child process, not in this one: a fresh interpreter, as in a CI job that
    # calls pytest (plugins, assertion rewriting and the suite's imports start clean, and a crash
    # or an os._exit in a test cannot skip the demo's shutdown), the way the service (#7) will
    # drive runs too. The cost is one interpreter start, ~50 ms, against a run of seconds.
    return supervisor.exit_status(supervisor.call(argv, cwd=cwd))


def run_pytest(options: RunOptions, cwd: Path) -> int:
    """Run the suite as ``run`` does; pytest's (the gate's) exit status."""
    with _Supervisor() as supervisor:
        return _run_suite(supervisor, options, cwd)


def _missing_demo_modules() -> list[str]:
    missing = [module for module in _DEMO_MODULES if not installed(module)]
    if "python_multipart" in missing and installed("multipart"):  # python-multipart < 0.0.13
        missing.remove("python_multipart")
    return missing


def run_demo(options: RunOptions, *, app: str, fault: str | None, keep: bool, cwd: Path) -> int:
    """Start the demo, run the suite against it with reports, stop it (unless ``keep``)."""
    missing = _missing_demo_modules()
    if missing:
        raise MissingExtra(
            f"the demo needs the demo extra (missing: {', '.join(missing)}): "
            "pip install 'pytest-smoke-gate[demo]'"
        )
    launcher = [sys.executable, "-m", LAUNCHER]
    state = Path(tempfile.mkdtemp(prefix="smoke-demo."))
    profile = state / ".env.demo"
    stop_hint = f"{' '.join(launcher)} down --state-dir {state} && rmdir {state}"
    with _Supervisor() as supervisor:
        try:
            # The launcher prints the profile's path on stdout: we gave it, so it is not shown.
            up = [*launcher, "up", "--state-dir", str(state), "--app", app]
            up += ["--profile-out", str(profile), *(["--fault", fault] if fault else [])]
            up += ["--stopped-by-caller"]  # how to stop it is ours to say (--keep), not its
            started = supervisor.call(up, stdout=subprocess.DEVNULL)
            if started != 0 or supervisor.signalled is not None:
                return supervisor.exit_status(EXIT_DEMO_FAILED)
            if keep:
                _say(
                    "demo",
                    f"--keep: the demo keeps running after the run; stop it with: {stop_hint}",
                )
            return _run_suite(supervisor, replace(options, env=None, env_file=str(profile)), cwd)
        finally:
            if not keep or supervisor.signalled is not None:
                _stop_demo(supervisor, launcher, state, stop_hint)


def _stop_demo(supervisor: _Supervisor, launcher: list[str], state: Path, hint: str) -> None:
    if not (state / "state.json").exists():  # up failed and cleaned up after itself
        shutil.rmtree(state, ignore_errors=True)
        return
    # Its own session, signals not relayed: a second Ctrl-C must not cut the shutdown short.
    down = [*launcher, "down", "--state-dir", str(state)]
    stopped = supervisor.call(down, relay=False, start_new_session=True)
    if stopped == 0:
        shutil.rmtree(state, ignore_errors=True)
    else:
        _say("demo", f"the demo was not stopped completely; to retry: {hint}")


def _say(command: str, message: str) -> None:
    click.echo(f"{PROG} {command}: {message}", err=True)


# --- the click commands ------------------------------------------------------------------------


class _Seconds(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2 on
    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, float):
            return value
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if not seconds >= 0:  # also NaN
            self.fail(f"{value!r} is not a number of seconds, e.g. 120", param, ctx)
        return seconds


class _Command(click.Command):
    """A command whose usage errors always know the command (click's parser leaves some
    without, and the one-line message names the command)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            error.ctx = error.ctx or ctx
            raise


class _WithPytestArgs(_Command):
    """A command whose arguments after the first ``--`` go to pytest unchanged."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            args, ctx.meta["pytest_args"] = args[:cut], tuple(args[cut + 1 :])
        return super().parse_args(ctx, args)


def _run_options(function: Any) -> Any:
    """The flags ``run`` and ``demo`` share, in the order ``--help`` lists them."""
    for decorator in reversed(
        [
            click.option("--quick", is_flag=True, help="Run only the tests marked critical."),
            click.option(
                "--read-only",
                is_flag=True,
                help="Read-only profile (production): checks that write are not run, the HTTP "
                "client refuses POST/PUT/PATCH/DELETE, database sessions are READ ONLY.",
            ),
            click.option(
                "--parallel",
                is_flag=True,
                help="Run the tests in parallel (pytest-xdist, -n auto).",
            ),
            click.option("--verbose", "-v", is_flag=True, help="List each test as it runs."),
            click.option(
                "--timeout",
                type=_Seconds(),
                metavar="SECONDS",
                help="Fail any single test that runs longer (pytest-timeout).",
            ),
        ]
    ):
        function = decorator(function)
    return function


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    help="Post-deployment smoke tests with a rollback gate: PROCEED, MONITOR, INVESTIGATE or "
    "ROLLBACK, as an exit status your pipeline acts on.",
)
@click.version_option(__version__, "--version", message="%(prog)s %(version)s")
def cli() -> None:
    pass


@cli.command(
    cls=_WithPytestArgs,
    help=_RUN_HELP,
    short_help="Run the smoke suite against a deployment.",
)
@click.argument("paths", nargs=-1, metavar="[PATHS]... [-- PYTEST_ARGS]")
@click.option(
    "--env",
    metavar="NAME",
    help="Load the env profile .env.NAME from the current directory.",
)
@click.option(
    "--env-file",
    metavar="PATH",
    help="Load the env profile from PATH instead.",
)
@click.option(
    "--report",
    is_flag=False,
    flag_value=DEFAULT_REPORTS,
    default=None,
    metavar="[DIR]",
    help="Write DIR/junit.xml, DIR/smoke.html (with pytest-html) and DIR/smoke-gate.json; "
    f"DIR defaults to {DEFAULT_REPORTS}. Give --report=DIR, or put it after PATHS.",
)
@_run_options
@click.pass_context
def run(ctx: click.Context, /, paths: tuple[str, ...], **flags: Any) -> int:
    options = RunOptions(paths=paths, pytest_args=ctx.meta.get("pytest_args", ()), **flags)
    return run_pytest(options, Path.cwd())


@cli.command(
    cls=_WithPytestArgs,
    help=_DEMO_HELP,
    short_help="Run the smoke suite against the bundled demo deployment.",
    options_metavar="[OPTIONS] [-- PYTEST_ARGS]",
)
@click.option(
    "--app",
    type=click.Choice(APPS),
    default="items",
    show_default=True,
    help="Which demo: items (HTTPS, PostgreSQL, Redis, Azure stand-in) or articles "
    "(a RealWorld-style API, PostgreSQL only).",
)
@click.option("--fault", metavar="NAME", help="Start the demo with this fault (see below).")
@click.option(
    "--keep",
    is_flag=True,
    help="Leave the demo running after the run, and say how to stop it.",
)
@click.option(
    "--report",
    metavar="DIR",
    default=DEFAULT_REPORTS,
    show_default=True,
    help="Where to write junit.xml, smoke.html (with pytest-html) and smoke-gate.json.",
)
@_run_options
@click.pass_context
def demo(ctx: click.Context, /, app: str, fault: str | None, keep: bool, **flags: Any) -> int:
    if fault is not None and fault not in faults_of(app):
        raise click.BadParameter(
            f"{fault!r} is not a fault of the {app} app (choose from {', '.join(faults_of(app))})",
            ctx=ctx,
            param_hint="'--fault'",
        )
    options = RunOptions(pytest_args=ctx.meta.get("pytest_args", ()), **flags)
    return run_demo(options, app=app, fault=fault, keep=keep, cwd=Path.cwd())


@cli.command(cls=_Command, help=_MERGE_HELP, short_help="Merge the JSON reports of a split run.")
@click.argument("files", nargs=-1, required=True, metavar="FILES...")
@click.option("-o", "--output", metavar="PATH", help="Write the merged JSON report to PATH.")
@click.option(
    "--github-step-summary/--no-github-step-summary",
    default=None,
    help="Append the Markdown summary to $GITHUB_STEP_SUMMARY (default: when that is set).",
)
def merge(files: tuple[str, ...], output: str | None, github_step_summary: bool | None) -> int:
    from pytest_smoke.merge import run as merge_reports

    return merge_reports(list(files), output=output, github_step_summary=github_step_summary)


class InitFailed(CommandError):
    """``init`` cannot draft: the document is unreadable or invalid (one line, exit 1)."""

    exit_code = EXIT_INIT_FAILED


@cli.command(
    cls=_Command,
    help=_INIT_HELP,
    short_help="Draft a checks file from the deployment's OpenAPI document.",
)
@click.option(
    "--openapi",
    "source",
    required=True,
    metavar="URL-OR-FILE",
    help="The OpenAPI document: an http(s) URL or a local file.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the checks file here (default: standard output).",
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option(
    "--ca-bundle",
    type=click.Path(exists=True, dir_okay=False),
    envvar="SMOKE_TEST_CA_BUNDLE",
    show_envvar=True,
    help="Trust only these CA certificates (PEM) when fetching an https document.",
)
@click.option(
    "--timeout",
    type=_Seconds(),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="How long fetching the document may take.",
)
@click.pass_context
def init(
    ctx: click.Context,
    /,
    *,
    source: str,
    output: Path | None,
    force: bool,
    ca_bundle: str | None,
    timeout: float,
) -> int:
    missing = [
        m
        for m in ("openapi_core", "openapi_spec_validator", "tomlkit", "httpx")
        if not installed(m)
    ]
    if missing:
        raise MissingExtra(
            f"init needs the openapi extra (missing: {', '.join(missing)}): "
            "pip install 'pytest-smoke-gate[openapi]'"
        )
    if output is not None and output.exists() and not force:
        raise click.UsageError(f"{output} exists; give --force to overwrite it", ctx=ctx)
    if not timeout > 0:
        raise click.BadParameter("must be above 0 seconds", ctx=ctx, param_hint="'--timeout'")
    from pytest_smoke.checks import ChecksError
    from pytest_smoke.clients.http import build_ssl_context
    from pytest_smoke.openapi import draft as drafting
    from pytest_smoke.openapi.document import DocumentError, locate_given, read_document

    try:
        verify = build_ssl_context(ca_bundle) if ca_bundle else None
        document = read_document(locate_given(source), timeout=timeout, verify=verify)
    except DocumentError as error:
        raise InitFailed(str(error)) from None
    except (OSError, ValueError) as error:  # an unusable CA bundle
        raise InitFailed(f"--ca-bundle {ca_bundle}: {error}") from None
    draft = drafting.draft_checks(document, output=output)
    try:
        drafting.checked(draft, output)
    except ChecksError as error:
        raise InitFailed(
            f"the draft does not load, a bug in init (please report it): {error}"
        ) from None
    if output is None:
        click.echo(draft.text, nl=False)
    else:
        try:
            drafting.save(draft, output)
        except OSError as error:
            raise InitFailed(f"cannot write {output}: {error.strerror or error}") from None
    where = f"wrote {output}" if output is not None else "drafted"
    click.echo(
        f"{ctx.command_path}: {where} from {document.location.shown}: {draft.summary}; "
        f"{draft.guesses} line(s) marked '# guessed' to check",
        err=True,
    )
    return 0


# --- the service (the server and worker extras, imported inside the commands) ------------------

_SERVE_HELP: Final = """Serve the smoke gate over HTTP: runs on demand, gates, history, metrics.

Runs use the env profiles .env.NAME of --profiles-dir. Every request that starts or cancels a
run needs 'Authorization: Bearer TOKEN' (SMOKE_SERVER_TOKEN, or --token-file); reads need it
too unless --read-auth open; GET /health never does. Each option also reads SMOKE_SERVER_<NAME>
(e.g. SMOKE_SERVER_PORT); the option wins. Logs are JSON lines on stderr.

\b
Endpoints:
  POST /runs[?wait=S]  GET /runs  GET|DELETE /runs/ID  GET /profiles
  POST /run-all  POST /test/db|apis|secrets|metrics  POST /flagger/PROFILE
  GET /metrics  GET /health  (the OpenAPI document: /openapi.json)

\b
Examples:
  SMOKE_SERVER_TOKEN=$(cat token) smoke-gate serve --profiles-dir deploy/
  smoke-gate serve --token-file /run/secrets/token --host 0.0.0.0
  smoke-gate serve --token-file token --queue-url redis://redis:6379/0

\b
Exit status:
  0 stopped (SIGTERM or Ctrl-C);  3 could not start (the log says why);
  2 a bad or missing setting;  4 the server extra is missing"""

_WORKER_HELP: Final = """Run the service's queued runs: a Dramatiq worker over Redis.

Start the service with SMOKE_SERVER_QUEUE_URL (or --queue-url) set to the same Redis and
it hands its runs to the workers instead of running them itself. A worker runs each run as the
service would, a pytest subprocess in --profiles-dir (which must hold the same profiles).
Runs until SIGTERM or Ctrl-C.

\b
Exit status:
  0 stopped;  2 bad usage;  4 the worker extra is missing"""

#: Modules of the ``server`` extra ``serve`` needs.
_SERVER_MODULES: Final = (
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "aiosqlite",
    "alembic",
    "prometheus_client",
    "pythonjsonlogger",
    "pydantic_settings",
)
#: A service that could not start, e.g. its history database does not answer (the log says
#: why): uvicorn's own status for a failed startup.
EXIT_SERVE_FAILED: Final = 3


class ServeRefused(CommandError):
    """``serve`` or ``worker`` cannot start with these settings: one line, exit 2."""

    exit_code = EXIT_USAGE


def _require_modules(command: str, extra: str, modules: Sequence[str]) -> None:
    missing = [module for module in modules if not installed(module)]
    if missing:
        raise MissingExtra(
            f"{command} needs the {extra} extra (missing: {', '.join(missing)}): "
            f"pip install 'pytest-smoke-gate[{extra}]'"
        )


def _read_token_file(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise ServeRefused(f"--token-file {path}: cannot read it ({reason})") from None
    if not token:
        raise ServeRefused(f"--token-file {path}: the file is empty")
    return token


@cli.command(cls=_Command, help=_SERVE_HELP, short_help="Serve the smoke gate over HTTP.")
@click.option("--host", metavar="ADDRESS", help="Listen on this address [127.0.0.1].")
@click.option(
    "--port", type=int, metavar="PORT", help="Listen on this port; 0: any free one [8080]."
)
@click.option(
    "--profiles-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the .env.NAME profiles are; runs start there [the current directory].",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The SQLite history and the runs' reports [./.smoke-gate].",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the bearer token from this file (instead of SMOKE_SERVER_TOKEN).",
)
@click.option(
    "--read-auth",
    type=click.Choice(["token", "open"]),
    help="Whether reading runs, profiles and metrics needs the token [token].",
)
@click.option("--max-concurrent", type=int, metavar="N", help="Runs at once; the rest queue [2].")
@click.option("--run-timeout", type=_Seconds(), metavar="SECONDS", help="Kill a run after [900].")
@click.option(
    "--max-wait", type=_Seconds(), metavar="SECONDS", help="Longest synchronous answer [900]."
)
@click.option(
    "--retention-days", type=int, metavar="DAYS", help="Keep runs this long; 0: ever [30]."
)
@click.option(
    "--queue-url",
    metavar="REDIS-URL",
    help="Hand runs to 'smoke-gate worker' processes through this Redis (the worker extra).",
)
@click.option(
    "--queue-namespace",
    metavar="PREFIX",
    help="Prefix of the queue's Redis keys; the workers' must be the same [smoke-gate].",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="[INFO]",
)
def serve(token_file: Path | None, **given: Any) -> int:
    _require_modules("serve", "server", _SERVER_MODULES)
    if token_file is not None:
        given["token"] = _read_token_file(token_file)
    if (given.get("queue_url") or os.environ.get("SMOKE_SERVER_QUEUE_URL")) and not installed(
        "dramatiq"
    ):
        _require_modules("serve --queue-url", "worker", ("dramatiq", "redis"))
    from pytest_smoke.server.settings import ServerSettingsError, load_server_settings

    try:
        labels = {
            name: f"--{name.replace('_', '-')}"
            for name, value in given.items()
            if value is not None
        }
        labels["token"] = "--token-file" if token_file is not None else "SMOKE_SERVER_TOKEN"
        settings = load_server_settings(given, labels=labels)
    except ServerSettingsError as error:
        raise ServeRefused(str(error)) from None
    # Runs get the service's environment: not its own secrets, read once above.
    for variable in ("TOKEN", "DATABASE_URL", "QUEUE_URL"):
        os.environ.pop(f"SMOKE_SERVER_{variable}", None)

    import uvicorn

    from pytest_smoke.server import logs
    from pytest_smoke.server.app import create_app

    logs.configure(settings.log_level)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,  # logs.configure's JSON lines
        lifespan="on",
        server_header=False,
    )
    server = uvicorn.Server(config)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again for the
    # handler it found: ours notes it, so a stop that was asked for is exit status 0.
    stops = (signal.SIGTERM, signal.SIGINT)
    previous = {signum: signal.signal(signum, lambda *_: None) for signum in stops}
    try:
        server.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0 if server.started else EXIT_SERVE_FAILED


@cli.command(cls=_Command, help=_WORKER_HELP, short_help="Run queued runs (Dramatiq over Redis).")
@click.option(
    "--queue-url",
    envvar="SMOKE_SERVER_QUEUE_URL",
    show_envvar=True,
    required=True,
    metavar="REDIS-URL",
    help="The Redis the service queues its runs in.",
)
@click.option(
    "--profiles-dir",
    envvar="SMOKE_SERVER_PROFILES_DIR",
    show_envvar=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("."),
    help="Where the .env.NAME profiles are; runs start there [the current directory].",
)
@click.option(
    "--data-dir",
    envvar="SMOKE_SERVER_DATA_DIR",
    show_envvar=True,
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".smoke-gate"),
    show_default=True,
    help="Where the runs' reports are written.",
)
@click.option(
    "--run-timeout",
    envvar="SMOKE_SERVER_RUN_TIMEOUT",
    show_envvar=True,
    type=_Seconds(),
    default=900.0,
    show_default=True,
    metavar="SECONDS",
    help="Kill a run after this long.",
)
@click.option(
    "--queue-namespace",
    envvar="SMOKE_SERVER_QUEUE_NAMESPACE",
    show_envvar=True,
    default="smoke-gate",
    show_default=True,
    metavar="PREFIX",
    help="Prefix of the queue's Redis keys, as the service's.",
)
@click.option(
    "--processes", type=click.IntRange(1, 64), default=1, show_default=True, help="Processes."
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Threads per process: runs at once in each.",
)
def worker(
    *,
    queue_url: str,
    queue_namespace: str,
    profiles_dir: Path,
    data_dir: Path,
    run_timeout: float,
    processes: int,
    threads: int,
) -> int:
    _require_modules("worker", "worker", (*_SERVER_MODULES, "dramatiq", "redis"))
    if not run_timeout > 0:
        raise click.BadParameter("must be above 0 seconds", param_hint="'--run-timeout'")
    from pytest_smoke.server import logs
    from pytest_smoke.server.queue import run_worker

    logs.configure("INFO")
    return run_worker(
        queue_url,
        processes=processes,
        threads=threads,
        profiles_dir=profiles_dir.resolve(),
        data_dir=data_dir.resolve(),
        timeout=run_timeout,
        namespace=queue_namespace,
    )


_WATCH_HELP = """Ask a running 'smoke-gate serve' to watch a deployment: a run of PROFILE
every --every minutes for --for hours (POST /deployments), recorded with VERSION. Call it at the
end of a deployment pipeline; a new watch of the profile replaces its earlier one.

\b
The token comes from SMOKE_SERVER_TOKEN (never from the command line).

\b
Example:
  smoke-gate watch --service https://smoke-gate.internal --profile staging \\
    --version "$GIT_SHA" --every 5 --for 2

\b
Exit status:
  0 the watch started;  1 the service refused it or did not answer (one line says why);
  2 bad usage;  4 the http extra is missing"""


class WatchRefused(CommandError):
    """``watch``: the service did not start the watch (one line, exit 1)."""

    exit_code = 1


@cli.command(cls=_Command, help=_WATCH_HELP, short_help="Ask the service to watch a deployment.")
@click.option("--service", required=True, metavar="URL", help="The service's URL.")
@click.option("--profile", required=True, metavar="NAME", help="The profile to run.")
@click.option(
    "--version", "deployed", required=True, metavar="VERSION", help="The version deployed."
)
@click.option(
    "--every",
    type=click.FloatRange(min=1, max=1440),
    default=5.0,
    show_default=True,
    metavar="MINUTES",
    help="Minutes between runs.",
)
@click.option(
    "--for",
    "for_hours",
    type=click.FloatRange(min=0, min_open=True, max=168),
    default=2.0,
    show_default=True,
    metavar="HOURS",
    help="Hours the watch lasts.",
)
@click.option("--quick", is_flag=True, help="Each run: only the tests marked critical.")
def watch(
    *, service: str, profile: str, deployed: str, every: float, for_hours: float, quick: bool
) -> int:
    _require_modules("watch", "http", ("httpx",))
    from pytest_smoke.server.watch_cli import WatchFailed, start_watch, summary, token_from

    try:
        answer = start_watch(
            service,
            profile=profile,
            version=deployed,
            token=token_from(os.environ),
            every_minutes=every,
            for_hours=for_hours,
            quick=quick,
        )
    except WatchFailed as error:
        raise WatchRefused(str(error)) from None
    click.echo(summary(answer))
    return 0


def _usage_line(error: click.UsageError, prog_name: str) -> str:
    """click's usage error as one line: ``smoke-gate run: problem; see 'smoke-gate run --help'``.

    click's message is one or two sentences ("No such option '--bogus'. Did you mean
    '--verbose'?"): the first is the problem, a second goes in parentheses.
    """
    command = error.ctx.command_path if error.ctx is not None else prog_name
    text = " ".join(error.format_message().split())
    first, *more = re.split(r"\.\s+(?=[A-Z])", text, maxsplit=1)
    rest = more[0] if more else ""
    message = first[:1].lower() + first[1:].rstrip(".")
    if rest:
        message += f" ({rest[:1].lower()}{rest[1:].rstrip('.')})"
    return f"{command}: {message}; see '{command} --help'"


def main(argv: Sequence[str] | None = None, prog_name: str = PROG) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        # Not standalone: click would print usage errors over several lines, and exit.
        status = cli.main(args, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as error:  # no command: the help, as click does
        click.echo(error.format_message(), err=True)
        return EXIT_USAGE
    except click.UsageError as error:
        click.echo(_usage_line(error, prog_name), err=True)
        return EXIT_USAGE
    except click.ClickException as error:
        command = getattr(error, "command", prog_name)  # a CommandError knows its command
        click.echo(f"{command}: {error.format_message()}", err=True)
        return error.exit_code
    except click.exceptions.Abort:
        return 130
    return status if isinstance(status, int) else 0


if __name__ == "__main__":
    sys.exit(main())
