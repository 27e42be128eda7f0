"""The endpoint list against a real local HTTP server: each kind of failure, one line each, and
the concurrency bound as the server counts it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import pytest_asyncio
from aiohttp import web

from clients.http_server import Reply, ScriptedServer, closed_port, silent_listener
from pytest_smoke.checks import ChecksError, load_checks
from pytest_smoke.checks.endpoints import Endpoint, endpoint_defaults, endpoints_of, fetch
from pytest_smoke.checks.step import Step, run
from pytest_smoke.clients.http import build_http_client

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from pytest_smoke.checks import Checks

pytestmark = pytest.mark.asyncio
FAST: dict[str, Any] = {"timeout": 5.0, "connect_timeout": 2.0, "retries": 0, "backoff": 0.01}
ROOT_DOCS = "docs/checks-file.md"


@pytest_asyncio.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    async with ScriptedServer() as running:
        yield running


def client_for(url: str, **options: Any) -> httpx.AsyncClient:
    """The suite's own client, as the http_client fixture builds it."""
    return build_http_client(url, **{**FAST, **options})


def load(tmp_path: Path, text: str, variables: dict[str, str] | None = None) -> Checks:
    path = tmp_path / "checks.toml"
    path.write_text(text)
    return load_checks(path, variables or {})


def endpoint(tmp_path: Path, text: str) -> Endpoint:
    (only,) = endpoints_of(load(tmp_path, text))
    return only


async def outcome_of(tmp_path: Path, url: str, text: str, **options: Any) -> str | None:
    """The failure line of the one endpoint ``text`` describes, requested from ``url``."""
    checks = load(tmp_path, text)
    defaults = endpoint_defaults(checks)
    async with client_for(url) as client:
        outcomes = await fetch(
            client,
            endpoints_of(checks),
            concurrency=defaults.concurrency,
            timeout=options.get("timeout", defaults.timeout_seconds),
            auth_headers={"Authorization": "Bearer suite-token"},
        )
    (only,) = outcomes.values()
    return only.failure


# --- the table ---------------------------------------------------------------------------------


async def test_defaults_of_the_list_and_of_each_entry(tmp_path: Path) -> None:
    checks = load(tmp_path, '[[endpoints]]\nname = "health"\npath = "/health"\n')
    defaults = endpoint_defaults(checks)
    assert (defaults.concurrency, defaults.timeout_seconds, defaults.auth) == (20, 10.0, False)
    assert defaults.latency_ms is None
    (health,) = endpoints_of(checks)
    assert health.name == "health"
    assert (health.critical, health.writes) == (False, False)
    step = health.step
    assert (step.method, step.path, step.form, step.auth, step.latency_ms) == (
        "GET",
        "/health",
        False,
        False,
        None,
    )
    assert step.status == frozenset(range(200, 300))
    assert step.key == "endpoints[0]"


async def test_endpoint_defaults_apply_unless_the_entry_says(tmp_path: Path) -> None:
    checks = load(
        tmp_path,
        "[endpoint_defaults]\nconcurrency = 3\ntimeout_seconds = 2.5\nauth = true\n"
        "latency_ms = 800\n"
        '[[endpoints]]\nname = "a"\npath = "/a"\n'
        '[[endpoints]]\nname = "b"\npath = "/b"\nauth = false\nlatency_ms = 50\n'
        'method = "DELETE"\nstatus = [204]\ncritical = true\n',
    )
    assert endpoint_defaults(checks).concurrency == 3
    assert endpoint_defaults(checks).timeout_seconds == 2.5
    a, b = endpoints_of(checks)
    assert (a.step.auth, a.step.latency_ms, a.writes, a.critical) == (True, 800, False, False)
    assert (b.step.auth, b.step.latency_ms, b.writes, b.critical) == (False, 50, True, True)
    assert b.step.status == frozenset({204})


async def test_header_values_from_variables_are_secrets(tmp_path: Path) -> None:
    checks = load(
        tmp_path,
        '[[endpoints]]\nname = "partner"\npath = "https://partner.example.com/status"\n'
        'headers = { X-Api-Key = "${PARTNER_KEY}" }\nbody = { channel = "${CHANNEL}" }\n',
        {"PARTNER_KEY": "pk-0123456789", "CHANNEL": "orders"},
    )
    assert checks.secret_values == frozenset({"pk-0123456789"})


# --- one line per failure kind --------------------------------------------------------------


async def test_a_healthy_endpoint_passes(server: ScriptedServer, tmp_path: Path) -> None:
    server.script("/health", Reply(200, json={"status": "ok", "data": {"version": "1.2"}}))
    text = (
        '[[endpoints]]\nname = "health"\npath = "/health"\nstatus = [200]\n'
        'expect = { "status" = "ok", "data.version" = "1.2", "data" = { version = "1.2" } }\n'
        "latency_ms = 5000\n"
    )
    assert await outcome_of(tmp_path, server.url, text) is None


async def test_wrong_status_names_method_url_status_and_body(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.script("/health", Reply(503, json={"status": "down"}))
    text = '[[endpoints]]\nname = "health"\npath = "/health"\nstatus = [200]\n'
    failure = await outcome_of(tmp_path, server.url, text)
    assert failure == (f'GET {server.url}/health answered 503, expected 200: {{"status": "down"}}')


async def test_any_2xx_is_the_default_status(server: ScriptedServer, tmp_path: Path) -> None:
    server.script("/accepted", Reply(202, body="queued"))
    server.script("/missing", Reply(404, body="no such thing\nsecond line"))
    ok = '[[endpoints]]\nname = "a"\npath = "/accepted"\n'
    assert await outcome_of(tmp_path, server.url, ok) is None
    missing = '[[endpoints]]\nname = "m"\npath = "/missing"\n'
    failure = await outcome_of(tmp_path, server.url, missing)
    assert failure == f"GET {server.url}/missing answered 404, expected 2xx: no such thing"


async def test_slow_answer_fails_with_its_time_and_limit(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.script("/slow", Reply(200, json={"ok": True}, delay=0.3))
    text = '[[endpoints]]\nname = "slow"\npath = "/slow"\nlatency_ms = 100\n'
    failure = await outcome_of(tmp_path, server.url, text)
    assert failure is not None
    match = re.fullmatch(
        rf"GET {re.escape(server.url)}/slow answered 200 in (\d+) ms, over its limit of 100 ms",
        failure,
    )
    assert match, failure
    assert int(match.group(1)) >= 300


async def test_latency_limit_from_the_defaults(server: ScriptedServer, tmp_path: Path) -> None:
    server.script("/slow", Reply(200, delay=0.2))
    text = '[endpoint_defaults]\nlatency_ms = 50\n[[endpoints]]\nname = "slow"\npath = "/slow"\n'
    failure = await outcome_of(tmp_path, server.url, text)
    assert failure is not None
    assert "over its limit of 50 ms" in failure


async def test_expect_mismatch_names_the_path_and_both_values(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.script("/health", Reply(200, json={"status": "degraded", "checks": [1, 2]}))
    text = '[[endpoints]]\nname = "health"\npath = "/health"\nexpect = { "status" = "ok" }\n'
    failure = await outcome_of(tmp_path, server.url, text)
    assert failure == (
        f'GET {server.url}/health answered 200 with status = "degraded", expected "ok": '
        '{"status": "degraded", "checks": [1, 2]}'
    )
    absent = '[[endpoints]]\nname = "h"\npath = "/health"\nexpect = { "data.version" = "1.2" }\n'
    failure = await outcome_of(tmp_path, server.url, absent)
    assert failure is not None
    assert 'with data.version = null, expected "1.2"' in failure


async def test_numbers_compare_by_value_and_tables_by_their_keys(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.script("/x", Reply(200, json={"count": 3.0, "page": {"size": 1, "next": None}}))
    text = (
        '[[endpoints]]\nname = "x"\npath = "/x"\nexpect = { "count" = 3, "page" = { size = 1 } }\n'
    )
    assert await outcome_of(tmp_path, server.url, text) is None


async def test_connection_refused_is_no_answer(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    text = f'[[endpoints]]\nname = "gone"\npath = "{url}/health"\n'
    failure = await outcome_of(tmp_path, "http://127.0.0.1:9", text)
    assert failure == f"GET {url}/health: no answer: connection refused"


async def test_a_request_over_the_timeout_is_no_answer(tmp_path: Path) -> None:
    with silent_listener() as port:
        text = (
            "[endpoint_defaults]\ntimeout_seconds = 0.2\n"
            f'[[endpoints]]\nname = "mute"\npath = "http://127.0.0.1:{port}/health"\n'
        )
        started = time.monotonic()
        failure = await outcome_of(tmp_path, "http://127.0.0.1:9", text)
        assert time.monotonic() - started < 3
    assert failure == f"GET http://127.0.0.1:{port}/health: no answer: no response within 0.2s"


async def test_bad_json_is_named_when_something_is_expected(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.script("/page", Reply(200, body="<html><body>maintenance</body></html>"))
    server.script("/empty", Reply(200, body=b""))
    text = '[[endpoints]]\nname = "p"\npath = "/page"\nexpect = { "status" = "ok" }\n'
    failure = await outcome_of(tmp_path, server.url, text)
    assert failure == (
        f"GET {server.url}/page answered 200, not JSON: <html><body>maintenance</body></html>"
    )
    empty = '[[endpoints]]\nname = "e"\npath = "/empty"\nexpect = { "status" = "ok" }\n'
    failure = await outcome_of(tmp_path, server.url, empty)
    assert failure == f"GET {server.url}/empty answered 200, not JSON: (empty body)"
    # nothing expected: the body is not read as JSON
    plain = '[[endpoints]]\nname = "plain"\npath = "/page"\n'
    assert await outcome_of(tmp_path, server.url, plain) is None


async def test_an_unsafe_request_is_not_redirected(server: ScriptedServer, tmp_path: Path) -> None:
    server.script("/api/things", Reply(307, headers={"Location": "/api/things/"}))
    text = '[[endpoints]]\nname = "t"\nmethod = "POST"\npath = "/api/things"\nbody = { a = 1 }\n'
    failure = await outcome_of(tmp_path, server.url, text)
    assert failure == (
        f"POST {server.url}/api/things answered 307 -> /api/things/, expected 2xx: (empty body)"
    )
    assert server.count("/api/things/") == 0


# --- what is sent ------------------------------------------------------------------------------


async def test_auth_headers_body_and_marker_are_sent(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.script("/search", Reply(200, json={"hits": 0}))
    server.script("/form", Reply(200))
    server.script("/public", Reply(200))
    text = (
        '[[endpoints]]\nname = "search"\nmethod = "POST"\npath = "/search"\nauth = true\n'
        'headers = { X-Trace = "{marker}" }\nbody = { q = "{marker}", size = 1 }\n'
        '[[endpoints]]\nname = "form"\nmethod = "POST"\npath = "/form"\nformat = "form"\n'
        'body = { q = "{marker}" }\nauth = true\nheaders = { Authorization = "Token own" }\n'
        '[[endpoints]]\nname = "public"\npath = "/public"\n'
    )
    checks = load(tmp_path, text)
    async with client_for(server.url) as client:
        outcomes = await fetch(
            client,
            endpoints_of(checks),
            concurrency=2,
            auth_headers={"Authorization": "Bearer suite-token"},
        )
    assert all(outcome.ok for outcome in outcomes.values()), outcomes
    hits = {hit.path: hit for hit in server.hits}
    search = hits["/search"]
    assert search.headers["Authorization"] == "Bearer suite-token"
    body = json.loads(search.body)
    assert body["size"] == 1
    assert re.fullmatch(r"smoke-\d{10}-[0-9a-f]{8}", body["q"])
    assert search.headers["X-Trace"] == body["q"]
    form = hits["/form"]
    assert form.headers["Authorization"] == "Token own"  # its own header wins
    assert form.form()["q"] != body["q"]  # a marker per endpoint
    assert "Authorization" not in hits["/public"].headers


# --- fetching the list -------------------------------------------------------------------------


class InFlight:
    """A route that answers after ``delay``, counting the requests it holds at once."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.now = 0
        self.most = 0
        self.served = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.now -= 1
        self.served += 1
        return web.json_response({"ok": True})


def many(count: int, concurrency: int) -> str:
    lines = [f"[endpoint_defaults]\nconcurrency = {concurrency}\n"]
    lines += [f'[[endpoints]]\nname = "e{i}"\npath = "/slow"\n' for i in range(count)]
    return "".join(lines)


@pytest.mark.parametrize(("count", "concurrency"), [(40, 7), (12, 1), (30, 50)])
async def test_the_concurrency_bound_holds_on_the_server(
    server: ScriptedServer, tmp_path: Path, count: int, concurrency: int
) -> None:
    route = InFlight(0.05)
    server.route("/slow", route.handle)
    checks = load(tmp_path, many(count, concurrency))
    async with client_for(server.url) as client:
        outcomes = await fetch(client, endpoints_of(checks), concurrency=concurrency)
    assert route.served == count
    assert route.most == min(count, concurrency)
    assert sorted(outcomes) == sorted(f"e{i}" for i in range(count))
    assert all(outcome.ok for outcome in outcomes.values())


@contextlib.asynccontextmanager
async def wide_server(handler: InFlight) -> AsyncIterator[str]:
    """``handler`` on /slow, on a listener whose backlog holds every connect at once (the
    default 128 would delay the rest by a SYN retry)."""
    app = web.Application()
    app.router.add_get("/slow", handler.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_more_than_the_default_pool_in_flight_when_asked(tmp_path: Path) -> None:
    route = InFlight(0.3)
    checks = load(tmp_path, many(150, 150))
    async with wide_server(route) as url, client_for(url, max_connections=150) as client:
        await fetch(client, endpoints_of(checks), concurrency=150)
    assert route.most == 150  # all at once: not capped at the default pool's 100


async def test_a_failing_endpoint_fails_only_its_own_outcome(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.script("/ok", Reply(200))
    server.script("/broken", Reply(500, body="boom"))
    text = (
        '[[endpoints]]\nname = "ok"\npath = "/ok"\n'
        '[[endpoints]]\nname = "broken"\npath = "/broken"\n'
        f'[[endpoints]]\nname = "refused"\npath = "http://127.0.0.1:{closed_port()}/"\n'
    )
    checks = load(tmp_path, text)
    async with client_for(server.url) as client:
        outcomes = await fetch(client, endpoints_of(checks), concurrency=3)
    assert outcomes["ok"].ok
    assert outcomes["broken"].failure == (
        f"GET {server.url}/broken answered 500, expected 2xx: boom"
    )
    assert outcomes["refused"].status is None
    assert "connection refused" in (outcomes["refused"].failure or "")


async def test_a_concurrency_below_one_is_refused() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(ValueError, match="at least 1"):
            await fetch(client, [], concurrency=0)


async def test_a_step_runs_on_its_own(server: ScriptedServer) -> None:
    server.script("/x", Reply(201, json={"id": 7}))
    step = Step(key="k", method="POST", path="/x/{marker}", status=frozenset({201}))
    server.script("/x/m1", Reply(201, json={"id": 7}))
    async with client_for(server.url) as client:
        outcome = await run(step, client, {"marker": "m1"})
    assert outcome.ok
    assert (outcome.method, outcome.url, outcome.status) == ("POST", f"{server.url}/x/m1", 201)


# --- a checks file the loader refuses ----------------------------------------------------------

BAD = [
    pytest.param(
        '[[endpoints]]\nname = "a"\npath = "/a"\n[[endpoints]]\nname = "a"\npath = "/b"\n',
        "endpoints[1].name: 'a' is also the name of endpoints[0]; each needs a name of its own "
        "(the test id is test_endpoint[a])",
        id="duplicate-name",
    ),
    pytest.param(
        '[[endpoints]]\nname = "a"\npath = "/a/{id}"\n',
        "endpoints[0].path: unknown placeholder {id}; use {marker} (or {{id}} for literal braces)",
        id="unknown-placeholder",
    ),
    pytest.param(
        '[[endpoints]]\nname = "a"\npath = "/a"\nexpect = { "a..b" = 1 }\n',
        "endpoints[0].expect.a..b: not a valid JMESPath expression 'a..b'",
        id="bad-expect-path",
    ),
    pytest.param(
        '[[endpoints]]\nname = "has space"\npath = "/a"\n',
        'endpoints[0].name: expected a name of letters, digits, "-", "_" and ".", got the '
        'string "has space"',
        id="name-with-a-space",
    ),
    pytest.param(
        '[endpoint_defaults]\nconcurrency = 0\n[[endpoints]]\nname = "a"\npath = "/a"\n',
        "endpoint_defaults.concurrency: expected an integer from 1 to 500, got 0",
        id="concurrency-zero",
    ),
    pytest.param(
        "[endpoint_defaults]\ntimeout_seconds = 0\n",
        "endpoint_defaults.timeout_seconds: expected a number of seconds above 0, at most 600, "
        "got 0",
        id="timeout-zero",
    ),
    pytest.param(
        '[[endpoints]]\nname = "a"\npath = "/a"\nmethod = "get"\n',
        'endpoints[0].method: expected one of "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", '
        '"DELETE", got the string "get"',
        id="lower-case-method",
    ),
    pytest.param(
        '[[endpoints]]\nname = "a"\npath = "/a"\nformat = "form"\nbody = { a = { b = "c" } }\n',
        'endpoints[0].body.a: a form body (format = "form") must be flat, string values only',
        id="form-not-flat",
    ),
    pytest.param(
        '[[endpoints]]\nname = "a"\n',
        "endpoints[0]: missing required key path",
        id="no-path",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD)
async def test_a_bad_list_is_one_line_naming_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ChecksError) as caught:
        load(tmp_path, text)
    assert str(caught.value).startswith(f"checks file {tmp_path / 'checks.toml'}: {message}")
    assert "\n" not in str(caught.value)


async def test_the_docs_example_of_endpoints_and_workflows_loads(tmp_path: Path) -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / ROOT_DOCS).read_text()
    example = re.search(
        r"#### Example: an endpoint list and a sign-up workflow.*?```toml\n(.*?)```", docs, re.S
    )
    assert example is not None
    checks = load(tmp_path, example.group(1), {"PARTNER_API_KEY": "pk-0123456789"})
    assert [e.name for e in endpoints_of(checks)] == ["health", "orders", "partner-status"]
    assert checks.secret_values == frozenset({"pk-0123456789"})
    assert checks.get("workflows")[0]["finally"][0]["status"] == [204, 404]
