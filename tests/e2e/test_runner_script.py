"""run_smoke_tests.sh end to end: usage, the bundled suite, the gate's exit code, reports."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "run_smoke_tests.sh"


def runner(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SMOKE_", "AZURE_", "PYTEST_")) and key != "GATEWAY_URL"
    }
    # Use this interpreter's environment: it has the project and its extras installed.
    environment["VIRTUAL_ENV"] = sys.prefix
    environment.update(env or {})
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )


def listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


def test_help_lists_every_option_and_the_exit_codes() -> None:
    result = runner("--help")
    assert result.returncode == 0
    for text in (
        "--env NAME",
        "--quick",
        "--report",
        "--parallel",
        "--verbose",
        "--timeout SECONDS",
        "-- ARGS",
        "10  INVESTIGATE",
        "11  ROLLBACK",
    ):
        assert text in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "run_smoke_tests.sh: unknown option: --bogus"),
        (["--env"], "run_smoke_tests.sh: --env needs a profile NAME"),
        (["--timeout", "soon"], "run_smoke_tests.sh: --timeout needs a number of SECONDS"),
    ],
)
def test_bad_usage_exits_2_with_one_line(args: list[str], message: str) -> None:
    result = runner(*args)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0].startswith(message)


def test_an_unknown_profile_is_a_usage_error() -> None:
    result = runner("--env", "no-such-profile")
    assert result.returncode == 4
    assert "ERROR: smoke: --smoke-env no-such-profile: unknown profile" in result.stderr


def test_a_dead_dependency_rolls_back_naming_the_cause(tmp_path: Path) -> None:
    port = closed_port()
    profile = tmp_path / "dead.env"
    profile.write_text(
        f"SMOKE_TEST_DATABASE_URL=postgresql://app:planted-pw-91@127.0.0.1:{port}/app\n"
        f"GATEWAY_URL=http://127.0.0.1:{port}\n"
    )
    reports = tmp_path / "out"
    result = runner(
        "--env-file",
        str(profile),
        "--",
        "--smoke-report-json",
        str(reports / "gate.json"),
        "--junitxml",
        str(reports / "junit.xml"),
        "--tb=long",
        "--showlocals",
    )
    assert result.returncode == 11, result.stdout
    assert "smoke gate: ROLLBACK" in result.stdout
    assert f"database unreachable at 127.0.0.1:{port}: connection refused" in result.stdout
    document = json.loads((reports / "gate.json").read_text())
    assert document["verdict"] == "ROLLBACK"
    assert {c["cause"] for c in document["causes"]} == {
        f"database unreachable at 127.0.0.1:{port}: connection refused",
        f"service unreachable at 127.0.0.1:{port}: connection refused",
    }
    for text in (result.stdout, result.stderr, *(p.read_text() for p in reports.iterdir())):
        assert "planted-pw-91" not in text
