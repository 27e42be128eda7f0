"""Wall time of the bundled suite against the healthy demo: serial, ``-n 2``, and ``--quick``.

Starts the demo once (``python -m pytest_smoke.demo.launch``), runs the bundled suite
(``pytest --pyargs pytest_smoke.suite``) with the gate on ``--runs`` times per variant, prints
the median and the spread, and stops the demo.
Goal: serial median <= 10 s on a 2-core machine. Run from the repository root::

    .venv/bin/python benchmarks/suite_wall_time.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAUNCHER = [sys.executable, "-m", "pytest_smoke.demo.launch"]
VARIANTS = {
    "serial": [],
    "-n 2": ["-n", "2"],
    "--quick": ["--smoke-quick"],
}


def run_suite(profile: str, extra: list[str]) -> tuple[float, int]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SMOKE_", "PYTEST_"))}
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "pytest_smoke.suite",
            "--smoke-env-file",
            profile,
            "--smoke-gate",
            "-q",
            "-p",
            "no:cacheprovider",
            *extra,
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    return time.perf_counter() - started, result.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        profile = subprocess.run(
            [*LAUNCHER, "up", "--state-dir", state], capture_output=True, text=True, check=True
        ).stdout.strip()
        try:
            print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.runs} runs each")
            for name, extra in VARIANTS.items():
                times, codes = [], set()
                for _ in range(args.runs):
                    seconds, code = run_suite(profile, extra)
                    times.append(seconds)
                    codes.add(code)
                goal = (
                    "  goal <= 10 s: " + ("PASS" if statistics.median(times) <= 10 else "FAIL")
                    if name == "serial"
                    else ""
                )
                print(
                    f"{name:8} median {statistics.median(times):5.2f} s  "
                    f"(min {min(times):.2f}, max {max(times):.2f}; exit {sorted(codes)}){goal}"
                )
        finally:
            subprocess.run(
                [*LAUNCHER, "down", "--state-dir", state], capture_output=True, check=False
            )
    print("Each figure is a whole `pytest --pyargs pytest_smoke.suite` process, start-up included.")


if __name__ == "__main__":
    main()
