"""Fixture names other projects use too (db_session, http_client, ...): theirs win, ours stay
reachable as smoke_<name>, and the bundled suite always gets ours."""

from __future__ import annotations

import textwrap

import pytest

from pytest_smoke.fixtures import ALIASES

# A second pytest plugin, as another installed package would ship it.
OTHER_PLUGIN = """
import pytest


@pytest.fixture
def http_client():
    "The other plugin's client."
    return "theirs"


@pytest.fixture
def db_session():
    return "their session"
"""

USES_BOTH = """
def test_theirs_win(http_client, db_session):
    assert http_client == "theirs"
    assert db_session == "their session"


def test_ours_stay_reachable(smoke_http_client):
    pass  # ours: async, so a sync test gets our one-line error
"""


def other_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(other_plugin=OTHER_PLUGIN)
    pytester.syspathinsert()


@pytest.mark.parametrize("register", ["-p", "pytest_plugins", "plugins="])
def test_another_plugins_fixture_wins_over_ours(pytester: pytest.Pytester, register: str) -> None:
    other_plugin(pytester)
    pytester.makepyfile(test_names=USES_BOTH)
    args: list[str] = []
    plugins: list[object] = []
    if register == "-p":  # loaded before the entry points, ours included
        args = ["-p", "other_plugin"]
    elif register == "pytest_plugins":  # loaded after them
        pytester.makeconftest("pytest_plugins = ['other_plugin']")
    else:  # an object registered by whoever runs pytest, before everything else
        import other_plugin as module  # type: ignore[import-not-found]

        plugins = [module]

    result = pytester.runpytest(*args, plugins=plugins)

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*smoke: fixture 'http_client' is async; request it from an*"])


def test_a_conftest_fixture_wins_over_ours(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import pytest

        @pytest.fixture
        def redis_client():
            return "mine"
    """)
    pytester.makepyfile("def test_mine(redis_client): assert redis_client == 'mine'")

    pytester.runpytest().assert_outcomes(passed=1)


def test_fixtures_lists_their_fixture_and_our_smoke_name(pytester: pytest.Pytester) -> None:
    other_plugin(pytester)

    output = pytester.runpytest("-p", "other_plugin", "--fixtures", "-v").stdout.str()

    assert "http_client -- other_plugin.py" in output
    assert "    The other plugin's client." in output
    assert "smoke_http_client -- " in output
    # ours still hold every name nobody else took
    assert "redis_client -- " in output
    assert "Also available as ``smoke_redis_client``" in output


def test_every_generic_name_has_a_smoke_name(pytester: pytest.Pytester) -> None:
    output = pytester.runpytest("--fixtures").stdout.str()

    for name in ALIASES:
        assert f"\n{name} -- " in output or f"\n{name} [" in output, name
        assert f"\nsmoke_{name} -- " in output or f"\nsmoke_{name} [" in output, name


def test_a_projects_own_db_session_is_never_deselected_as_ours(pytester: pytest.Pytester) -> None:
    # No database configured: a smoke test on OUR db_session is not applicable, one on the
    # project's own db_session is the project's business and runs.
    pytester.makeconftest("""
        import pytest

        @pytest.fixture
        def db_session():
            return "the project's"
    """)
    pytester.makepyfile(
        test_theirs="""
        import pytest

        @pytest.mark.smoke
        def test_on_their_session(db_session):
            assert db_session == "the project's"
    """
    )
    pytester.mkdir("ours").joinpath("test_ours.py").write_text(
        textwrap.dedent("""
            import pytest

            @pytest.mark.smoke
            async def test_on_our_session(smoke_db_session):
                pass
        """),
        encoding="utf-8",
    )

    result = pytester.runpytest("-rA")

    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["*PASSED test_theirs.py::test_on_their_session*"])
    result.stdout.fnmatch_lines(["not configured: database (SMOKE_TEST_DATABASE_URL): 1 check"])


def test_the_bundled_suite_gets_ours_whatever_the_project_defines(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The project's conftest and another plugin both define http_client. In one run, the
    # project's own test gets the project's, and the suite's check reaches the deployment
    # through ours (here nothing listens: one clear cause, not an AttributeError on a str).
    other_plugin(pytester)
    pytester.makeconftest("""
        import pytest

        @pytest.fixture
        def http_client():
            return "the project's"
    """)
    test_mine = pytester.makepyfile(
        test_mine='def test_mine(http_client): assert http_client == "the project\'s"'
    )
    monkeypatch.setenv("GATEWAY_URL", "http://127.0.0.1:9")

    result = pytester.runpytest_subprocess(
        "-p",
        "other_plugin",
        "--pyargs",
        "pytest_smoke.suite",
        str(test_mine),
        "-k",
        "test_mine or test_unknown_route_is_a_json_error",
        "-p",
        "no:cacheprovider",
    )

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*service unreachable at 127.0.0.1:9*"])
    assert "has no attribute" not in result.stdout.str()


def test_an_old_pytest_asyncio_is_one_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before 1.1 pytest-asyncio wraps async fixtures while collecting, so it would never see
    # the per-loop-scope fixtures registered on first use: say so instead of failing oddly.
    import pytest_asyncio

    monkeypatch.setattr(pytest_asyncio, "__version__", "1.0.0", raising=False)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.asyncio
        async def test_db(db_session):
            pass
    """)

    result = pytester.runpytest()

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*smoke: fixture 'db_session' needs pytest-asyncio 1.1 or later (installed: 1.0.0)*"]
    )
