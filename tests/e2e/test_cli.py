"""``smoke-gate`` end to end: help, bad usage, runs against the demo, merge, and the wheel alone.

The command is the console script of this environment (``<venv>/bin/smoke-gate``), run in
subprocesses from a directory of the test's own. The runs against the demo start it with the
launcher (``python -m pytest_smoke.demo.launch``) and stop it afterwards. The last test builds the
wheel, installs it with its extras into a fresh virtual environment and runs ``smoke-gate demo``
from an empty directory, as a new user would: slow (about a minute), marked ``slow``.
Needs PostgreSQL and Redis, running or installed (their binaries), for the demo runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_smoke import __version__

from .servers import needs_postgres_and_redis

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]
SMOKE_GATE = Path(sys.executable).parent / "smoke-gate"
LAUNCH = [sys.executable, "-m", "pytest_smoke.demo.launch"]
RUN_FLAGS = (
    "--env NAME",
    "--env-file PATH",
    "--quick",
    "--report [DIR]",
    "--parallel",
    "--verbose",
    "--timeout SECONDS",
    "--read-only",
    "[PATHS]... [-- PYTEST_ARGS]",
)


needs_servers = needs_postgres_and_redis


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any smoke, demo or pytest setting."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SMOKE_", "PYTEST_", "DEMO_", "AZURE_"))
        and key not in {"GATEWAY_URL", "GITHUB_STEP_SUMMARY", "VIRTUAL_ENV", "PYTHONPATH"}
    }
    # The demo's state directory; these runs prove verdicts, not this machine's latency.
    return {**env, "TMPDIR": str(tmp_path), "SMOKE_TEST_SLA_P95_MS": "5000", **extra}


def smoke_gate(
    *args: str, cwd: Path, env: dict[str, str], command: Path = SMOKE_GATE
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(command), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
        check=False,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty directory to run the command from, as a user's project would be."""
    path = tmp_path / "project"
    path.mkdir()
    return path


# --- help and usage ----------------------------------------------------------------------------


def test_help_lists_the_commands_and_version(workdir: Path, tmp_path: Path) -> None:
    env = environment(tmp_path)
    result = smoke_gate("--help", cwd=workdir, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: smoke-gate [OPTIONS] COMMAND [ARGS]...")
    for command in ("run", "demo", "merge", "init"):
        assert f"  {command} " in result.stdout
    version = smoke_gate("--version", cwd=workdir, env=env)
    assert (version.returncode, version.stdout) == (0, f"smoke-gate {__version__}\n")


def test_run_help_lists_every_flag_and_the_exit_statuses(workdir: Path, tmp_path: Path) -> None:
    result = smoke_gate("run", "--help", cwd=workdir, env=environment(tmp_path))
    assert result.returncode == 0, result.stderr
    for text in (*RUN_FLAGS, "10  INVESTIGATE", "11  ROLLBACK", "-h, --help"):
        assert text in result.stdout, text


def test_demo_and_merge_help(workdir: Path, tmp_path: Path) -> None:
    env = environment(tmp_path)
    demo = smoke_gate("demo", "--help", cwd=workdir, env=env)
    assert demo.returncode == 0, demo.stderr
    for text in ("--app [items|articles]", "--fault NAME", "--keep", "--report DIR", "--parallel"):
        assert text in demo.stdout, text
    assert "database-down" in demo.stdout  # the faults are listed
    assert "pip install 'pytest-smoke-gate[demo]'" in demo.stdout
    merge = smoke_gate("merge", "-h", cwd=workdir, env=env)
    assert merge.returncode == 0, merge.stderr
    assert "Usage: smoke-gate merge [OPTIONS] FILES..." in merge.stdout
    assert "-o, --output PATH" in merge.stdout


@pytest.mark.parametrize(
    ("args", "problem", "command"),
    [
        (["run", "--bogus"], "no such option '--bogus'", "smoke-gate run"),
        (["run", "--env"], "option '--env' requires an argument", "smoke-gate run"),
        (
            ["run", "--timeout", "soon"],
            "invalid value for '--timeout': 'soon' is not a number of seconds",
            "smoke-gate run",
        ),
        (
            ["demo", "--fault", "no-such-fault"],
            "invalid value for '--fault': 'no-such-fault' is not a fault of the items app",
            "smoke-gate demo",
        ),
        (
            ["demo", "--app", "articles", "--fault", "events-off"],
            "'events-off' is not a fault of the articles app "
            "(choose from database-down, endpoint-500, auth-broken)",
            "smoke-gate demo",
        ),
        (["demo", "--app", "blog"], "invalid value for '--app'", "smoke-gate demo"),
        (["merge"], "missing argument 'FILES...'", "smoke-gate merge"),
        (["sideways"], "no such command 'sideways'", "smoke-gate"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(
    workdir: Path, tmp_path: Path, args: list[str], problem: str, command: str
) -> None:
    result = smoke_gate(*args, cwd=workdir, env=environment(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"{command}: ")
    assert problem in result.stderr
    assert result.stderr.endswith(f"; see '{command} --help'\n")
    assert list(workdir.iterdir()) == []  # nothing ran, nothing was written


def test_python_m_pytest_smoke_is_the_same_command(workdir: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest_smoke", "run", "--help"],
        capture_output=True,
        text=True,
        cwd=workdir,
        env=environment(tmp_path),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: python -m pytest_smoke run [OPTIONS]")


def test_an_unknown_profile_is_a_usage_error_from_the_plugin(workdir: Path, tmp_path: Path) -> None:
    # .env.NAME is looked up where the command runs, and the plugin says what is there.
    (workdir / ".env.staging").write_text("GATEWAY_URL=http://127.0.0.1:1\n")
    result = smoke_gate("run", "--env", "production", cwd=workdir, env=environment(tmp_path))
    assert result.returncode == 4, result.stdout + result.stderr
    assert (
        f"--smoke-env production: unknown profile, {workdir}/.env.production does not exist "
        f"(profiles in {workdir}: staging)"
    ) in result.stderr


# --- runs against the demo ---------------------------------------------------------------------


@contextlib.contextmanager
def launched(tmp_path: Path, env: dict[str, str], *args: str) -> Iterator[Path]:
    """A demo started by the launcher; yields its env profile, stops it at the end."""
    state = tmp_path / "demo"
    try:
        up = subprocess.run(
            [*LAUNCH, "up", "--state-dir", str(state), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
            check=False,
        )
        assert up.returncode == 0, f"the launcher failed: {up.stderr[-3000:]}"
        yield Path(up.stdout.strip())
    finally:
        subprocess.run(
            [*LAUNCH, "down", "--state-dir", str(state)],
            capture_output=True,
            env=env,
            timeout=120,
            check=False,
        )


@needs_servers
def test_run_against_the_demo_proceeds_and_its_report_merges(workdir: Path, tmp_path: Path) -> None:
    env = environment(tmp_path)
    with launched(tmp_path, env) as profile:
        # A profile named like a user's, in the directory the command runs from.
        shutil.copy(profile, workdir / ".env.staging")
        result = smoke_gate("run", "--env", "staging", "--report", cwd=workdir, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "smoke gate: PROCEED" in result.stdout
    reports = workdir / "reports"
    assert {p.name for p in reports.iterdir()} == {"junit.xml", "smoke.html", "smoke-gate.json"}
    document = json.loads((reports / "smoke-gate.json").read_text())
    assert document["verdict"] == "PROCEED"
    assert document["totals"]["passed"] >= 35
    ids = [test["nodeid"] for test in document["tests"]]
    assert all(nodeid.startswith("pytest_smoke/suite/") for nodeid in ids), ids

    merged = smoke_gate(
        "merge", "reports/smoke-gate.json", "-o", "merged.json", cwd=workdir, env=env
    )
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "smoke gate: PROCEED" in merged.stdout
    assert json.loads((workdir / "merged.json").read_text())["verdict"] == "PROCEED"


@needs_servers
def test_run_against_the_demo_with_its_database_down_rolls_back(
    workdir: Path, tmp_path: Path
) -> None:
    env = environment(tmp_path)
    with launched(tmp_path, env, "--fault", "database-down") as profile:
        result = smoke_gate("run", "--env-file", str(profile), "--quick", cwd=workdir, env=env)
    assert result.returncode == 11, (result.stdout + result.stderr)[-3000:]
    assert "smoke gate: ROLLBACK" in result.stdout
    assert "database unreachable at 127.0.0.1:" in result.stdout
    assert not (workdir / "reports").exists()  # no --report, no reports


# --- from the wheel alone ----------------------------------------------------------------------


@pytest.mark.slow
@needs_servers
def test_the_wheel_alone_runs_the_demo(tmp_path: Path) -> None:
    """issue #11's "done when": a fresh venv with only the built wheel (and its extras from the
    package index), no checkout on the path, run from an empty directory. One venv for all
    three checks: it is the slow part."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("pytest_smoke_gate-*.whl")
    venv = tmp_path / "venv"
    env = environment(tmp_path)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    base = getattr(sys, "_base_executable", None) or sys.executable
    subprocess.run([base, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"{wheel}[all,demo]"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert install.returncode == 0, f"pip could not install the wheel: {install.stderr[-3000:]}"
    empty = tmp_path / "empty"
    empty.mkdir()
    command = venv / "bin" / "smoke-gate"
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import pytest_smoke; print(pytest_smoke.__file__)"],
        capture_output=True,
        text=True,
        cwd=empty,
        env=env,
        timeout=60,
        check=True,
    )
    assert where.stdout.startswith(str(venv)), where.stdout  # the wheel's, not this checkout

    healthy = smoke_gate("demo", cwd=empty, env=env, command=command)
    output = healthy.stdout + healthy.stderr
    assert healthy.returncode == 0, output[-3000:]
    assert "smoke gate: PROCEED" in healthy.stdout
    assert (empty / "reports" / "smoke-gate.json").is_file()
    # No warning in a healthy run, from any library (pytest-asyncio's loop scope included).
    assert "warnings summary" not in healthy.stdout
    assert "Warning" not in healthy.stderr, healthy.stderr

    broken = smoke_gate("demo", "--fault", "database-down", cwd=empty, env=env, command=command)
    output = broken.stdout + broken.stderr
    assert broken.returncode == 11, output[-3000:]
    assert "smoke gate: ROLLBACK" in broken.stdout
    assert "database unreachable at 127.0.0.1:" in broken.stdout

    usage = smoke_gate("run", "--help", cwd=empty, env=env, command=command)
    assert usage.returncode == 0, usage.stderr
    for flag in RUN_FLAGS:
        assert flag in usage.stdout, flag
    # Every demo it started was stopped: no state directory is left in TMPDIR.
    assert list(tmp_path.glob("smoke-demo.*")) == []
