"""What the service (``smoke-gate serve``) costs: reading the history, and wrapping a run.

(a) ``GET /runs`` under load: 10,000 finished runs stored in a SQLite history (in bulk, with
    ``tests/server/conftest.py``'s ``seed``, each with a report of a few kB), the service
    started on it (``smoke-gate serve`` in a child process, token auth on reads), then
    ``--requests`` requests from ``--concurrency`` concurrent clients (default 1,000 from 50):
    the first page (``GET /runs``, 50 runs) and a filtered one
    (``?profile=staging&verdict=ROLLBACK``), in turn. Reports p50/p95/p99 and the maximum per
    request, in ms. Goal: p95 <= 50 ms. Also shown, without a goal: the median of one client
    alone (100 requests), the service time that the concurrent latencies queue behind.

(b) the service's overhead on a run: the healthy demo (``launch.py up``), its profile copied as
    ``.env.staging`` into a profiles directory, then ``--runs`` times each, alternating which
    goes first: ``smoke-gate run --env staging`` in that directory, and ``POST /runs?wait=600``
    ``{"profile": "staging"}`` to the service serving it (the same run in a child pytest, plus
    the queueing, the history and the answer). Reports the median wall time of each and their
    difference. Goal: difference <= 0.5 s. Needs PostgreSQL and Redis (running, or their
    binaries), like the demo.

Prints each figure with PASS or FAIL against its goal; exit status 0 when every goal is met,
1 otherwise. Not a test: run it by hand (``python benchmarks/service.py``), on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import aiohttp
import httpx

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT: Final = Path(__file__).resolve().parents[1]
TESTS: Final = ROOT / "tests"
TOKEN: Final = "benchmark-token-0123456789abcdef"
HEADERS: Final = {"Authorization": f"Bearer {TOKEN}"}
P95_GOAL_MS: Final = 50.0
OVERHEAD_GOAL_S: Final = 0.5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(environment: dict[str, str], cwd: Path, log: Path) -> Iterator[str]:
    """The service in a child process until the block ends; its base URL."""
    port = free_port()
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest_smoke", "serve", "--port", str(port)],
            cwd=cwd,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"the service stopped: {log.read_text()[-2000:]}")
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise SystemExit("the service did not answer /health in 60 s")
                time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def service_environment(base: dict[str, str], profiles: Path, data: Path) -> dict[str, str]:
    return {
        **base,
        "SMOKE_SERVER_TOKEN": TOKEN,
        "SMOKE_SERVER_PROFILES_DIR": str(profiles),
        "SMOKE_SERVER_DATA_DIR": str(data),
        "SMOKE_SERVER_LOG_LEVEL": "WARNING",
    }


def verdict(name: str, value: float, goal: float, unit: str) -> bool:
    met = value <= goal
    print(f"{name}: {value:.{1 if unit == 'ms' else 3}f} {unit} (goal <= {goal:g} {unit}) "
          f"{'PASS' if met else 'FAIL'}")  # fmt: skip
    return met


# -- (a) GET /runs with 10,000 stored runs -----------------------------------------------------


def seed_history(url: str, n: int) -> None:
    sys.path.insert(0, str(TESTS))
    from pytest_smoke.server.store import RunStore
    from server.conftest import seed  # tests/server/conftest.py

    async def fill() -> None:
        store = await RunStore.open(url)
        try:
            await seed(store, n)
        finally:
            await store.close()

    asyncio.run(fill())


async def hammer(base: str, requests: int, concurrency: int) -> list[float]:
    """``requests`` GETs of the run list from ``concurrency`` clients; each one's seconds.

    The clients are aiohttp's: httpx's costs about 1.3 ms of CPU a request here, and 50 of
    them would queue on the same two cores as the service, measuring the client.
    """
    paths = ["/runs", "/runs?profile=staging&verdict=ROLLBACK"]
    latencies: list[float] = []
    queue: asyncio.Queue[str] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(paths[i % len(paths)])
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        base, headers=HEADERS, connector=connector, timeout=timeout
    ) as client:

        async def get(path: str) -> None:
            async with client.get(path) as answer:
                body = await answer.read()
                if answer.status != 200:
                    raise SystemExit(f"GET {path}: {answer.status} {body[:200]!r}")

        async def worker() -> None:
            while True:
                try:
                    path = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                start = time.perf_counter()
                await get(path)
                latencies.append(time.perf_counter() - start)

        for path in paths:  # warm up: the first request of each kind opens what it needs
            await get(path)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def list_latency(work: Path, stored: int, requests: int, concurrency: int) -> bool:
    data = work / "list-data"
    profiles = work / "list-profiles"
    data.mkdir()
    profiles.mkdir()
    (profiles / ".env.staging").write_text("GATEWAY_URL=http://127.0.0.1:9\n")
    url = f"sqlite+aiosqlite:///{data / 'runs.db'}"
    started = time.perf_counter()
    seed_history(url, stored)
    print(f"(a) {stored} runs stored in {time.perf_counter() - started:.1f} s")
    environment = service_environment(dict(os.environ), profiles, data)
    environment["SMOKE_SERVER_DATABASE_URL"] = url
    with serving(environment, profiles, work / "list-service.log") as base:
        total = httpx.get(f"{base}/runs?limit=1", headers=HEADERS, timeout=30).json()["total"]
        assert total == stored, total
        # informational: one client alone, so the concurrent figures can be read as queueing
        alone = asyncio.run(hammer(base, min(requests, 100), 1))
        print(f"(a) one client alone: p50 {statistics.median(alone) * 1000:.1f} ms per request")
        started = time.perf_counter()
        latencies = asyncio.run(hammer(base, requests, concurrency))
        wall = time.perf_counter() - started
    ms = sorted(latency * 1000 for latency in latencies)
    cut = statistics.quantiles(ms, n=100)
    print(f"(a) {len(ms)} GET /runs from {concurrency} clients in {wall:.1f} s "
          f"({len(ms) / wall:.0f}/s): p50 {cut[49]:.1f} ms, p95 {cut[94]:.1f} ms, "
          f"p99 {cut[98]:.1f} ms, max {ms[-1]:.1f} ms")  # fmt: skip
    return verdict("(a) GET /runs p95", cut[94], P95_GOAL_MS, "ms")


# -- (b) POST /runs?wait= vs smoke-gate run ------------------------------------------------------


def run_overhead(work: Path, runs: int) -> bool:
    sys.path.insert(0, str(TESTS))
    from e2e.test_demo_run import base_environment, started_demo

    environment = base_environment(work)
    with started_demo(work, environment) as demo:
        profiles = work / "profiles"
        profiles.mkdir()
        shutil.copy(demo.profile, profiles / ".env.staging")
        data = work / "data"
        data.mkdir()
        cli = [sys.executable, "-m", "pytest_smoke", "run", "--env", "staging"]
        served = service_environment(environment, profiles, data)
        timings: dict[str, list[float]] = {"smoke-gate run": [], "POST /runs?wait=": []}
        with serving(served, profiles, work / "run-service.log") as base:

            def by_cli() -> Any:
                done = subprocess.run(cli, cwd=profiles, env=environment, capture_output=True,
                                      text=True, timeout=600, check=False)  # fmt: skip
                return done.returncode

            def by_service() -> Any:
                answer = httpx.post(f"{base}/runs?wait=600", json={"profile": "staging"},
                                    headers=HEADERS, timeout=620)  # fmt: skip
                return answer.json().get("verdict"), answer.status_code

            order = [("smoke-gate run", by_cli), ("POST /runs?wait=", by_service)]
            for i in range(runs):
                for name, call in order if i % 2 == 0 else order[::-1]:
                    start = time.perf_counter()
                    outcome = call()
                    timings[name].append(time.perf_counter() - start)
                    print(f"(b) {name}: {timings[name][-1]:.2f} s ({outcome})")
    medians = {name: statistics.median(values) for name, values in timings.items()}
    print("(b) medians: " + ", ".join(f"{n} {m:.2f} s" for n, m in medians.items()))
    overhead = medians["POST /runs?wait="] - medians["smoke-gate run"]
    return verdict("(b) the service's overhead on a run", overhead, OVERHEAD_GOAL_S, "s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stored", type=int, default=10_000, help="runs in the history")
    parser.add_argument("--requests", type=int, default=1_000, help="GET /runs requests")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent clients")
    parser.add_argument("--runs", type=int, default=3, help="runs of each kind in (b)")
    parser.add_argument("--skip-list", action="store_true", help="leave (a) out")
    parser.add_argument("--skip-overhead", action="store_true", help="leave (b) out")
    options = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="smoke-service-bench-") as directory:
        work = Path(directory)
        if not options.skip_list:
            results.append(list_latency(work, options.stored, options.requests,
                                        options.concurrency))  # fmt: skip
        if not options.skip_overhead:
            overhead_dir = work / "overhead"
            overhead_dir.mkdir()
            results.append(run_overhead(overhead_dir, options.runs))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
