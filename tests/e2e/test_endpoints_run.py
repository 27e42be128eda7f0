"""The bundled endpoint and workflow checks, run by pytest with the gate, against a small local
API that can be broken on purpose: the verdicts, the failure lines, what is left behind, the
read-only profile, -k, xdist, masking. (Against the two example deployments: test_demo_run.py
and test_articles_run.py, whose checks files have [[endpoints]] and [[workflows]] too.)"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import pytest

from clients.threaded_server import JsonHandler, serving

from .suite_run import outcomes, run_suite_modules

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

SUITE_TOKEN = "suite-token-0123456789"

CHECKS = """
version = 1

[endpoint_defaults]
concurrency = 4
timeout_seconds = 5

[[endpoints]]
name = "health"
path = "/health"
status = [200]
expect = { "status" = "ok" }
critical = true

[[endpoints]]
name = "reports"
path = "/reports"
auth = true

[[endpoints]]
name = "search"
method = "POST"
path = "/search"
body = { q = "{marker}" }
"""
#: More endpoints, so that one non-critical failure stays under the gate's failure rate.
CHECKS += "".join(f'[[endpoints]]\nname = "ping-{i}"\npath = "/health"\n' for i in range(1, 7))
CHECKS += """
[[workflows]]
name = "signup"
critical = true

[[workflows.steps]]
name = "sign up"
method = "POST"
path = "/api/users"
body = { user = { name = "{marker}", email = "{email}" } }
status = [201]
save = { user_id = "user.id" }

[[workflows.steps]]
name = "log in"
method = "POST"
path = "/api/login"
format = "form"
body = { name = "{marker}" }
save = { token = "access_token" }

[[workflows.steps]]
name = "profile"
path = "/api/user"
headers = { Authorization = "Bearer {saved.token}" }
expect = { "user.id" = "{saved.user_id}" }

[[workflows.finally]]
name = "delete"
method = "DELETE"
path = "/api/users/{saved.user_id}"
status = [204, 404]
"""


class Api(ThreadingHTTPServer):
    """The local deployment: its state, and what to break (``broken``: path -> status)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.broken: dict[str, int] = {}
        self.users: dict[int, str] = {}
        self.tokens: dict[str, int] = {}
        self.hits: Counter[str] = Counter()
        self.headers_seen: dict[str, dict[str, str]] = {}
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(JsonHandler):
    server: Api

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        api, path = self.server, self.path.split("?")[0]
        body = self._body()
        with api.lock:
            api.hits[f"{self.command} {path}"] += 1
            api.headers_seen[path] = dict(self.headers)
        broken = api.broken.get(path)
        if broken:
            token = next(iter(api.tokens), "")
            self.answer_json(broken, {"error": f"broken on purpose (token {token})"})
            return
        if (self.command, path) == ("GET", "/health"):
            self.answer_json(200, {"status": "ok"})
        elif (self.command, path) == ("GET", "/reports"):
            auth = self.headers.get("Authorization")
            self.answer_json(200 if auth == f"Bearer {SUITE_TOKEN}" else 401, {"reports": []})
        elif (self.command, path) == ("POST", "/search"):
            self.answer_json(200, {"hits": 0})
        elif (self.command, path) == ("POST", "/api/users"):
            user = json.loads(body)["user"]
            with api.lock:
                number = len(api.users) + len(api.tokens) + 1
                api.users[number] = user["name"]
            self.answer_json(201, {"user": {"id": number, **user}})
        elif (self.command, path) == ("POST", "/api/login"):
            name = parse_qs(body.decode())["name"][0]
            number = next(n for n, user in api.users.items() if user == name)
            token = f"tok-{secrets.token_hex(8)}"
            api.tokens[token] = number
            self.answer_json(200, {"access_token": token})
        elif (self.command, path) == ("GET", "/api/user"):
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            number = api.tokens.get(token)
            self.answer_json(200 if number else 401, {"user": {"id": number}})
        elif self.command == "DELETE" and path.startswith("/api/users/"):
            found = api.users.pop(int(path.rsplit("/", 1)[1]), None)
            self.answer_json(204 if found else 404)
        else:
            self.answer_json(404, {"error": "no such route"})

    do_GET = do_POST = do_DELETE = _handle


@pytest.fixture
def api() -> Iterator[Api]:
    with serving(Api()) as server:
        yield server


def run_suite(
    tmp_path: Path, url: str, *args: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], str]:
    """The endpoint and workflow modules of the bundled suite, gated, against ``url``."""
    return run_suite_modules(
        tmp_path,
        url,
        ("pytest_smoke.suite.test_endpoints", "pytest_smoke.suite.test_workflows"),
        CHECKS,
        SUITE_TOKEN,
        *args,
        env=env,
    )


PINGS = {f"test_endpoint[ping-{i}]" for i in range(1, 7)}
ALL = {
    "test_endpoint[health]",
    "test_endpoint[reports]",
    "test_endpoint[search]",
    "test_workflow[signup]",
    *PINGS,
}


def test_a_healthy_deployment_proceeds_with_a_test_per_entry(tmp_path: Path, api: Api) -> None:
    status, document, output = run_suite(tmp_path, api.url)
    assert status == 0, output[-3000:]
    assert document["verdict"] == "PROCEED", document["reasons"]
    assert outcomes(document) == dict.fromkeys(ALL, "passed")
    assert document["left_behind"] == []
    assert api.users == {}
    # one request per endpoint, the auth headers only where asked for
    assert (api.hits["GET /health"], api.hits["GET /reports"], api.hits["POST /search"]) == (
        7,
        1,
        1,
    )
    assert api.headers_seen["/reports"]["Authorization"] == f"Bearer {SUITE_TOKEN}"
    assert "Authorization" not in api.headers_seen["/health"]
    assert SUITE_TOKEN not in output


def test_a_failing_endpoint_names_method_url_status_and_body(tmp_path: Path, api: Api) -> None:
    api.broken["/reports"] = 500
    status, document, output = run_suite(tmp_path, api.url)
    assert document["verdict"] == "MONITOR", document["reasons"]
    assert status == 0
    assert outcomes(document)["test_endpoint[reports]"] == "failed"
    assert (
        f"GET {api.url}/reports answered 500, expected 2xx: "
        '{"error": "broken on purpose (token )"}'
    ) in output
    assert "1 non-critical smoke test failed" in " ".join(document["reasons"])


def test_a_failing_critical_endpoint_rolls_back(tmp_path: Path, api: Api) -> None:
    api.broken["/health"] = 503
    status, document, output = run_suite(tmp_path, api.url)
    assert status == 11, output[-3000:]
    assert document["verdict"] == "ROLLBACK"
    assert any(reason.endswith("::test_endpoint[health]") for reason in document["reasons"])
    assert outcomes(document)["test_endpoint[reports]"] == "passed"  # each its own verdict


def test_a_workflow_failing_midway_cleans_up_and_rolls_back(tmp_path: Path, api: Api) -> None:
    api.broken["/api/user"] = 500
    status, document, output = run_suite(tmp_path, api.url)
    assert status == 11, output[-3000:]
    assert document["verdict"] == "ROLLBACK"
    assert outcomes(document)["test_workflow[signup]"] == "failed"
    assert f'workflow signup: step 3 "profile": GET {api.url}/api/user answered 500' in output
    assert api.hits["DELETE /api/users/1"] == 1  # the finally step ran
    assert api.users == {}
    assert document["left_behind"] == []
    # the token the log in saved is masked, also where the server's answer quotes it
    (token,) = api.tokens
    assert token not in output
    assert token not in json.dumps(document)
    assert "(token ***)" in output


def test_a_failed_cleanup_is_reported_left_behind(tmp_path: Path, api: Api) -> None:
    api.broken["/api/users/1"] = 500
    status, document, output = run_suite(tmp_path, api.url)
    assert document["verdict"] != "PROCEED", output[-3000:]
    assert status != 0
    assert f"left behind: {api.url}/api/users/1 (DELETE -> 500)" in output
    assert f"{api.url}/api/users/1 (DELETE -> 500)" in json.dumps(document["left_behind"])


def test_read_only_profile_runs_only_what_does_not_write(tmp_path: Path, api: Api) -> None:
    status, document, output = run_suite(tmp_path, api.url, env={"SMOKE_TEST_READ_ONLY": "true"})
    assert status == 0, output[-3000:]
    assert document["verdict"] == "PROCEED"
    assert set(outcomes(document)) == {"test_endpoint[health]", "test_endpoint[reports]", *PINGS}
    (group,) = [g for g in document["not_applicable"] if "read-only" in g["reason"]]
    assert {nodeid.rsplit("::", 1)[1] for nodeid in group["tests"]} == {
        "test_endpoint[search]",
        "test_workflow[signup]",
    }
    assert not any(hit.startswith(("POST", "DELETE")) for hit in api.hits)


def test_only_the_selected_endpoints_are_requested(tmp_path: Path, api: Api) -> None:
    status, document, output = run_suite(tmp_path, api.url, "-k", "reports")
    assert status == 0, output[-3000:]
    assert set(outcomes(document)) == {"test_endpoint[reports]"}
    assert set(api.hits) == {"GET /reports"}


def test_xdist_workers_send_a_writing_endpoint_once(tmp_path: Path, api: Api) -> None:
    status, document, output = run_suite(tmp_path, api.url, "-n", "2")
    assert status == 0, output[-3000:]
    assert outcomes(document) == dict.fromkeys(ALL, "passed")
    assert api.hits["POST /search"] == 1
    assert api.users == {}


def test_without_entries_the_checks_are_not_configured(tmp_path: Path, api: Api) -> None:
    checks = tmp_path / "other.toml"
    checks.write_text('[service]\nhealth = ["/health"]\n')
    status, document, output = run_suite(
        tmp_path, api.url, env={"SMOKE_TEST_CHECKS_FILE": str(checks)}
    )
    assert status == 5 or document.get("tests") == [], output[-3000:]
    not_run = {
        nodeid.rsplit("::", 1)[1]
        for group in document.get("not_applicable", [])
        for nodeid in group["tests"]
    }
    assert not_run == {"test_endpoint", "test_workflow"}
    assert not api.hits


# Timing on a loaded 2-core CI machine (two xdist workers, each with servers of its own) can
# miss by a fraction: rerun before calling it a failure; a real regression fails all three.
@pytest.mark.flaky(reruns=2, reruns_delay=2)
@pytest.mark.parametrize(("count", "concurrency"), [(24, 6), (130, 120)])
def test_the_concurrency_bound_holds_for_the_suite(
    tmp_path: Path, count: int, concurrency: int
) -> None:
    # 120 at once: more than httpx's default pool of 100, which the client is sized beyond
    in_flight, most = 0, 0  # counted by the server
    lock = threading.Lock()

    class Slow(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            nonlocal in_flight, most
            with lock:
                in_flight += 1
                most = max(most, in_flight)
            time.sleep(0.2)
            with lock:
                in_flight -= 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 512  # every connect at once, none waiting for a SYN retry

    server = Server(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        checks = tmp_path / "many.toml"
        entries = "".join(f'[[endpoints]]\nname = "e{i}"\npath = "/e/{i}"\n' for i in range(count))
        checks.write_text(f"[endpoint_defaults]\nconcurrency = {concurrency}\n{entries}")
        url = f"http://127.0.0.1:{server.server_address[1]}"
        environment = {"SMOKE_TEST_CHECKS_FILE": str(checks)}
        status, document, output = run_suite(tmp_path, url, env=environment)
    finally:
        server.shutdown()
        server.server_close()
    assert status == 0, output[-3000:]
    assert document["totals"]["passed"] == count
    assert most == concurrency
