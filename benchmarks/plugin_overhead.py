"""How much pytest-smoke-gate costs in a pytest run that does not use it.

The plugin is installed through the ``pytest11`` entry point, so pytest loads it in every run
of every project that has it installed, smoke run or not. This script measures that cost:

(a) import cost: in each of N fresh interpreters, ``import pytest`` first and then time
    ``import pytest_smoke.plugin`` with ``time.perf_counter`` (``-X importtime`` self-times
    leave out child modules, so they understate it). Reports the median and the p90 in ms.
    Goal: median <= 3 ms. The p90 is shown for the spread and has no goal.

(b) whole-run overhead: ``python -m pytest --co -q -p no:cacheprovider`` in an empty
    temporary directory (it holds only an empty ``pytest.ini``, so that directory is the
    rootdir and no project configuration is read), once with the plugin loaded and once with
    ``-p no:smoke``, N runs each, alternating the two. Exit status 5 (no tests collected) is
    expected. Reports each variant's median wall time and the ratio of the medians.
    Goal: median(with) / median(without) <= 1.03.

Both use warm ``.pyc`` caches: ``PYTHONDONTWRITEBYTECODE`` is removed from the child
environment and one warm-up run precedes the measured ones. ``PYTEST_ADDOPTS``,
``PYTEST_PLUGINS``, ``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` and every ``SMOKE_*`` variable are
removed as well, so the runs are plain, non-smoke pytest runs with all installed plugins.

Run it from the repository root with the project's virtualenv::

    .venv/bin/python benchmarks/plugin_overhead.py            # 25 runs per measurement
    .venv/bin/python benchmarks/plugin_overhead.py --runs 50 --json overhead.json

It is a measurement, not a test: it prints PASS or FAIL per goal and exits 0 either way
(non-zero only if it cannot run, e.g. the plugin is not installed).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Final

IMPORT_GOAL_MS: Final = 3.0
RATIO_GOAL: Final = 1.03
NO_TESTS_COLLECTED: Final = 5  # pytest.ExitCode.NO_TESTS_COLLECTED

_IMPORT_SNIPPET: Final = (
    "import time\n"
    "import pytest\n"
    "start = time.perf_counter()\n"
    "import pytest_smoke.plugin\n"
    "print(time.perf_counter() - start)\n"
)
_PYTEST_ARGS: Final = ("-m", "pytest", "--co", "-q", "-p", "no:cacheprovider")
_DROPPED_ENV: Final = (
    "PYTHONDONTWRITEBYTECODE",
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
)


@dataclass(frozen=True)
class Line:
    """One row of the result table; ``passed`` is ``None`` for rows without a goal."""

    measure: str
    value: str
    goal: str
    passed: bool | None


def child_env() -> dict[str, str]:
    """The environment of every child: ours minus what would skew or redirect a run."""
    return {
        key: value
        for key, value in os.environ.items()
        if key not in _DROPPED_ENV and not key.startswith("SMOKE_")
    }


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of a non-empty list."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def run_checked(args: list[str], cwd: Path, env: dict[str, str], expect: int) -> float:
    """Run ``args`` and return its wall time in seconds; raise if it exits otherwise."""
    start = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != expect:
        raise RuntimeError(
            f"{' '.join(args)} exited {result.returncode}, expected {expect}:\n"
            f"{result.stdout}{result.stderr}"
        )
    return elapsed


def import_times(runs: int, workdir: Path, env: dict[str, str]) -> list[float]:
    """Seconds to import pytest_smoke.plugin after pytest, one sample per fresh interpreter."""
    samples: list[float] = []
    for index in range(runs + 1):  # the first run only warms the .pyc cache
        result = subprocess.run(
            [sys.executable, "-c", _IMPORT_SNIPPET],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        if index:
            samples.append(float(result.stdout.strip().splitlines()[-1]))
    return samples


def check_plugin_loaded(workdir: Path, env: dict[str, str]) -> None:
    """Make sure the two variants really differ: the plugin's options appear only without -p."""
    for extra, wanted in (((), True), (("-p", "no:smoke"), False)):
        result = subprocess.run(
            [sys.executable, "-m", "pytest", *extra, "--help"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        if ("--smoke-gate" in result.stdout) != wanted:
            state = "not loaded" if wanted else "loaded despite -p no:smoke"
            raise SystemExit(f"plugin_overhead: pytest_smoke.plugin is {state}; is it installed?")


def collect_times(runs: int, workdir: Path, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Wall seconds of ``pytest --co -q`` with and without the plugin, alternating."""
    with_plugin = [sys.executable, *_PYTEST_ARGS]
    without_plugin = [*with_plugin, "-p", "no:smoke"]
    for args in (with_plugin, without_plugin):  # warm-up
        run_checked(args, workdir, env, NO_TESTS_COLLECTED)
    with_samples: list[float] = []
    without_samples: list[float] = []
    for index in range(runs):
        # Swap which variant goes first each round so drift hits both alike.
        pairs = [(with_plugin, with_samples), (without_plugin, without_samples)]
        for args, samples in pairs if index % 2 == 0 else reversed(pairs):
            samples.append(run_checked(args, workdir, env, NO_TESTS_COLLECTED))
    return with_samples, without_samples


def verdict(passed: bool | None) -> str:
    return "" if passed is None else ("PASS" if passed else "FAIL")


def print_table(header: list[str], lines: list[Line]) -> None:
    rows = [("measure", "value", "goal", "result")]
    rows += [(line.measure, line.value, line.goal, verdict(line.passed)) for line in lines]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for text in header:
        print(text)
    print()
    for position, row in enumerate(rows):
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
        if position == 0:
            print("  ".join("-" * width for width in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=25, help="samples per measurement (25)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    env = child_env()
    with tempfile.TemporaryDirectory(prefix="smoke-overhead-") as tmp:
        workdir = Path(tmp)
        (workdir / "pytest.ini").write_text("", encoding="utf-8")
        check_plugin_loaded(workdir, env)
        imports = import_times(args.runs, workdir, env)
        with_plugin, without_plugin = collect_times(args.runs, workdir, env)

    import_median_ms = statistics.median(imports) * 1000
    import_p90_ms = percentile(imports, 0.9) * 1000
    with_ms = statistics.median(with_plugin) * 1000
    without_ms = statistics.median(without_plugin) * 1000
    ratio = with_ms / without_ms

    header = [
        "pytest-smoke-gate plugin overhead",
        f"Python {platform.python_version()} ({platform.python_implementation()}, "
        f"{sys.platform}), pytest {version('pytest')}, os.cpu_count() = {os.cpu_count()}, "
        f"runs = {args.runs}",
    ]
    lines = [
        Line(
            "(a) import pytest_smoke.plugin after pytest, median",
            f"{import_median_ms:.2f} ms",
            f"<= {IMPORT_GOAL_MS:g} ms",
            import_median_ms <= IMPORT_GOAL_MS,
        ),
        Line(
            "(a) import pytest_smoke.plugin after pytest, p90", f"{import_p90_ms:.2f} ms", "-", None
        ),
        Line("(b) pytest --co -q, plugin loaded, median", f"{with_ms:.1f} ms", "-", None),
        Line("(b) pytest --co -q, -p no:smoke, median", f"{without_ms:.1f} ms", "-", None),
        Line("(b) difference of the medians", f"{with_ms - without_ms:+.1f} ms", "-", None),
        # The minimum is the run least disturbed by anything else on the machine: on a busy
        # 2-core box the medians wander by +-20 ms, the minima much less.
        Line(
            "(b) difference of the minima",
            f"{(min(with_plugin) - min(without_plugin)) * 1000:+.1f} ms",
            "-",
            None,
        ),
        Line(
            "(b) ratio median(with) / median(without)",
            f"{ratio:.3f}",
            f"<= {RATIO_GOAL:g}",
            ratio <= RATIO_GOAL,
        ),
    ]
    print_table(header, lines)

    if args.json:
        document = {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": sys.platform,
            "pytest": version("pytest"),
            "cpu_count": os.cpu_count(),
            "runs": args.runs,
            "goals": {"import_median_ms": IMPORT_GOAL_MS, "collect_ratio": RATIO_GOAL},
            "results": [asdict(line) for line in lines],
            "samples_seconds": {
                "import": imports,
                "collect_with_plugin": with_plugin,
                "collect_without_plugin": without_plugin,
            },
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
