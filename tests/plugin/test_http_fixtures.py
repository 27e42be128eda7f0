"""http_client, http_latencies, test_user_token, auth_headers against a real local HTTP server."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, ClassVar

# Imported before any pytester run: pytester drops modules first imported during a test.
import httpx  # noqa: F401
import pytest
import tenacity  # noqa: F401

if TYPE_CHECKING:
    from collections.abc import Iterator

TOKEN = "issued-token-planted-5150"


class Service(BaseHTTPRequestHandler):
    """/health 200; /flaky 503 twice, then 200; /login issues TOKEN; /whoami checks it."""

    hits: ClassVar[Counter[str]] = Counter()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.hits[self.path] += 1
        if self.path == "/health":
            self._answer(200, {"status": "ok"})
        elif self.path == "/flaky":
            flaky = self.hits[self.path] <= 2
            self._answer(503 if flaky else 200, {"attempt": self.hits[self.path]})
        elif self.path == "/whoami":
            ok = self.headers.get("Authorization") == f"Bearer {TOKEN}"
            self._answer(200 if ok else 401, {"user": "smoke-bot"} if ok else {"error": "no"})
        else:
            self._answer(404, {"error": "not found"})

    def do_POST(self) -> None:
        self.hits[self.path] += 1
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/login" and body.get("password") == "pw-planted-77":
            self._answer(200, {"access_token": TOKEN, "expires_in": 3600})
        else:
            self._answer(401, {"error": "bad credentials"})


@pytest.fixture
def service() -> Iterator[str]:
    Service.hits.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


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
