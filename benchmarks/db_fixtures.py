"""What the database fixtures cost, and how fast a dead database fails.

(a) ``db_session`` overhead per test: N async tests that only request ``db_session``, against
    N async tests that request nothing, in the same pytest run conditions. The difference of
    the wall times divided by N is the per-test cost. Measured with the test event loop in
    session scope (the engine is pooled) and in function scope (a connection per test).
    Goal: <= 4 ms pooled.
(c) 20 database tests against a silent host (a local port that accepts connections and never
    answers) with ``SMOKE_TEST_CONNECT_TIMEOUT=2``: total wall time of the pytest run.
    Goal: <= 4 s (with library defaults it would be about 20 x 60 s).

Needs PostgreSQL on 127.0.0.1:5432 (trust auth) for (a). Run from the repository root::

    .venv/bin/python benchmarks/db_fixtures.py [--tests 200] [--repeat 3]

Each figure is the best of ``--repeat`` runs (the least disturbed by anything else running).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

TESTS = """
import pytest

@pytest.mark.asyncio
@pytest.mark.parametrize("i", range({n}))
async def test_case({fixture}i):
    pass
"""


def run_pytest(directory: Path, *args: str) -> float:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SMOKE_", "PYTEST_"))}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=directory,
        env=environment,
        capture_output=True,
        check=False,
        timeout=600,
    )
    return time.perf_counter() - started


def project(directory: Path, *, loop: str, url: str, fixture: str, n: int, timeout: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
        f"asyncio_default_test_loop_scope = {loop}\n"
    )
    (directory / ".env.bench").write_text(
        f"SMOKE_TEST_DATABASE_URL={url}\nSMOKE_TEST_CONNECT_TIMEOUT={timeout}\n"
    )
    argument = f"{fixture}, " if fixture else ""
    (directory / "test_bench.py").write_text(TESTS.format(n=n, fixture=argument))


def best_of(repeat: int, directory: Path) -> float:
    return min(run_pytest(directory, "--smoke-env", "bench") for _ in range(repeat))


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=200, help="tests per run for (a)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (best is kept)")
    args = parser.parse_args()
    n = args.tests

    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {n} tests, best of {args.repeat}"
    )
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        for loop, label in (
            ("session", "pooled (session loop)"),
            ("function", "unpooled (function loop)"),
        ):
            empty, with_db = root / f"empty-{loop}", root / f"db-{loop}"
            project(empty, loop=loop, url=PG_URL, fixture="", n=n, timeout=5)
            project(with_db, loop=loop, url=PG_URL, fixture="db_session", n=n, timeout=5)
            baseline = best_of(args.repeat, empty)
            measured = best_of(args.repeat, with_db)
            per_test_ms = (measured - baseline) / n * 1000
            goal = (
                "  goal <= 4 ms: " + ("PASS" if per_test_ms <= 4 else "FAIL")
                if (loop == "session")
                else ""
            )
            print(
                f"(a) db_session overhead, {label}: {per_test_ms:.2f} ms/test "
                f"({measured:.2f} s vs {baseline:.2f} s){goal}"
            )

        with silent_listener() as port:
            dead = root / "silent"
            project(
                dead,
                loop="function",
                url=f"postgresql://app@127.0.0.1:{port}/app",
                fixture="db_session",
                n=20,
                timeout=2,
            )
            wall = run_pytest(dead, "--smoke-env", "bench")
        print(
            f"(c) 20 db tests, silent host, 2 s connect timeout: {wall:.2f} s wall  goal <= 4 s: "
            + ("PASS" if wall <= 4 else "FAIL")
        )
    print(
        textwrap.dedent("""
        (a) includes everything db_session does per test: a connection (from the pool, or new),
        BEGIN, the session, and the ROLLBACK at teardown.
    """).strip()
    )


if __name__ == "__main__":
    main()
