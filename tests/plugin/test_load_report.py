"""The bundled load burst (``test_load_burst``) against a local server, as a pipeline runs it:
the JSON report's ``load`` section, the verdict block's line, under xdist too; broken
thresholds fail it in one line; a read-only profile runs the safe part of a mixed burst; a bad
``[load]`` stops the run with exit 4. Every burst here is 1 s at 20 requests a second."""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import jsonschema
import pytest

from pytest_smoke.reports.json_report import SCHEMA_FILE

if TYPE_CHECKING:
    from collections.abc import Iterator

SUITE = Path(__file__).resolve().parents[2] / "src" / "pytest_smoke" / "suite"

LOAD = """
[load]
duration_seconds = 1
rate = 20
{extra}
[[load.targets]]
path = "/api/items"
weight = 3

[[load.targets]]
path = "{second}"
{second_method}
[load.thresholds]
p99_ms = 2000
error_rate_percent = 1
"""


class Service(BaseHTTPRequestHandler):
    """200 for everything but ``/broken`` (503); remembers each request's method and path."""

    seen: ClassVar[list[tuple[str, str]]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def answer(self) -> None:
        self.seen.append((self.command, self.path))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        data = b'{"status": "ok"}'
        self.send_response(503 if self.path == "/broken" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = answer


@pytest.fixture
def service() -> Iterator[str]:
    Service.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Service)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_burst(
    pytester: pytest.Pytester,
    service: str,
    *args: str,
    second: str = "/health",
    second_method: str = "",
    extra: str = "",
) -> pytest.RunResult:
    # A copy of the suite: run in place, it would take the project's pyproject.toml as its ini.
    if not (pytester.path / "smoke").exists():
        shutil.copytree(
            SUITE, pytester.path / "smoke", ignore=shutil.ignore_patterns("__pycache__")
        )
    checks = LOAD.format(second=second, second_method=second_method, extra=extra)
    pytester.makefile(".toml", checks=checks)
    pytester.makefile(".http", **{".env": f"GATEWAY_URL={service}\n"})
    return pytester.runpytest_subprocess(
        "smoke/test_load_burst.py",
        "--smoke-env",
        "http",
        "--smoke-checks",
        "checks.toml",
        "--smoke-gate",
        "--smoke-report-json",
        "gate.json",
        "-p",
        "no:cacheprovider",
        *args,
    )


def report(pytester: pytest.Pytester) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((pytester.path / "gate.json").read_text())
    jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    return document


@pytest.mark.parametrize("extra", [(), ("-n", "2")], ids=["single", "xdist"])
def test_the_burst_reaches_the_json_report_and_the_verdict_block(
    pytester: pytest.Pytester, service: str, extra: tuple[str, ...]
) -> None:
    result = run_burst(pytester, service, *extra)
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*smoke gate: PROCEED*",
            "load: 20 requests in 1.* s, *.*/s (target 20/s), p50 * ms, p95 * ms, p99 * ms, "
            "max * ms, 0 errors (0%): thresholds passed",
        ]
    )
    document = report(pytester)
    assert document["verdict"] == "PROCEED"
    (test,) = document["tests"]
    assert test["nodeid"].endswith("test_load_burst.py::test_load_burst[all]")
    assert test["categories"] == ["load", "service"]
    load = document["load"]
    assert load["test"] == test["nodeid"]
    assert (load["mode"], load["latency_from"], load["strategy"]) == (
        "rate",
        "scheduled",
        "interleaved",
    )
    assert (load["requests"], load["errors"], load["not_sent"]) == (20, 0, 0)
    assert load["target_rate"] == 20
    assert load["achieved_rate"] == pytest.approx(20, rel=0.1)
    assert 0 < load["p50_ms"] <= load["p95_ms"] <= load["p99_ms"] <= load["max_ms"]
    assert load["schedule_lag_p99_ms"] is not None
    assert load["statuses"] == {"200": 20}
    assert [(t["path"], t["requests"]) for t in load["targets"]] == [
        ("/api/items", 15),
        ("/health", 5),
    ]
    assert [(t["name"], t["passed"]) for t in load["thresholds"]] == [
        ("p99_ms", True),
        ("error_rate_percent", True),
    ]
    assert load["passed"] is True
    assert sorted(Service.seen) == sorted([("GET", "/api/items")] * 15 + [("GET", "/health")] * 5)


def test_a_broken_threshold_fails_the_check_in_one_line(
    pytester: pytest.Pytester, service: str
) -> None:
    result = run_burst(pytester, service, second="/broken")
    assert result.ret == 11, result.stdout.str()  # the only check failed: ROLLBACK
    result.stdout.fnmatch_lines(
        [
            "load burst (20 requests, 20/s, 1 s) broke its thresholds: error rate 25% > 1% "
            "(+24 points); failed: 503 x5",
            "load: 20 requests in *, 5 errors (25%): broke error rate 25% > 1% (+24 points)",
        ]
    )
    load = report(pytester)["load"]
    assert load["passed"] is False
    assert load["failures"] == {"503": 5}
    assert load["thresholds"][1] == {
        "name": "error_rate_percent",
        "limit": 1,
        "value": 25.0,
        "passed": False,
    }


def test_a_read_only_run_sends_the_safe_part_of_a_mixed_burst(
    pytester: pytest.Pytester, service: str
) -> None:
    result = run_burst(
        pytester,
        service,
        "--smoke-read-only",
        second="/api/search",
        second_method='method = "POST"',
    )
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["not run: read-only profile: 1 check that writes"])
    document = report(pytester)
    (test,) = document["tests"]
    assert test["nodeid"].endswith("test_load_burst[safe]")
    (group,) = document["not_applicable"]
    assert group["reason"] == "read-only profile"
    assert [nodeid.rsplit("::", 1)[1] for nodeid in group["tests"]] == ["test_load_burst[all]"]
    assert [(t["method"], t["path"]) for t in document["load"]["targets"]] == [
        ("GET", "/api/items")
    ]
    assert {method for method, _ in Service.seen} == {"GET"}


def test_without_read_only_a_mixed_burst_sends_every_target(
    pytester: pytest.Pytester, service: str
) -> None:
    result = run_burst(pytester, service, second="/api/search", second_method='method = "POST"')
    assert result.ret == 0, result.stdout.str()
    (test,) = report(pytester)["tests"]
    assert test["nodeid"].endswith("test_load_burst[all]")
    assert ("POST", "/api/search") in Service.seen


def test_a_bad_load_table_stops_the_run_with_exit_4(
    pytester: pytest.Pytester, service: str
) -> None:
    result = run_burst(pytester, service, extra="concurrency = 4")
    assert result.ret == 4
    (line,) = [line for line in result.stderr.lines if line.startswith("ERROR: smoke: ")]
    assert line.endswith(
        "checks.toml: load: set exactly one of rate (requests per second, a constant arrival "
        "rate) and concurrency (workers, each sending when its last request is answered); "
        "both are set"
    )
    assert "Traceback" not in result.stderr.str()
    assert Service.seen == []
