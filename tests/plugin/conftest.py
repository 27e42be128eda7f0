from __future__ import annotations

from collections.abc import Callable

# pytester drops the modules a test imported first, and httpx imports httpcore lazily: were an
# in-process run the first to make a request, the next test would get a second httpcore whose
# errors httpx no longer recognises (httpcore.ConnectError escaping instead of httpx's).
import httpcore  # noqa: F401
import pytest

from pytest_smoke.settings import PROFILE_ENV, PROFILE_FILE_ENV, SPECS

INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"

SampleProject = Callable[..., None]


_OUR_VARIABLES = [spec.env for spec in SPECS if spec.env] + [
    PROFILE_ENV,
    PROFILE_FILE_ENV,
    "GITHUB_STEP_SUMMARY",
]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytest runs never see the developer's or CI's smoke settings."""
    for name in _OUR_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _quiet_ini(pytester: pytest.Pytester) -> None:
    """Every inner run gets an ini, so pytest-asyncio's unset-loop-scope warning stays out."""
    pytester.makeini(INI)


@pytest.fixture
def sample_project(pytester: pytest.Pytester) -> SampleProject:
    """Write ``test_sample.py`` with ``total`` smoke tests; the first ``failing`` fail.

    ``critical`` marks the first failing test critical; ``marks`` adds markers to every test.
    """
    pytester.makeini(INI)

    def make(
        total: int = 10, failing: int = 0, *, critical: bool = False, marks: tuple[str, ...] = ()
    ) -> None:
        lines = ["import pytest", "pytestmark = pytest.mark.smoke", ""]
        for i in range(total):
            lines += [f"@pytest.mark.{mark}" for mark in marks]
            if critical and i == 0 and failing:
                lines.append("@pytest.mark.critical")
            body = "assert False, 'broken'" if i < failing else "pass"
            lines += [f"def test_{i}():", f"    {body}", ""]
        pytester.makepyfile(test_sample="\n".join(lines))

    return make


def verdict_line(output: str) -> str:
    """The title line of the verdict block."""
    return next(line for line in output.splitlines() if "smoke gate:" in line)


XDIST = pytest.param(("-n", "2"), id="xdist")
SINGLE = pytest.param((), id="single")


def run(pytester: pytest.Pytester, extra: tuple[str, ...], *args: str) -> pytest.RunResult:
    """Run pytest in process, or as a subprocess when ``extra`` asks for xdist workers."""
    if extra:  # xdist workers are processes of their own: run the whole thing as one too
        return pytester.runpytest_subprocess(*extra, "-p", "no:cacheprovider", *args)
    return pytester.runpytest("-p", "no:cacheprovider", *args)
