"""What the dashboard (``/ui``) costs with a long history: its pages' server time.

10,000 finished runs of three profiles stored in a SQLite history (in bulk, with
``tests/server/conftest.py``'s ``seed``, each with a report of a few kB and the figures the
store keeps at a run's end: tests ran and passed, duration, p95), the
service started on it (``smoke-gate serve`` in a child process, reads behind the token), then
``--requests`` requests (default 20) of each page from one client, one after the other, signed
in by the token cookie: ``/ui`` (every profile's last verdict, its last 30 runs, the day's
counts), ``/ui/runs`` (the first page of the history, 50 runs, and how many in all) and, without
a goal, a profile's page ``/ui/profiles/staging`` (its trends over 7 days, up to 500 runs drawn)
and a page of the history far back (``/ui/runs?page=150``). Reports p50/p95 and the maximum per
page, in ms, each request timed from send to the last byte on 127.0.0.1.

Goal: p95 <= 200 ms for ``/ui`` and ``/ui/runs``. Prints each figure with PASS or FAIL; exit
status 0 when both goals are met, 1 otherwise. Not a test: run it by hand
(``python benchmarks/dashboard.py``), on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

import httpx

from service import HEADERS, TOKEN, seed_history, service_environment, serving

GOAL_MS: Final = 200.0
#: The pages timed, and whether each has the goal.
PAGES: Final = (
    ("/ui", True),
    ("/ui/runs", True),
    ("/ui/profiles/staging", False),
    ("/ui/runs?page=150", False),
)


def timed(client: httpx.Client, path: str, requests: int) -> list[float]:
    """``requests`` GETs of ``path``, one after the other (after one to warm up); ms each."""
    answer = client.get(path)
    if answer.status_code != 200:
        raise SystemExit(f"GET {path}: {answer.status_code} {answer.text[:300]}")
    latencies = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = client.get(path)
        latencies.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"GET {path}: {answer.status_code}")
    return latencies


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the history")
    parser.add_argument("--requests", type=int, default=20, help="requests of each page")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smoke-dashboard-bench-") as temporary:
        work = Path(temporary)
        data, profiles = work / "data", work / "profiles"
        data.mkdir()
        profiles.mkdir()
        for name in ("staging", "production", "canary"):
            (profiles / f".env.{name}").write_text("GATEWAY_URL=http://127.0.0.1:9\n")
        url = f"sqlite+aiosqlite:///{data / 'runs.db'}"
        started = time.perf_counter()
        seed_history(url, options.runs)
        print(f"{options.runs} runs stored in {time.perf_counter() - started:.1f} s")
        environment = service_environment(dict(os.environ), profiles, data)
        environment["SMOKE_SERVER_DATABASE_URL"] = url
        met = True
        with (
            serving(environment, profiles, work / "service.log") as base,
            httpx.Client(base_url=base, timeout=30) as client,
        ):
            total = httpx.get(f"{base}/runs?limit=1", headers=HEADERS, timeout=30).json()["total"]
            assert total == options.runs, total
            client.cookies.set("smoke_gate_token", TOKEN, path="/ui")
            for path, goal in PAGES:
                latencies = timed(client, path, options.requests)
                figure = p95(latencies)
                line = (
                    f"GET {path}: p50 {statistics.median(latencies):.1f} ms, "
                    f"p95 {figure:.1f} ms, max {max(latencies):.1f} ms"
                )
                if goal:
                    ok = figure <= GOAL_MS
                    met = met and ok
                    line += f" (goal p95 <= {GOAL_MS:g} ms) {'PASS' if ok else 'FAIL'}"
                print(line)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
