"""``smoke-gate serve`` and ``smoke-gate worker`` as commands: settings, refusals, stopping.

Each refusal is one line on stderr naming the setting, exit status 2, before anything listens;
a secret given badly is never echoed. The service stops on SIGTERM with status 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

import pytest

from .conftest import seed
from .test_app import (
    TOKEN,
    assert_valid_report,
    running_service,
    service_environment,
    stop_service,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytest.importorskip("fastapi", reason="the service needs the server extra")

COMMAND: Final = [sys.executable, "-m", "pytest_smoke"]


def smoke_gate(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = service_environment(tmp_path) if env is None else env
    return subprocess.run(
        [*COMMAND, *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_help(tmp_path: Path, command: str) -> None:
    result = smoke_gate(tmp_path, command, "--help")
    assert result.returncode == 0, result.stderr
    assert "SMOKE_SERVER_" in result.stdout
    assert "Exit status" in result.stdout


def test_serve_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    environment = service_environment(tmp_path)
    del environment["SMOKE_SERVER_TOKEN"]
    result = smoke_gate(tmp_path, "serve", env=environment)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "SMOKE_SERVER_TOKEN is not set" in result.stderr
    assert "--token-file" in result.stderr


@pytest.mark.parametrize(
    ("args", "settings", "needle"),
    [
        ((), {"port": "eighty"}, "SMOKE_SERVER_PORT"),
        (("--port", "70000"), {}, "--port"),
        (("--max-concurrent", "0"), {}, "--max-concurrent"),
        ((), {"read_auth": "maybe"}, "SMOKE_SERVER_READ_AUTH"),
        ((), {"run_timeout": "-5"}, "SMOKE_SERVER_RUN_TIMEOUT"),
        (("--profiles-dir", "missing"), {}, "--profiles-dir"),
        (("--token-file", "missing-token"), {}, "--token-file"),
        (("--read-auth", "maybe"), {}, "--read-auth"),
    ],
)
def test_bad_settings_one_line_exit_2(
    tmp_path: Path, args: tuple[str, ...], settings: dict[str, str], needle: str
) -> None:
    result = smoke_gate(tmp_path, "serve", *args, env=service_environment(tmp_path, **settings))
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("python -m pytest_smoke serve: ")
    assert needle in result.stderr
    assert TOKEN not in result.stderr


def test_a_bad_token_is_never_echoed(tmp_path: Path) -> None:
    environment = service_environment(tmp_path, token=" secret-with-blank ")
    result = smoke_gate(tmp_path, "serve", env=environment)
    assert result.returncode == 2
    assert "SMOKE_SERVER_TOKEN" in result.stderr
    assert "secret-with-blank" not in result.stderr


def test_token_file_and_sigterm(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-a-file-7c1e\n")
    environment = service_environment(tmp_path)
    del environment["SMOKE_SERVER_TOKEN"]
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    with running_service(
        tmp_path, profiles, environment=environment, args=("--token-file", str(token_file))
    ) as service:
        with service.client(token="from-a-file-7c1e") as http:
            assert http.get("/runs").status_code == 200
        with service.client() as http:
            assert http.get("/runs").status_code == 401
        assert stop_service(service.process) == 0
    assert all(line["level"] in {"INFO", "WARNING"} for line in service.log_lines())


def test_worker_needs_a_queue_url(tmp_path: Path) -> None:
    result = smoke_gate(tmp_path, "worker")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "--queue-url" in result.stderr


async def _history(url: str, *, days_old: int) -> tuple[list[str], str]:
    """Seeded finished runs ``days_old`` days old, and a run left "running" by a dead service."""
    from pytest_smoke.server.runs import RunRequest
    from pytest_smoke.server.store import RunStore

    store = await RunStore.open(url)
    try:
        old = await seed(store, 5, newest=datetime.now(UTC) - timedelta(days=days_old))
        now = datetime.now(UTC)
        await store.create("left-running", RunRequest("staging"), created_at=now)
        await store.mark_running("left-running", now)
    finally:
        await store.close()
    return old, "left-running"


@pytest.mark.parametrize(("retention_days", "kept"), [("30", 0), ("0", 5)])
def test_at_start_old_runs_go_and_unfinished_ones_are_crashed(
    tmp_path: Path, retention_days: str, kept: int
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    url = f"sqlite+aiosqlite:///{data / 'history.sqlite3'}"
    old, unfinished = asyncio.run(_history(url, days_old=40))
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    args = ("--retention-days", retention_days)
    with (
        running_service(tmp_path, profiles, data_dir=data, args=args) as service,
        service.client() as http,
    ):
        run = http.get(f"/runs/{unfinished}").json()
        assert run["state"] == "crashed"
        assert run["error"] == "the service stopped before the run ended"
        deadline = time.monotonic() + 10  # retention runs in the background, at start
        while time.monotonic() < deadline:
            listed = {run["id"] for run in http.get("/runs", params={"limit": 100}).json()["runs"]}
            if len(listed & set(old)) == kept:
                break
            time.sleep(0.1)
        assert len(listed & set(old)) == kept
        assert unfinished in listed


def test_a_queue_that_does_not_answer_is_503_not_a_dead_service(tmp_path: Path) -> None:
    pytest.importorskip("dramatiq", reason="queue mode needs the worker extra")
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / ".env.x").write_text("GATEWAY_URL=http://127.0.0.1:9\n")
    environment = service_environment(tmp_path, queue_url="redis://127.0.0.1:9/0")
    with (
        running_service(tmp_path, profiles, environment=environment) as service,
        service.client(timeout=60) as http,
    ):
        answer = http.post("/runs", json={"profile": "x"})
        assert answer.status_code == 503, answer.text
        assert "retry later" in answer.json()["detail"]
        health = http.get("/health").json()
        assert (health["status"], health["executor"], health["active_runs"]) == ("ok", "queue", 0)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local TCP server that accepts connections and never answers: a hanging deployment."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.listen(16)
        accepted: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            server.settimeout(0.2)
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    accepted.append(server.accept()[0])

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield server.getsockname()[1]
        finally:
            stop.set()
            thread.join(5)
            for connection in accepted:
                connection.close()


def test_a_hanging_run_is_timed_out_investigate(tmp_path: Path, silent_port: int) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / ".env.hangs").write_text(
        f"GATEWAY_URL=http://127.0.0.1:{silent_port}\nSMOKE_TEST_TIMEOUT=600\n"
    )
    with (
        running_service(tmp_path, profiles, args=("--run-timeout", "3")) as service,
        service.client(timeout=120) as http,
    ):
        answer = http.post("/runs?wait=90", json={"profile": "hangs"})
        assert answer.status_code == 200, answer.text
        run = answer.json()
        assert run["state"] == "timed out"
        assert run["verdict"] == "INVESTIGATE"
        assert run["report"]["reasons"] == ["timed out after 3 s"]
        assert_valid_report(run["report"])
        assert http.get("/health").json()["active_runs"] == 0
        metrics = http.get("/metrics").text
        assert 'smoke_gate_runs_total{profile="hangs",state="timed out"} 1.0' in metrics
        assert 'smoke_gate_verdict{profile="hangs",verdict="INVESTIGATE"} 1.0' in metrics


def test_a_history_that_does_not_open_exit_3_password_masked(tmp_path: Path) -> None:
    url = "postgresql://postgres:Hunter2-planted@127.0.0.1:9/history"
    result = smoke_gate(
        tmp_path, "serve", "--port", "0", env=service_environment(tmp_path, database_url=url)
    )
    assert result.returncode == 3
    assert "postgres:***@127.0.0.1:9" in result.stderr  # the store names it, masked
    assert "Hunter2-planted" not in result.stderr
