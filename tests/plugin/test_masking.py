"""No secret value appears in any output or report: planted values, grepped everywhere."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

from pytest_smoke.masking import Masker

from .conftest import SINGLE, XDIST, run

if TYPE_CHECKING:
    from pathlib import Path

DB_PASSWORD = "db-Pa55/word!planted"
TOKEN = "tok-planted-7f3a9c"
RUNTIME_SECRET = "vault value planted 42"

PROFILE = f"""
SMOKE_TEST_DATABASE_URL=postgresql://app:{quote(DB_PASSWORD, safe="")}@127.0.0.1:1/app
SMOKE_TEST_TOKEN={TOKEN}
"""

LEAKY_TESTS = f"""
    import base64, logging, urllib.parse
    import pytest

    pytestmark = pytest.mark.smoke
    SECRET = {RUNTIME_SECRET!r}

    @pytest.fixture
    def fetched_secret(smoke_masker):
        smoke_masker.add(SECRET)  # what a Key Vault fixture does with a value it fetched
        return SECRET

    def test_prints_and_logs(fetched_secret, smoke_settings, request):
        print("stdout:", fetched_secret, smoke_settings.token)
        logging.getLogger("app").warning("log: %s %s", fetched_secret, smoke_settings.database_url)
        request.node.user_properties.append(("leak", fetched_secret))
        assert fetched_secret == "something else"

    def test_encoded_forms(fetched_secret, smoke_settings):
        encoded = urllib.parse.quote(fetched_secret, safe="")
        b64 = base64.b64encode(fetched_secret.encode()).decode()
        raise AssertionError(f"{{encoded}} {{b64}} {{smoke_settings.database_url}}")

    def test_skip_reason(fetched_secret):
        pytest.skip(f"skipped with {{fetched_secret}}")
"""


def forms(secret: str) -> list[str]:
    return [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()]


@pytest.mark.parametrize("extra", [SINGLE, XDIST])
def test_planted_secrets_appear_in_no_artifact(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, extra: tuple[str, ...]
) -> None:
    pytester.makefile(".staging", **{".env": PROFILE})
    pytester.makepyfile(test_leaky=LEAKY_TESTS)
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = run(
        pytester,
        extra,
        "--smoke-env",
        "staging",
        "--smoke-gate",
        "-rA",
        "-v",
        "--tb=long",
        "--showlocals",
        "--junitxml",
        "out/junit.xml",
        "--html",
        "out/report.html",
        "--smoke-report-json",
        "out/gate.json",
        "--log-level",
        "INFO",
    )
    assert result.ret == 11  # the run really failed and reported
    artifacts: dict[str, str] = {
        "stdout": result.stdout.str(),
        "stderr": result.stderr.str(),
        **{p.name: p.read_text() for p in (pytester.path / "out").rglob("*") if p.is_file()},
        "step summary": summary.read_text(),
    }
    assert "***" in artifacts["stdout"]  # the masks are there, where the values were
    for secret in (DB_PASSWORD, TOKEN, RUNTIME_SECRET):
        for form in forms(secret):
            leaked = [name for name, text in artifacts.items() if form in text]
            assert leaked == [], f"{form!r} leaked into {leaked}"


def test_masker_covers_raw_url_encoded_and_base64_forms() -> None:
    masker = Masker()
    masker.add("s3cret/value")
    text = " ".join(forms("s3cret/value"))
    assert masker.scrub(text) == "*** *** ***"


def test_masker_covers_both_ends_of_a_value_pytest_shortened() -> None:
    masker = Masker()
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzbW9rZSJ9.planted-signature-0123456789"
    masker.add(token)
    shown = f"assert '{token[:14]}...{token[-13:]}' == 'expected'"
    assert masker.scrub(shown) == "assert '***...***' == 'expected'"
    assert masker.scrub("a cut ... elsewhere") == "a cut ... elsewhere"


def test_a_long_token_shortened_in_an_assertion_does_not_leak(pytester: pytest.Pytester) -> None:
    token = "tok-" + "7f3a9c" * 12
    (pytester.path / ".env.staging").write_text(f"SMOKE_TEST_TOKEN={token}\n")
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_token(smoke_settings, smoke_masker):
            assert smoke_settings.token == "not the token"
    """)
    result = pytester.runpytest("--smoke-env", "staging")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "..." in output  # pytest did shorten it
    assert not [token[:n] for n in range(8, len(token)) if token[:n] + "..." in output]
    assert not [token[-n:] for n in range(8, len(token)) if "..." + token[-n:] in output]
    assert "7f3a9c7f" not in output


def test_masker_ignores_values_too_short_to_mask_safely() -> None:
    masker = Masker()
    masker.add("abc")
    assert not masker
    assert masker.scrub("abc") == "abc"


def test_url_passwords_are_registered() -> None:
    masker = Masker()
    masker.add_url("redis://:hunter2x@cache:6379/0")
    assert masker.scrub("hunter2x") == "***"


def test_unrelated_runs_install_no_masking(pytester: pytest.Pytester, tmp_path: Path) -> None:
    del tmp_path
    pytester.makepyfile("""
        import logging
        def test_factory():
            assert type(logging.getLogRecordFactory()).__name__ != "MaskingLogRecordFactory"
    """)
    pytester.runpytest().assert_outcomes(passed=1)
