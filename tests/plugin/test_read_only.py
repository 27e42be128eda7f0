"""A read-only profile: http_client refuses writes to the gateway (the login still works),
database sessions are READ ONLY, and run_smoke_tests.sh --read-only turns it on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

# Imported before any pytester run: pytester drops modules first imported during a test.
import httpx
import pytest
import tenacity  # noqa: F401

from pytest_smoke.clients.http import ReadOnlyProfileError, build_http_client

from .test_database_fixtures import PG_URL, needs_postgres

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ro-token-planted-8086"
INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"


class Gateway(BaseHTTPRequestHandler):
    """Answers every method with 200 and records it; POST /login issues TOKEN."""

    requests: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self) -> None:
        self.requests.append(f"{self.command} {self.path}")
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ok = self.path != "/whoami" or self.headers.get("Authorization") == f"Bearer {TOKEN}"
        data = json.dumps({"access_token": TOKEN} if self.path == "/login" else {}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer


def serve() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def gateway() -> Iterator[str]:
    Gateway.requests.clear()
    server, url = serve()
    yield url
    server.shutdown()
    server.server_close()


def project(pytester: pytest.Pytester, profile: str) -> None:
    pytester.makeini(INI)
    pytester.makefile(".prod", **{".env": profile})


WRITES = """
    import pytest

    async def test_read(http_client):
        assert (await http_client.get("/api/items")).status_code == 200

    @pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
    async def test_write(http_client, method):
        await http_client.request(method, "/api/items/42?token=hidden", json={"name": "x"})
"""


def test_writes_through_http_client_are_refused_in_one_line(
    pytester: pytest.Pytester, gateway: str
) -> None:
    project(pytester, f"GATEWAY_URL={gateway}\nSMOKE_TEST_READ_ONLY=true\n")
    pytester.makepyfile(WRITES)
    result = pytester.runpytest("--smoke-env", "prod", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=4)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        result.stdout.fnmatch_lines(
            [
                f"E   *ReadOnlyProfileError: refusing {method} /api/items/42: "
                "profile 'prod' is read-only (SMOKE_TEST_READ_ONLY)"
            ]
        )
    assert Gateway.requests == ["GET /api/items"]  # no write ever left the machine
    assert "hidden" not in "\n".join(line for line in result.outlines if "refusing" in line)


def test_without_read_only_writes_go_through(pytester: pytest.Pytester, gateway: str) -> None:
    project(pytester, f"GATEWAY_URL={gateway}\n")
    pytester.makepyfile(WRITES)
    pytester.runpytest("--smoke-env", "prod").assert_outcomes(passed=5)
    assert len(Gateway.requests) == 5


def test_the_login_client_is_not_guarded(pytester: pytest.Pytester, gateway: str) -> None:
    project(
        pytester,
        f"GATEWAY_URL={gateway}\nSMOKE_TEST_LOGIN_URL={gateway}/login\n"
        "SMOKE_TEST_USERNAME=smoke-bot\nSMOKE_TEST_PASSWORD=ro-pw-planted\n",
    )
    pytester.makepyfile("""
        async def test_whoami(http_client, auth_headers):
            assert (await http_client.get("/whoami", headers=auth_headers)).status_code == 200
    """)
    pytester.runpytest("--smoke-env", "prod", "--smoke-read-only").assert_outcomes(passed=1)
    assert Gateway.requests == ["POST /login", "GET /whoami"]


@pytest.mark.asyncio
async def test_the_guard_covers_the_gateway_origin_only(gateway: str) -> None:
    other, other_url = serve()
    why = "this run is read-only (--smoke-read-only)"
    try:
        async with build_http_client(
            gateway, timeout=5, connect_timeout=5, retries=0, backoff=0.1, read_only=why
        ) as client:
            for target in ("/api/items", f"{gateway}/api/items"):
                with pytest.raises(ReadOnlyProfileError) as refused:
                    await client.post(target)
                assert str(refused.value) == f"refusing POST /api/items: {why}"
            assert (await client.head("/api/items")).status_code == 200
            assert (await client.options("/api/items")).status_code == 200
            assert (await client.post(f"{other_url}/hook")).status_code == 200
    finally:
        other.shutdown()
        other.server_close()
    assert Gateway.requests == ["HEAD /api/items", "OPTIONS /api/items", "POST /hook"]


@pytest.mark.asyncio
async def test_the_guard_follows_redirects() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/old":
            return httpx.Response(307, headers={"Location": "/new"})
        return httpx.Response(200)

    hooks = build_http_client(
        "http://api.example.com",
        timeout=5,
        connect_timeout=5,
        retries=0,
        backoff=0.1,
        read_only="x",
    ).event_hooks
    async with httpx.AsyncClient(
        base_url="http://api.example.com",
        transport=httpx.MockTransport(answer),
        event_hooks=hooks,
        follow_redirects=True,
    ) as client:
        assert (await client.get("/old")).status_code == 200
        with pytest.raises(ReadOnlyProfileError, match="refusing PUT /old: x"):
            await client.put("/old")


@needs_postgres
def test_database_sessions_are_read_only_under_a_read_only_profile(
    pytester: pytest.Pytester,
) -> None:
    project(pytester, f"SMOKE_TEST_DATABASE_URL={PG_URL}\nSMOKE_TEST_READ_ONLY=true\n")
    pytester.makepyfile("""
        import pytest
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        async def test_write_refused(db_session):
            with pytest.raises(DBAPIError, match="read-only transaction"):
                await db_session.execute(text("CREATE TEMP TABLE t (n int)"))
    """)
    pytester.runpytest("--smoke-env", "prod").assert_outcomes(passed=1)


@needs_postgres
def test_the_engine_is_read_only_too_under_a_read_only_profile(
    pytester: pytest.Pytester,
) -> None:
    project(pytester, f"SMOKE_TEST_DATABASE_URL={PG_URL}\nSMOKE_TEST_READ_ONLY=true\n")
    pytester.makepyfile("""
        import pytest
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        async def test_write_refused(db_engine):
            async with db_engine.connect() as connection:
                assert (await connection.execute(text("SELECT 1"))).scalar() == 1
                with pytest.raises(DBAPIError, match="read-only transaction"):
                    await connection.execute(text("CREATE TEMP TABLE t (n int)"))
    """)
    pytester.runpytest("--smoke-env", "prod").assert_outcomes(passed=1)


def test_run_smoke_tests_sh_read_only(tmp_path: Path) -> None:
    help_text = subprocess.run(
        ["bash", str(ROOT / "run_smoke_tests.sh"), "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "  --read-only        read-only profile (production)" in help_text
    profile = tmp_path / "prod.env"
    profile.write_text("GATEWAY_URL=http://127.0.0.1:9\n")
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SMOKE_", "AZURE_", "PYTEST_")) and key != "GATEWAY_URL"
    }
    environment["VIRTUAL_ENV"] = sys.prefix
    result = subprocess.run(
        [
            "bash",
            str(ROOT / "run_smoke_tests.sh"),
            "--read-only",
            "--verbose",
            "--env-file",
            str(profile),
            "--",
            "--collect-only",
            "-p",
            "no:randomly",
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    assert "SMOKE_TEST_READ_ONLY=True  [command line]" in result.stdout, result.stdout[-2000:]
