"""How much pytest-smoke-gate costs in a pytest run that does not use it.

The plugin is installed through the ``pytest11`` entry point, so pytest loads it in every run
of every project that has it installed, smoke run or not. This script measures that cost:

(a) import cost: in each of N fresh interpreters, ``import pytest`` first and then time
    ``from pytest_smoke import plugin`` (what the entry point ``pytest_smoke:plugin`` loads)
    with ``time.perf_counter`` (``-X importtime`` self-times leave out child modules, so they
    understate it). Reports the median and the p90 in ms. Goal: median <= 3 ms. The p90 is
    shown for the spread and has no goal. Outside pytest, so without its assertion-rewriting
    import hook: inside pytest the package's ``__init__`` goes through that hook, which costs
    several times a plain import; the package imports the hooks and what they need without it
    (see ``pytest_smoke/__init__.py``).

(b) whole-run overhead: ``python -m pytest --co -q -p no:cacheprovider`` in an empty temporary
    directory, once with the plugin loaded and once with ``-p no:smoke``, N runs each,
    alternating the two (and which goes first). Exit status 5 (no tests collected) is
    expected. Two cases:

    - ``ini``: the directory holds an empty ``pytest.ini``, so it is the rootdir;
    - ``no ini``: the directory holds nothing, and no ini file, ``pyproject.toml``, ``tox.ini``
      or ``setup.cfg`` lies above it (checked before measuring: the temporary directory must be
      outside any project, this repository included; set ``TMPDIR`` if it is not). pytest
      then walks up to ``/`` looking for one and settles on the directory itself.

    Reports each variant's median wall time, the difference and the ratio of the medians.
    Goals, both per case: difference <= 5 ms AND ratio <= 1.03. Also shown, without a goal,
    because they are steadier than wall medians on a busy machine: the median of the paired
    differences (run i with minus run i without, back to back), the difference of the minima,
    and of the median CPU times (user + system of the child).

(c) the same, informational (no goal), in a small project: one module of 50 plain tests,
    run (not only collected). Shows that what the plugin defers to a run with tests (its
    per-test hook) stays small too.

(d) with ``--instructions``, informational (no goal): the CPU instructions of ``pytest --co
    -q`` in both (b) cases with and without the plugin, counted by valgrind's callgrind, with
    ``PYTHONHASHSEED=0``, the garbage collector off and (where ``setarch`` is installed) address
    space randomization off. Unlike wall times they do not depend on what else the machine is
    doing, so a change's cost shows even on a busy machine. They are not exact: the counts of
    one run differ by up to about 1M between tries (two levels), so each is the least of three;
    and between invocations of this script, each in a temporary directory of another name, the
    difference moved by up to about 3M (+10.9M and +14.5M for the same code; causes not
    traced). Compare changes within one invocation, or in a fixed directory. Also shown: the
    difference as a share of the run, and that share of the case's median CPU time from (b),
    an estimate of the plugin's cost in milliseconds that the machine's noise does not swamp.
    About 3 minutes.

``--cpu N`` pins the children to CPU N, so that they do not wander between cores mid-run and
the other cores take the machine's other work (off by default: on this 2-core machine it did not
make the medians steadier).

Every child gets warm ``.pyc`` caches: ``PYTHONDONTWRITEBYTECODE`` is removed from its
environment and one warm-up run of each variant precedes the measured ones. ``PYTEST_ADDOPTS``,
``PYTEST_PLUGINS``, ``PYTEST_DISABLE_PLUGIN_AUTOLOAD``, ``PYTHONPATH`` and every ``SMOKE_*``
variable are removed as well, so the runs are plain, non-smoke pytest runs with all installed
plugins.

Run it from the repository root with the project's virtualenv::

    .venv/bin/python benchmarks/plugin_overhead.py            # 60 runs per measurement
    .venv/bin/python benchmarks/plugin_overhead.py --runs 100 --json overhead.json
    .venv/bin/python benchmarks/plugin_overhead.py --instructions   # also (d), needs valgrind

It is a measurement, not a test: it prints PASS or FAIL per goal and exits 0 either way
(non-zero only if it cannot run, e.g. the plugin is not installed).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Final

IMPORT_GOAL_MS: Final = 3.0
RATIO_GOAL: Final = 1.03
DIFFERENCE_GOAL_MS: Final = 5.0
NO_TESTS_COLLECTED: Final = 5  # pytest.ExitCode.NO_TESTS_COLLECTED
OK: Final = 0
#: Files that make a directory pytest's rootdir (``_pytest/config/findpaths.py``).
CONFIG_FILES: Final = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")

_IMPORT_SNIPPET: Final = (
    "import time\n"
    "import pytest\n"
    "start = time.perf_counter()\n"
    "from pytest_smoke import plugin\n"
    "print(time.perf_counter() - start)\n"
)
_PYTEST: Final = ("-m", "pytest", "-p", "no:cacheprovider")
_DROPPED_ENV: Final = (
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPATH",
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
)
#: Run by callgrind for (d): pytest without the garbage collector, whose collections start at
#: allocation counts and would make the two counts differ by more than the plugin's code.
_NO_GC_PYTEST: Final = "import gc, sys, pytest; gc.disable(); sys.exit(pytest.main())"
_COLLECTED: Final = re.compile(r"Collected : (\d+)")
_INSTRUCTION_TRIES: Final = 3
_PLAIN_TESTS: Final = "".join(f"def test_{i}():\n    assert {i} == {i}\n\n\n" for i in range(50))


@dataclass(frozen=True)
class Line:
    """One row of the result table; ``passed`` is ``None`` for rows without a goal."""

    measure: str
    value: str
    goal: str
    passed: bool | None


@dataclass(frozen=True)
class Sample:
    """One child process: wall seconds, and CPU seconds (user + system)."""

    wall: float
    cpu: float


@dataclass(frozen=True)
class Case:
    """A directory to run pytest in, the arguments, and the exit status every run must have."""

    name: str
    title: str
    directory: str
    args: tuple[str, ...]
    expect: int
    ini: bool
    tests: bool
    goals: bool


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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_child(args: list[str], cwd: Path, env: dict[str, str], expect: int) -> Sample:
    """Run ``args`` and return its wall and CPU time; raise if it exits otherwise."""
    cpu_before = _children_cpu()
    start = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    cpu = _children_cpu() - cpu_before  # the child is reaped: its CPU time is counted now
    if result.returncode != expect:
        raise RuntimeError(
            f"{' '.join(args)} exited {result.returncode}, expected {expect}:\n"
            f"{result.stdout}{result.stderr}"
        )
    return Sample(wall, cpu)


def import_times(runs: int, workdir: Path, env: dict[str, str]) -> list[float]:
    """Seconds to import the plugin after pytest, one sample per fresh interpreter."""
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
            raise SystemExit(f"plugin_overhead: the plugin is {state}; is it installed?")


def check_no_config_above(workdir: Path, env: dict[str, str]) -> None:
    """The no-ini case must find no configuration file: none in ``workdir`` or above it."""
    for directory in (workdir, *workdir.parents):
        found = [name for name in CONFIG_FILES if (directory / name).is_file()]
        if found:
            raise SystemExit(
                f"plugin_overhead: {directory / found[0]} would be the no-ini case's config "
                "file; set TMPDIR to a directory outside any project"
            )
    result = subprocess.run(
        [sys.executable, *_PYTEST, "--co"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    header = result.stdout + result.stderr
    if "configfile:" in header or f"rootdir: {workdir}" not in header:
        raise SystemExit(f"plugin_overhead: the no-ini case did not run as one:\n{header}")


def measure(
    case: Case, runs: int, workdir: Path, env: dict[str, str]
) -> tuple[list[Sample], list[Sample]]:
    """Samples of ``case`` with and without the plugin, alternating (and who goes first)."""
    with_plugin = [sys.executable, *_PYTEST, *case.args]
    without_plugin = [*with_plugin, "-p", "no:smoke"]
    for args in (with_plugin, without_plugin):  # warm-up
        run_child(args, workdir, env, case.expect)
    with_samples: list[Sample] = []
    without_samples: list[Sample] = []
    for index in range(runs):
        # Swap which variant goes first each round so drift hits both alike.
        pairs = [(with_plugin, with_samples), (without_plugin, without_samples)]
        for args, samples in pairs if index % 2 == 0 else reversed(pairs):
            samples.append(run_child(args, workdir, env, case.expect))
    return with_samples, without_samples


def instructions(args: list[str], cwd: Path, env: dict[str, str]) -> int:
    """The fewest instructions one of a few runs of ``args`` executes, counted by callgrind."""
    no_aslr = ["setarch", platform.machine(), "-R"] if shutil.which("setarch") else []
    counts: list[int] = []
    for _ in range(_INSTRUCTION_TRIES):
        result = subprocess.run(
            [*no_aslr, "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *args],
            cwd=cwd,
            env={**env, "PYTHONHASHSEED": "0"},
            capture_output=True,
            text=True,
            check=False,
        )
        found = _COLLECTED.search(result.stderr)
        if found is None:
            raise RuntimeError(f"callgrind counted nothing:\n{result.stderr[-2000:]}")
        counts.append(int(found.group(1)))
    return min(counts)


def instruction_lines(case: Case, workdir: Path, env: dict[str, str], cpu_ms: float) -> list[Line]:
    """(d): instructions of ``case`` with and without the plugin; ``cpu_ms``: the median CPU
    time of its runs without the plugin, from (b)."""
    with_plugin = [sys.executable, "-c", _NO_GC_PYTEST, "-p", "no:cacheprovider", *case.args]
    without_plugin = [*with_plugin, "-p", "no:smoke"]
    for args in (with_plugin, without_plugin):  # warm .pyc caches, pytest's rewritten ones too
        subprocess.run(args, cwd=workdir, env=env, capture_output=True, check=False)
    # One valgrind per core: the counts do not depend on what else runs.
    with ThreadPoolExecutor(max_workers=2) as pool:
        counted = list(
            pool.map(lambda args: instructions(args, workdir, env), (with_plugin, without_plugin))
        )
    difference = counted[0] - counted[1]
    share = difference / counted[1]
    prefix = f"(d) {case.title}, instructions"
    return [
        Line(f"{prefix}, plugin loaded", f"{counted[0] / 1e6:.1f} M", "-", None),
        Line(f"{prefix}, -p no:smoke", f"{counted[1] / 1e6:.1f} M", "-", None),
        Line(f"{prefix}, difference", f"{difference / 1e6:+.1f} M", "-", None),
        Line(f"{prefix}, share of the run", f"{share:.2%}", "-", None),
        Line(f"{prefix}, that share of (b)'s CPU time", f"{share * cpu_ms:+.1f} ms", "-", None),
    ]


def pin_to(cpu: int | None) -> str:
    """Pin this process (and so its children) to ``cpu``, if given."""
    available = sorted(os.sched_getaffinity(0))
    if cpu is None:
        return f"not pinned ({len(available)} CPUs)"
    if cpu not in available:
        raise SystemExit(f"plugin_overhead: --cpu {cpu}: choose from {available}")
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu} of {len(available)}"


def case_lines(case: Case, with_plugin: list[Sample], without_plugin: list[Sample]) -> list[Line]:
    median = statistics.median
    with_ms = median(s.wall for s in with_plugin) * 1000
    without_ms = median(s.wall for s in without_plugin) * 1000
    difference = with_ms - without_ms
    ratio = with_ms / without_ms
    minima = (min(s.wall for s in with_plugin) - min(s.wall for s in without_plugin)) * 1000
    cpu = (median(s.cpu for s in with_plugin) - median(s.cpu for s in without_plugin)) * 1000
    # Run i of each variant ran back to back: their difference shares the machine's mood.
    paired = median(a.wall - b.wall for a, b in zip(with_plugin, without_plugin, strict=True))
    prefix = f"{case.name} {case.title}"
    goal = case.goals
    return [
        Line(f"{prefix}, plugin loaded, median", f"{with_ms:.1f} ms", "-", None),
        Line(f"{prefix}, -p no:smoke, median", f"{without_ms:.1f} ms", "-", None),
        Line(
            f"{prefix}, difference of the medians",
            f"{difference:+.1f} ms",
            f"<= {DIFFERENCE_GOAL_MS:g} ms" if goal else "-",
            difference <= DIFFERENCE_GOAL_MS if goal else None,
        ),
        Line(
            f"{prefix}, ratio of the medians",
            f"{ratio:.3f}",
            f"<= {RATIO_GOAL:g}" if goal else "-",
            ratio <= RATIO_GOAL if goal else None,
        ),
        # Steadier than the medians on a busy machine, for reading them: the median of the
        # back-to-back differences, the runs least disturbed (minima), and CPU time (which
        # leaves out waiting for a core).
        Line(f"{prefix}, median of the paired differences", f"{paired * 1000:+.1f} ms", "-", None),
        Line(f"{prefix}, difference of the minima", f"{minima:+.1f} ms", "-", None),
        Line(f"{prefix}, difference of the median CPU times", f"{cpu:+.1f} ms", "-", None),
    ]


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


CASES: Final = (
    Case(
        "(b)",
        "pytest --co -q, ini",
        "ini",
        ("--co", "-q"),
        NO_TESTS_COLLECTED,
        ini=True,
        tests=False,
        goals=True,
    ),
    Case(
        "(b)",
        "pytest --co -q, no ini",
        "no-ini",
        ("--co", "-q"),
        NO_TESTS_COLLECTED,
        ini=False,
        tests=False,
        goals=True,
    ),
    Case(
        "(c)",
        "pytest -q, 50 plain tests",
        "tests",
        ("-q",),
        OK,
        ini=True,
        tests=True,
        goals=False,
    ),
)


def prepare(case: Case, root: Path, env: dict[str, str]) -> Path:
    """The case's directory under ``root``, with what the case needs in it."""
    workdir = root / case.directory
    workdir.mkdir()
    if case.ini:
        (workdir / "pytest.ini").write_text("", encoding="utf-8")
    else:
        check_no_config_above(workdir, env)
    if case.tests:
        (workdir / "test_plain.py").write_text(_PLAIN_TESTS, encoding="utf-8")
    return workdir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=60, help="samples per measurement (60)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument("--cpu", type=int, help="pin the runs to this CPU")
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions (d), with valgrind"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.instructions and shutil.which("valgrind") is None:
        parser.error("--instructions needs valgrind (apt-get install valgrind)")
    pinned = pin_to(args.cpu)

    env = child_env()
    samples: dict[str, dict[str, list[float]]] = {}
    lines: list[Line] = []
    instruction_cases: list[tuple[Case, float]] = []
    with tempfile.TemporaryDirectory(prefix="smoke-overhead-") as tmp:
        root = Path(tmp).resolve()
        imports = import_times(args.runs, root, env)
        import_median_ms = statistics.median(imports) * 1000
        lines += [
            Line(
                "(a) import the plugin after pytest, median",
                f"{import_median_ms:.2f} ms",
                f"<= {IMPORT_GOAL_MS:g} ms",
                import_median_ms <= IMPORT_GOAL_MS,
            ),
            Line(
                "(a) import the plugin after pytest, p90",
                f"{percentile(imports, 0.9) * 1000:.2f} ms",
                "-",
                None,
            ),
        ]
        samples["import"] = {"seconds": imports}
        for case in CASES:
            workdir = prepare(case, root, env)
            check_plugin_loaded(workdir, env)
            with_plugin, without_plugin = measure(case, args.runs, workdir, env)
            lines += case_lines(case, with_plugin, without_plugin)
            if case.goals:
                cpu_ms = statistics.median(s.cpu for s in without_plugin) * 1000
                instruction_cases.append((case, cpu_ms))
            samples[f"{case.name} {case.title}"] = {
                "with_plugin_wall": [s.wall for s in with_plugin],
                "without_plugin_wall": [s.wall for s in without_plugin],
                "with_plugin_cpu": [s.cpu for s in with_plugin],
                "without_plugin_cpu": [s.cpu for s in without_plugin],
            }
        if args.instructions:
            for case, cpu_ms in instruction_cases:
                lines += instruction_lines(case, root / case.directory, env, cpu_ms)

    header = [
        "pytest-smoke-gate plugin overhead",
        f"Python {platform.python_version()} ({platform.python_implementation()}, "
        f"{sys.platform}), pytest {version('pytest')}, os.cpu_count() = {os.cpu_count()}, "
        f"runs = {args.runs}, {pinned}",
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
            "pinned": pinned,
            "goals": {
                "import_median_ms": IMPORT_GOAL_MS,
                "run_difference_ms": DIFFERENCE_GOAL_MS,
                "run_ratio": RATIO_GOAL,
            },
            "results": [asdict(line) for line in lines],
            "samples_seconds": samples,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
