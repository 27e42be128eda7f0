"""``smoke-gate``'s translation of flags into a pytest command line, and its error lines.

In-process and without a run: :func:`pytest_smoke.cli.pytest_command` is a pure function, and
:func:`pytest_smoke.cli.main` is called with the functions that would start processes replaced.
tests/e2e/test_cli.py runs the real command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_smoke import cli
from pytest_smoke.cli import MissingExtra, RunOptions, pytest_command

CWD = Path("/work/project")
BASE = [
    "python",
    "-m",
    "pytest",
    "--pyargs",
    "pytest_smoke.suite",
]
COMMON = ["--rootdir", str(CWD), "--smoke-gate", "-ra", "-W", "default"]


def command(html: bool = True, **options: Any) -> list[str]:
    return pytest_command(RunOptions(**options), cwd=CWD, python="python", html=html)


@pytest.fixture
def everything_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "installed", lambda module: True)


def test_the_bundled_suite_with_the_gate_on_from_the_working_directory() -> None:
    assert command() == [*BASE, *COMMON]


@pytest.mark.usefixtures("everything_installed")
def test_each_flag_maps_onto_pytest_and_the_plugin() -> None:
    argv = command(
        env="staging",
        env_file="profiles/prod.env",
        quick=True,
        parallel=True,
        verbose=True,
        timeout=120.0,
        read_only=True,
    )
    assert argv == [
        *BASE,
        *COMMON,
        "--smoke-env",
        "staging",
        "--smoke-env-file",
        str(CWD / "profiles/prod.env"),
        "-n",
        "auto",
        "-v",
        "--timeout",
        "120",
        "--smoke-quick",
        "--smoke-read-only",
    ]
    assert command(timeout=2.5)[-2:] == ["--timeout", "2.5"]


@pytest.mark.parametrize("html", [True, False])
def test_reports_go_to_the_directory_html_only_with_pytest_html(html: bool) -> None:
    argv = command(report="out", html=html)
    reports = [
        "--junitxml",
        str(CWD / "out/junit.xml"),
        *(["--html", str(CWD / "out/smoke.html"), "--self-contained-html"] if html else []),
        "--smoke-report-json",
        str(CWD / "out/smoke-gate.json"),
    ]
    assert argv == [*BASE, *COMMON, *reports]


def test_user_paths_are_absolute_and_pytest_args_come_last() -> None:
    argv = command(
        paths=("tests/smoke", "test_mine.py::test_a", "/abs/test_x.py"),
        pytest_args=("-k", "health", "--tb=short"),
        quick=True,
    )
    assert argv[len(BASE) : len(BASE) + 3] == [
        str(CWD / "tests/smoke"),
        str(CWD / "test_mine.py::test_a"),
        "/abs/test_x.py",
    ]
    assert argv[-4:] == ["--smoke-quick", "-k", "health", "--tb=short"]


@pytest.mark.parametrize(
    ("options", "module", "message"),
    [
        (
            {"parallel": True},
            "xdist",
            "--parallel needs pytest-xdist: pip install 'pytest-smoke-gate[parallel]'",
        ),
        (
            {"timeout": 30.0},
            "pytest_timeout",
            "--timeout needs pytest-timeout: pip install 'pytest-smoke-gate[timeout]'",
        ),
    ],
)
def test_a_flag_without_its_extra_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, options: dict[str, Any], module: str, message: str
) -> None:
    monkeypatch.setattr(cli, "installed", lambda name: name != module)
    with pytest.raises(MissingExtra, match=message.replace("[", r"\[").replace("]", r"\]")):
        command(**options)


# --- main(): usage, the -- split, exit statuses -------------------------------------------------


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[RunOptions]:
    """The options ``run`` was called with, instead of running pytest; its status is 11."""
    seen: list[RunOptions] = []

    def run_pytest(options: RunOptions, cwd: Path) -> int:
        seen.append(options)
        return 11

    monkeypatch.setattr(cli, "run_pytest", run_pytest)
    return seen


def test_run_passes_everything_after_the_first_double_dash_to_pytest(
    runs: list[RunOptions],
) -> None:
    status = cli.main(["run", "tests/smoke", "--quick", "--", "-k", "a -- b", "--", "-x"])
    assert status == 11  # the gate's status is the command's
    assert runs == [
        RunOptions(quick=True, paths=("tests/smoke",), pytest_args=("-k", "a -- b", "--", "-x"))
    ]


@pytest.mark.parametrize(
    ("args", "report", "paths"),
    [
        (["--report"], "reports", ()),
        (["--report", "out"], "out", ()),
        (["--report=out", "tests"], "out", ("tests",)),
        (["tests", "--report"], "reports", ("tests",)),
        ([], None, ()),
    ],
)
def test_report_takes_an_optional_directory(
    runs: list[RunOptions], args: list[str], report: str | None, paths: tuple[str, ...]
) -> None:
    cli.main(["run", *args])
    assert (runs[0].report, runs[0].paths) == (report, paths)


def test_a_missing_extra_is_one_line_and_exit_4(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "installed", lambda name: name != "xdist")
    assert cli.main(["run", "--parallel"]) == 4
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "smoke-gate run: --parallel needs pytest-xdist: pip install 'pytest-smoke-gate[parallel]'\n"
    )


def test_the_demo_without_its_extra_is_one_line_and_exit_4(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "installed", lambda name: name not in {"fastapi", "uvicorn"})
    assert cli.main(["demo"]) == 4
    captured = capsys.readouterr()
    assert captured.err == (
        "smoke-gate demo: the demo needs the demo extra (missing: fastapi, uvicorn): "
        "pip install 'pytest-smoke-gate[demo]'\n"
    )


def test_no_command_shows_the_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert capsys.readouterr().err.startswith("Usage: smoke-gate [OPTIONS] COMMAND [ARGS]...")


def test_a_plain_pytest_run_never_imports_the_command_or_the_demo(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    code = (
        "import json, sys, pytest\n"
        f"pytest.main(['-q', '-p', 'no:cacheprovider', {str(tmp_path)!r}])\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=True,
    )
    modules = set(json.loads(done.stdout.splitlines()[-1]))
    assert "pytest_smoke.plugin" in modules  # the plugin was loaded...
    loaded = {
        m
        for m in modules
        if m in {"click", "pytest_smoke.cli"} or m.startswith("pytest_smoke.demo")
    }
    assert loaded == set()  # ...and nothing of the command
