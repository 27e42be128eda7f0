"""Can the load burst keep a constant arrival rate? 500 requests/s for 5 s, on this machine.

The load burst (``[load]`` with ``rate``) promises that request ``i`` leaves at ``t0 + i/rate``
and that its latency counts from then. That only holds if the generator itself keeps the
schedule. This script measures it with the burst's own code (``run_burst``, the burst's httpx
client and send function), as the bundled ``test_load_burst`` runs it:

- a fast local endpoint: an aiohttp server answering ``GET /`` with a small JSON body at once,
  in a child process of its own (on a thread of this process it would share the interpreter
  lock with the generator and slow it down), on ``127.0.0.1`` port 0;
- a warm-up burst (0.5 s), then ``--runs`` bursts at ``--rate`` for ``--duration`` seconds.

Per run: the requests, the achieved rate (requests sent per second, first send to last), the
schedule lag (how late each request left against its due time: p50, p99, max), the latency
from the due time (p50, p99), errors, and the CPU time the generator used. Goals, on the median
of the runs: achieved rate within 2% of the target, schedule lag p99 under 5 ms.

The server and the generator are pinned to different CPUs when there are two or more (the last
one for the server, the first for the generator; ``--no-pin`` to leave them be). On a machine
other work is using, the lag shows it: treat a FAIL there as a reason to measure again on a
quiet one.

Run it from the repository root with the project's virtualenv::

    .venv/bin/python benchmarks/load_generator.py                  # 3 runs, 500/s for 5 s
    .venv/bin/python benchmarks/load_generator.py --runs 5 --json load.json

It is a measurement, not a test: it prints PASS or FAIL per goal and exits 0 either way
(non-zero only if it cannot run, e.g. the server does not start or a request fails).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Final

RATE: Final = 500.0
DURATION: Final = 5.0
RATE_TOLERANCE: Final = 0.02
LAG_P99_GOAL_MS: Final = 5.0
WARM_UP_SECONDS: Final = 0.5


@dataclass(frozen=True)
class Run:
    """One measured burst."""

    requests: int
    errors: int
    achieved_rate: float
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    latency_p50_ms: float
    latency_p99_ms: float
    elapsed_seconds: float
    cpu_seconds: float


def serve() -> None:
    """The child: an aiohttp server on 127.0.0.1 port 0; prints its port, serves until killed."""
    from aiohttp import web

    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/", answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def start_server(cpu: int | None) -> tuple[subprocess.Popen[str], int]:
    """The server child and its port."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdout=subprocess.PIPE,
        text=True,
    )
    if cpu is not None:
        os.sched_setaffinity(child.pid, {cpu})
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line.strip().isdigit():
        child.kill()
        raise SystemExit(f"load_generator: the server did not start (it said {line!r})")
    return child, int(line)


async def burst(url: str, rate: float, duration: float) -> Run:
    from pytest_smoke.load.client import burst_client, http_send
    from pytest_smoke.load.runner import run_burst
    from pytest_smoke.load.spec import LoadSpec, Target

    spec = LoadSpec(
        targets=(Target("GET", "/"),), duration_seconds=duration, rate=rate, timeout_seconds=5
    )
    async with burst_client(url, timeout=5, connect_timeout=2) as client:
        before = resource.getrusage(resource.RUSAGE_SELF)
        result = await run_burst(spec, http_send(client))
        after = resource.getrusage(resource.RUSAGE_SELF)
    if result.latency is None or result.lag is None or result.achieved_rate is None:
        raise SystemExit("load_generator: the burst measured nothing")
    return Run(
        requests=result.requests,
        errors=result.errors,
        achieved_rate=result.achieved_rate,
        lag_p50_ms=result.lag.p50_ms,
        lag_p99_ms=result.lag.p99_ms,
        lag_max_ms=result.lag.max_ms,
        latency_p50_ms=result.latency.p50_ms,
        latency_p99_ms=result.latency.p99_ms,
        elapsed_seconds=result.elapsed_seconds,
        cpu_seconds=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
    )


async def measure(url: str, rate: float, duration: float, runs: int) -> list[Run]:
    await burst(url, rate, WARM_UP_SECONDS)  # connections opened, code paths warm
    return [await burst(url, rate, duration) for _ in range(runs)]


def pins(no_pin: bool) -> tuple[int | None, int | None, str]:
    """CPUs for the generator and the server, and a line saying so."""
    available = sorted(os.sched_getaffinity(0))
    if no_pin or len(available) < 2:
        return None, None, f"not pinned ({len(available)} CPU(s) available)"
    return (
        available[0],
        available[-1],
        (f"generator on CPU {available[0]}, server on CPU {available[-1]} of {len(available)}"),
    )


def row(run: str, r: Run) -> str:
    return (
        f"{run:<7} {r.requests:>8} {r.errors:>6} {r.achieved_rate:>9.2f} "
        f"{r.lag_p50_ms:>7.2f} {r.lag_p99_ms:>7.2f} {r.lag_max_ms:>8.2f} "
        f"{r.latency_p50_ms:>7.2f} {r.latency_p99_ms:>7.2f} {r.cpu_seconds:>6.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=RATE, help="requests per second (500)")
    parser.add_argument("--duration", type=float, default=DURATION, help="seconds (5)")
    parser.add_argument("--runs", type=int, default=3, help="measured bursts (3)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to CPUs")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve()
        return 0
    if args.runs < 1 or args.rate <= 0 or args.duration <= 0:
        parser.error("--runs, --rate and --duration must be above 0")

    client_cpu, server_cpu, pinned = pins(args.no_pin)
    server, port = start_server(server_cpu)
    try:
        if client_cpu is not None:
            os.sched_setaffinity(0, {client_cpu})
        runs = asyncio.run(measure(f"http://127.0.0.1:{port}", args.rate, args.duration, args.runs))
    finally:
        server.kill()
        server.wait()
    if any(run.errors for run in runs):
        raise SystemExit(f"load_generator: requests failed: {[run.errors for run in runs]}")

    median_rate = statistics.median(run.achieved_rate for run in runs)
    median_lag = statistics.median(run.lag_p99_ms for run in runs)
    rate_ok = abs(median_rate - args.rate) <= RATE_TOLERANCE * args.rate
    lag_ok = median_lag < LAG_P99_GOAL_MS
    print("pytest-smoke-gate load generator: constant arrival rate")
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}, "
        f"{sys.platform}), httpx {version('httpx')}, os.cpu_count() = {os.cpu_count()}, "
        f"{args.rate:g} requests/s for {args.duration:g} s, {args.runs} runs, {pinned}"
    )
    print()
    print("run     requests errors  rate (/s) lag p50 lag p99  lag max lat p50 lat p99 cpu s")
    for index, run in enumerate(runs, 1):
        print(row(str(index), run))
    print()
    print(
        f"achieved rate, median: {median_rate:.2f}/s, goal {args.rate:g}/s within "
        f"{RATE_TOLERANCE:.0%}: {'PASS' if rate_ok else 'FAIL'}"
    )
    print(
        f"schedule lag p99, median: {median_lag:.2f} ms, goal under {LAG_P99_GOAL_MS:g} ms: "
        f"{'PASS' if lag_ok else 'FAIL'}"
    )
    if args.json:
        document = {
            "python": platform.python_version(),
            "httpx": version("httpx"),
            "cpu_count": os.cpu_count(),
            "rate": args.rate,
            "duration_seconds": args.duration,
            "pinned": pinned,
            "goals": {"rate_tolerance": RATE_TOLERANCE, "lag_p99_ms": LAG_P99_GOAL_MS},
            "median": {"achieved_rate": median_rate, "lag_p99_ms": median_lag},
            "passed": {"rate": rate_ok, "lag_p99": lag_ok},
            "runs": [asdict(run) for run in runs],
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
