"""How fast the bundled suite checks an endpoint list (``[[endpoints]]``), fetched concurrently.

A local server (aiohttp, in a thread of this process, a listen backlog of 1024) answers every
request after 100 ms. A checks file lists 200 endpoints on it (``/e/0`` .. ``/e/199``), and the
bundled endpoint checks run against it: ``python -m pytest --pyargs
pytest_smoke.suite.test_endpoints --smoke-gate`` in a child process, 200 test ids, the gate on.
Two concurrencies (``endpoint_defaults.concurrency``), ``--runs`` runs each, medians reported:

- the fetch: from the server receiving the first request to it sending the last answer. The
  physical limit is ``ceil(200 / concurrency) * 100 ms``: 0.4 s at 50, 0.1 s at 200.
  Goal: within 1.5x of it (0.6 s and 0.15 s).
- the whole pytest process, start-up, collection, the 200 tests and the gate's report
  included: shown, no goal.
- the most requests the server held at once, to show the bound was reached and not exceeded.

Run it from the repository root with the project's virtualenv::

    .venv/bin/python benchmarks/endpoint_checks.py            # 5 runs per concurrency
    .venv/bin/python benchmarks/endpoint_checks.py --runs 10

It is a measurement, not a test: it prints PASS or FAIL per goal and exits 0 either way
(non-zero only if it cannot run, e.g. a run does not pass all 200 checks).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aiohttp import web

ENDPOINTS: Final = 200
DELAY: Final = 0.1
CONCURRENCIES: Final = (50, 200)
GOAL_RATIO: Final = 1.5
OK: Final = 0


@dataclass
class Window:
    """What the server saw of one run: first request, last answer, most in flight at once."""

    first: float | None = None
    last: float | None = None
    now: int = 0
    most: int = 0
    served: int = 0


class SlowServer:
    """Answers every GET after :data:`DELAY` seconds, in a thread with its own event loop."""

    def __init__(self) -> None:
        self.window = Window()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> SlowServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> Window:
        """The window of the run that just ended; a fresh one for the next."""
        window, self.window = self.window, Window()
        return window

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        window = self.window
        window.first = window.first or time.perf_counter()
        window.now += 1
        window.most = max(window.most, window.now)
        await asyncio.sleep(DELAY)
        window.now -= 1
        window.served += 1
        window.last = time.perf_counter()
        return web.json_response({"ok": True})

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/e/{number}", self._answer)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        self._loop.run_until_complete(site.start())
        self.port = runner.addresses[0][1]
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())


def checks_file(directory: Path, concurrency: int) -> Path:
    path = directory / f"endpoints-{concurrency}.toml"
    lines = [f"[endpoint_defaults]\nconcurrency = {concurrency}\ntimeout_seconds = 30\n"]
    lines += [f'[[endpoints]]\nname = "e{i}"\npath = "/e/{i}"\n' for i in range(ENDPOINTS)]
    path.write_text("".join(lines))
    return path


def run_pytest(url: str, checks: Path, workdir: Path) -> tuple[float, int, str]:
    """One gated run of the endpoint checks; its wall time, exit status and last lines."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SMOKE_", "PYTEST_", "AZURE_")) and key != "GATEWAY_URL"
    }
    environment.update({"GATEWAY_URL": url, "SMOKE_TEST_CHECKS_FILE": str(checks)})
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "pytest_smoke.suite.test_endpoints",
            "--smoke-gate",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=workdir,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    return time.perf_counter() - started, result.returncode, result.stdout[-2000:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per concurrency (default 5)")
    args = parser.parse_args()
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs; {ENDPOINTS} endpoints "
        f"answering after {DELAY * 1000:.0f} ms; {args.runs} runs per concurrency"
    )
    rows: list[tuple[str, str, str, str]] = []
    with SlowServer() as server, tempfile.TemporaryDirectory() as temporary:
        workdir = Path(temporary)
        for concurrency in CONCURRENCIES:
            checks = checks_file(workdir, concurrency)
            fetches, processes, most = [], [], 0
            for _ in range(args.runs + 1):  # the first run warms the .pyc caches: not counted
                seconds, status, tail = run_pytest(server.url, checks, workdir)
                window = server.reset()
                if status != OK or window.served != ENDPOINTS:
                    print(f"run failed (exit {status}, {window.served} served):\n{tail}")
                    return 1
                assert window.first is not None
                assert window.last is not None
                fetches.append(window.last - window.first)
                processes.append(seconds)
                most = max(most, window.most)
            fetches, processes = fetches[1:], processes[1:]
            limit = math.ceil(ENDPOINTS / concurrency) * DELAY
            fetch = statistics.median(fetches)
            goal = GOAL_RATIO * limit
            rows.append(
                (
                    f"fetch, concurrency {concurrency}",
                    f"{fetch:.3f} s ({fetch / limit:.2f}x the limit {limit:.1f} s; "
                    f"min {min(fetches):.3f}, max {max(fetches):.3f})",
                    f"<= {goal:.2f} s",
                    "PASS" if fetch <= goal else "FAIL",
                )
            )
            rows.append(
                (
                    f"pytest process, concurrency {concurrency}",
                    f"{statistics.median(processes):.2f} s "
                    f"(min {min(processes):.2f}, max {max(processes):.2f})",
                    "-",
                    "",
                )
            )
            rows.append((f"most in flight, concurrency {concurrency}", str(most), "-", ""))
    width = max(len(row[0]) for row in rows)
    for measure, value, goal, verdict in rows:
        print(f"{measure:<{width}}  {value:<58} {goal:<10} {verdict}")
    print(
        "fetch: the server's first request to its last answer (median); pytest process: the "
        "whole `pytest --pyargs pytest_smoke.suite.test_endpoints --smoke-gate`, start-up "
        "included."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
