"""http_client, http_latencies, test_user_token, auth_headers against a real local HTTP server."""

from __future__ import annotations

import json
import socket
import textwrap
from collections import Counter
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import parse_qsl

# Imported before any pytester run: pytester drops modules first imported during a test.
import httpx  # noqa: F401
import pytest
import tenacity  # noqa: F401

from clients.threaded_server import JsonHandler, serving

if TYPE_CHECKING:
    from collections.abc import Iterator

TOKEN = "issued-token-planted-5150"


class Service(JsonHandler):
    """/health 200; /flaky 503 twice, then 200; /login issues TOKEN; /whoami checks it."""

    hits: ClassVar[Counter[str]] = Counter()

    def do_GET(self) -> None:
        self.hits[self.path] += 1
        if self.path == "/health":
            self.answer_json(200, {"status": "ok"})
        elif self.path == "/flaky":
            flaky = self.hits[self.path] <= 2
            self.answer_json(503 if flaky else 200, {"attempt": self.hits[self.path]})
        elif self.path == "/whoami":
            ok = self.headers.get("Authorization") == f"Bearer {TOKEN}"
            self.answer_json(200 if ok else 401, {"user": "smoke-bot"} if ok else {"error": "no"})
        else:
            self.answer_json(404, {"error": "not found"})

    def do_POST(self) -> None:
        self.hits[self.path] += 1
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/login" and body.get("password") == "pw-planted-77":
            self.answer_json(200, {"access_token": TOKEN, "expires_in": 3600})
        else:
            self.answer_json(401, {"error": "bad credentials"})


@pytest.fixture
def service() -> Iterator[str]:
    Service.hits.clear()
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Service)) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"


def project(pytester: pytest.Pytester, profile: str) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makefile(".svc", **{".env": profile})


def test_requests_retry_on_503_and_record_latency(pytester: pytest.Pytester, service: str) -> None:
    project(pytester, f"GATEWAY_URL={service}\nSMOKE_TEST_HTTP_BACKOFF=0.05\n")
    pytester.makepyfile("""
        async def test_health(http_client, http_latencies):
            assert (await http_client.get("/health")).json() == {"status": "ok"}
            response = await http_client.get("/flaky")
            assert response.status_code == 200
            assert [e.attempts for e in http_latencies.entries] == [1, 3]
            assert http_latencies.p95() is not None
    """)
    pytester.runpytest("--smoke-env", "svc").assert_outcomes(passed=1)
    assert Service.hits["/flaky"] == 3


def test_retries_can_be_turned_off(pytester: pytest.Pytester, service: str) -> None:
    project(pytester, f"GATEWAY_URL={service}\nSMOKE_TEST_HTTP_RETRIES=0\n")
    pytester.makepyfile("""
        async def test_flaky(http_client):
            assert (await http_client.get("/flaky")).status_code == 503
    """)
    pytester.runpytest("--smoke-env", "svc").assert_outcomes(passed=1)


def test_login_token_is_fetched_once_per_session_and_masked(
    pytester: pytest.Pytester, service: str
) -> None:
    project(
        pytester,
        f"GATEWAY_URL={service}\nSMOKE_TEST_LOGIN_URL={service}/login\n"
        "SMOKE_TEST_USERNAME=smoke-bot\nSMOKE_TEST_PASSWORD=pw-planted-77\n",
    )
    pytester.makepyfile("""
        import pytest

        @pytest.mark.parametrize("i", range(3))
        async def test_whoami(http_client, auth_headers, i):
            response = await http_client.get("/whoami", headers=auth_headers)
            assert response.json() == {"user": "smoke-bot"}

        async def test_token_in_a_failure(test_user_token):
            assert test_user_token == "not the token"
    """)
    result = pytester.runpytest("--smoke-env", "svc", "-rA")
    result.assert_outcomes(passed=3, failed=1)
    assert Service.hits["/login"] == 1  # one login for four tests, each in its own event loop
    output = result.stdout.str()
    assert TOKEN not in output
    assert "pw-planted-77" not in output
    assert "***" in output


def test_static_token(pytester: pytest.Pytester, service: str) -> None:
    project(pytester, f"GATEWAY_URL={service}\nSMOKE_TEST_TOKEN={TOKEN}\n")
    pytester.makepyfile("""
        async def test_whoami(http_client, auth_headers):
            assert (await http_client.get("/whoami", headers=auth_headers)).status_code == 200
    """)
    pytester.runpytest("--smoke-env", "svc").assert_outcomes(passed=1)


def test_rejected_login_is_a_clear_error_without_the_password(
    pytester: pytest.Pytester, service: str
) -> None:
    project(
        pytester,
        f"SMOKE_TEST_LOGIN_URL={service}/login\nSMOKE_TEST_USERNAME=smoke-bot\n"
        "SMOKE_TEST_PASSWORD=wrong-pw-planted\n",
    )
    pytester.makepyfile("async def test_token(test_user_token): pass")
    result = pytester.runpytest("--smoke-env", "svc")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*login at * as 'smoke-bot' failed: HTTP 401 Unauthorized*"])
    assert "wrong-pw-planted" not in result.stdout.str()


# --- login bodies, token paths and header schemes configured in the checks file -------------

USER, EMAIL, PASSWORD = "rw-bot-planted", "rw-bot@example.com", "rw-pw-planted-1138"
#: Issued by the form login (a JWT, as FastAPI issues) and by the JSON envelope login.
FORM_TOKEN = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJydy1ib3QifQ.form-token-planted"
ENVELOPE_TOKEN = "envelope-token-planted-2001"
API_KEY = "api-key-planted-4242"


class RealWorld(JsonHandler):
    """Services that differ from the default login in every convention.

    ``POST /api/auth/token``: FastAPI's OAuth2 password form -> ``{"access_token", "token_type"}``;
    ``POST /api/users/login``: JSON ``{"user": {"email", "password"}}`` -> ``{"user": {...,
    "token"}}``; ``GET /api/articles/``: ``Authorization: Token <jwt>`` only (Bearer: 403);
    ``GET /api/keyed``: ``X-API-Key: <key>`` only.
    """

    hits: ClassVar[Counter[str]] = Counter()

    def do_GET(self) -> None:
        self.hits[self.path] += 1
        tokens = {f"Token {FORM_TOKEN}", f"Token {ENVELOPE_TOKEN}"}
        if self.path == "/api/articles/":
            ok = self.headers.get("Authorization") in tokens
            self.answer_json(200 if ok else 403, {"articles": []} if ok else {"detail": "no"})
        elif self.path == "/api/keyed":
            ok = self.headers.get("X-API-Key") == API_KEY and "Authorization" not in self.headers
            self.answer_json(200 if ok else 401, {"ok": ok})
        else:
            self.answer_json(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        self.hits[self.path] += 1
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        kind = self.headers.get("Content-Type", "")
        if self.path == "/api/auth/token":
            form = dict(parse_qsl(raw)) if kind == "application/x-www-form-urlencoded" else {}
            if (form.get("username"), form.get("password")) == (USER, PASSWORD):
                self.answer_json(200, {"access_token": FORM_TOKEN, "token_type": "bearer"})
            else:
                self.answer_json(
                    422 if not form else 400, {"detail": "Incorrect username or password"}
                )
        elif self.path == "/api/users/login" and kind == "application/json":
            user = json.loads(raw or "{}").get("user") or {}
            if (user.get("email"), user.get("password")) == (EMAIL, PASSWORD):
                answer = {"email": EMAIL, "username": USER, "token": ENVELOPE_TOKEN}
                self.answer_json(200, {"user": answer})
            else:
                self.answer_json(422, {"errors": {"body": ["invalid credentials"]}})
        else:
            self.answer_json(404, {"detail": "Not Found"})


@pytest.fixture
def realworld() -> Iterator[str]:
    RealWorld.hits.clear()
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), RealWorld)) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"


def checks_project(pytester: pytest.Pytester, profile: str, checks: str) -> None:
    project(pytester, profile)
    pytester.makefile(".toml", checks=checks)


#: A failing test that prints, logs and asserts on the token, the headers and the login body.
LEAKY_TEST = """
    import logging

    async def test_leaks(test_user_token, auth_headers, smoke_checks):
        print("token", test_user_token, auth_headers, smoke_checks.get("auth.login.body"))
        logging.getLogger("app").error("sent %s", auth_headers)
        assert not test_user_token
"""


def with_leaky_test(source: str) -> str:
    return textwrap.dedent(source) + textwrap.dedent(LEAKY_TEST)


def assert_never_shown(output: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in output
    assert "***" in output


def test_oauth2_password_form_login_with_a_token_scheme(
    pytester: pytest.Pytester, realworld: str
) -> None:
    checks_project(
        pytester,
        f"GATEWAY_URL={realworld}\nSMOKE_TEST_USERNAME={USER}\nSMOKE_TEST_PASSWORD={PASSWORD}\n",
        """
        [auth]
        protected = "/api/articles/"
        scheme = "Token"

        [auth.login]
        url = "/api/auth/token"
        format = "form"
        body = { username = "${SMOKE_TEST_USERNAME}", password = "${SMOKE_TEST_PASSWORD}" }
        token = "access_token"
        """,
    )
    pytester.makepyfile(
        with_leaky_test("""
        import pytest

        @pytest.mark.parametrize("i", range(2))
        async def test_articles(http_client, auth_headers, i):
            assert list(auth_headers) == ["Authorization"]
            assert auth_headers["Authorization"].startswith("Token ")
            answer = await http_client.get("/api/articles/", headers=auth_headers)
            assert answer.status_code == 200
            bearer = {"Authorization": auth_headers["Authorization"].replace("Token", "Bearer")}
            assert (await http_client.get("/api/articles/", headers=bearer)).status_code == 403
        """)
    )
    result = pytester.runpytest("--smoke-env", "svc", "--smoke-checks", "checks.toml", "-rA")
    result.assert_outcomes(passed=2, failed=1)
    assert RealWorld.hits["/api/auth/token"] == 1  # one login for the session
    assert_never_shown(result.stdout.str() + result.stderr.str(), FORM_TOKEN, PASSWORD, USER)


@pytest.mark.parametrize("absolute", [False, True], ids=["path-on-gateway", "full-url"])
def test_json_envelope_login_with_the_token_inside_the_envelope(
    pytester: pytest.Pytester, realworld: str, absolute: bool
) -> None:
    # GATEWAY_URL with a base path: a login path joins onto it as http_client joins its paths
    url = f"{realworld}/api/users/login" if absolute else "/users/login"
    checks_project(
        pytester,
        f"GATEWAY_URL={realworld}/api\nLOGIN_EMAIL={EMAIL}\nSMOKE_TEST_PASSWORD={PASSWORD}\n",
        f"""
        [auth]
        scheme = "Token"

        [auth.login]
        url = "{url}"
        body = {{ user = {{ email = "${{LOGIN_EMAIL}}", password = "${{SMOKE_TEST_PASSWORD}}" }} }}
        token = "user.token"
        """,
    )
    pytester.makepyfile(
        with_leaky_test("""
        async def test_articles(http_client, auth_headers):
            assert (await http_client.get("/articles/", headers=auth_headers)).status_code == 200
        """)
    )
    result = pytester.runpytest("--smoke-env", "svc", "--smoke-checks", "checks.toml", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    assert RealWorld.hits["/api/users/login"] == 1
    assert_never_shown(result.stdout.str() + result.stderr.str(), ENVELOPE_TOKEN, PASSWORD, EMAIL)


def test_a_static_key_in_an_api_key_header(pytester: pytest.Pytester, realworld: str) -> None:
    checks_project(
        pytester,
        f"GATEWAY_URL={realworld}\nSMOKE_TEST_TOKEN={API_KEY}\n",
        """
        [auth]
        header = "X-API-Key"
        scheme = ""
        """,
    )
    pytester.makepyfile(
        with_leaky_test("""
        async def test_keyed(http_client, auth_headers, test_user_token):
            assert auth_headers == {"X-API-Key": test_user_token}
            assert (await http_client.get("/api/keyed", headers=auth_headers)).status_code == 200
        """)
    )
    result = pytester.runpytest("--smoke-env", "svc", "--smoke-checks", "checks.toml", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    assert_never_shown(result.stdout.str() + result.stderr.str(), API_KEY)


def test_a_static_token_wins_over_a_configured_login(pytester: pytest.Pytester) -> None:
    # The login path would need GATEWAY_URL; with SMOKE_TEST_TOKEN set it is never looked at.
    checks_project(
        pytester,
        f"SMOKE_TEST_TOKEN={API_KEY}\n",
        '[auth.login]\nurl = "/api/auth/token"\nformat = "form"\n',
    )
    pytester.makepyfile(f"""
        async def test_token(test_user_token):
            assert test_user_token == {API_KEY!r}
    """)
    result = pytester.runpytest("--smoke-env", "svc", "--smoke-checks", "checks.toml")
    result.assert_outcomes(passed=1)


def test_a_login_body_applies_to_the_profile_login_url(
    pytester: pytest.Pytester, realworld: str
) -> None:
    # No url in [auth.login]: SMOKE_TEST_LOGIN_URL, with the file's body and token path.
    checks_project(
        pytester,
        f"SMOKE_TEST_LOGIN_URL={realworld}/api/users/login\nSMOKE_TEST_PASSWORD={PASSWORD}\n"
        f"SMOKE_TEST_TOKEN_PATH=user.token\nLOGIN_EMAIL={EMAIL}\n",
        """
        [auth.login]
        body = { user = { email = "${LOGIN_EMAIL}", password = "${SMOKE_TEST_PASSWORD}" } }
        """,
    )
    pytester.makepyfile(f"""
        async def test_token(test_user_token, auth_headers):
            assert test_user_token == {ENVELOPE_TOKEN!r}
            assert auth_headers == {{"Authorization": "Bearer {ENVELOPE_TOKEN}"}}
    """)
    result = pytester.runpytest("--smoke-env", "svc", "--smoke-checks", "checks.toml")
    result.assert_outcomes(passed=1)


def test_no_token_at_the_path_names_the_path_and_the_answer_keys(
    pytester: pytest.Pytester, realworld: str
) -> None:
    checks_project(
        pytester,
        f"GATEWAY_URL={realworld}\nSMOKE_TEST_PASSWORD={PASSWORD}\n",
        f"""
        [auth.login]
        url = "/api/users/login"
        body = {{ user = {{ email = "{EMAIL}", password = "${{SMOKE_TEST_PASSWORD}}" }} }}
        """,
    )
    pytester.makepyfile("async def test_token(test_user_token): pass")
    result = pytester.runpytest("--smoke-env", "svc", "--smoke-checks", "checks.toml")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*login at {realworld}/api/users/login answered HTTP 200 without a token at "
            "'access_token' (the answer has keys user); point the token path (auth.login.token "
            "in the checks file, or SMOKE_TEST_TOKEN_PATH) at the token"
        ]
    )
    output = result.stdout.str()
    assert ENVELOPE_TOKEN not in output
    assert PASSWORD not in output


def test_a_rejected_form_login_names_the_url_and_status(
    pytester: pytest.Pytester, realworld: str
) -> None:
    checks_project(
        pytester,
        f"GATEWAY_URL={realworld}\nSMOKE_TEST_USERNAME={USER}\nSMOKE_TEST_PASSWORD=wrong-planted-7\n",
        """
        [auth.login]
        url = "/api/auth/token"
        format = "form"
        """,
    )
    pytester.makepyfile("async def test_token(test_user_token): pass")
    result = pytester.runpytest("--smoke-env", "svc", "--smoke-checks", "checks.toml")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"*login at {realworld}/api/auth/token as '{USER}' failed: HTTP 400 Bad Request*"]
    )
    assert "wrong-planted-7" not in result.stdout.str()


def test_a_login_url_without_credentials_is_a_usage_error(pytester: pytest.Pytester) -> None:
    project(pytester, "SMOKE_TEST_LOGIN_URL=https://api.example.com/login\nSMOKE_TEST_USERNAME=u\n")
    pytester.makepyfile("async def test_token(test_user_token): pass")
    result = pytester.runpytest("--smoke-env", "svc")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*smoke: SMOKE_TEST_LOGIN_URL is set (profile .env.svc) but SMOKE_TEST_PASSWORD is not;*"]
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_gateway_is_one_cause(pytester: pytest.Pytester) -> None:
    port = closed_port()
    project(pytester, f"GATEWAY_URL=http://127.0.0.1:{port}\n")
    pytester.makepyfile("""
        import pytest
        pytestmark = [pytest.mark.smoke, pytest.mark.service]
        @pytest.mark.parametrize("i", range(3))
        async def test_api(http_client, i): pass
    """)
    result = pytester.runpytest("--smoke-env", "svc", "--smoke-gate")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(
        [f"causes:  service unreachable at 127.0.0.1:{port}: connection refused (3 failed)"]
    )


def test_not_configured_skips(pytester: pytest.Pytester) -> None:
    project(pytester, "")
    pytester.makepyfile("""
        async def test_api(http_client): pass
        async def test_auth(auth_headers): pass
    """)
    result = pytester.runpytest("--smoke-env", "svc", "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        [
            "*GATEWAY_URL is not set in the env profile",
            "*no authentication configured: set SMOKE_TEST_TOKEN*",
        ]
    )


def test_fixtures_are_documented(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures")
    for name in ("http_client", "http_latencies", "test_user_token", "auth_headers"):
        result.stdout.fnmatch_lines([f"{name}* -- *"])


@pytest.mark.parametrize("extra", [(), ("-n", "2")], ids=["single", "xdist"])
def test_request_latency_reaches_the_reports(
    pytester: pytest.Pytester, service: str, extra: tuple[str, ...]
) -> None:
    import jsonschema

    from pytest_smoke.reports.json_report import SCHEMA_FILE

    project(pytester, f"GATEWAY_URL={service}\nSMOKE_TEST_HTTP_BACKOFF=0.05\n")
    pytester.makepyfile("""
        import pytest
        pytestmark = [pytest.mark.smoke, pytest.mark.service]

        @pytest.mark.parametrize("i", range(4))
        async def test_health(http_client, i):
            assert (await http_client.get("/health")).status_code == 200

        async def test_flaky(http_client):
            assert (await http_client.get("/flaky")).status_code == 200
    """)
    args = ("--smoke-env", "svc", "--smoke-report-json", "gate.json")
    result = pytester.runpytest_subprocess(*extra, *args) if extra else pytester.runpytest(*args)
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["requests: 5, p50 *, p95 *, p99 *, max * (GET /*), 1 retried"])
    document = json.loads((pytester.path / "gate.json").read_text())
    jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    requests = document["requests"]
    assert (requests["count"], requests["retried"], requests["unanswered"]) == (5, 1, 0)
    assert requests["p50_seconds"] <= requests["p95_seconds"] <= requests["max_seconds"]
