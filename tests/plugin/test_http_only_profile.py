"""The bundled suite against a deployment that is only an HTTP service with a health endpoint:
every check it cannot apply is listed as not configured, and the verdict is PROCEED."""

from __future__ import annotations

import json
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest

from pytest_smoke.reports.json_report import SCHEMA_FILE

if TYPE_CHECKING:
    from collections.abc import Iterator

SUITE = Path(__file__).resolve().parents[2] / "src" / "pytest_smoke" / "suite"


class HealthOnly(BaseHTTPRequestHandler):
    """``GET /health`` 200; anything else a JSON 404, as a well-behaved API answers."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        healthy = self.path == "/health"
        data = json.dumps({"status": "ok"} if healthy else {"detail": "Not Found"}).encode()
        self.send_response(200 if healthy else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), HealthOnly)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def bundled_suite(pytester: pytest.Pytester, service: str, *args: str) -> pytest.RunResult:
    # A copy: run in place, the suite would take the project's pyproject.toml as its ini.
    if not (pytester.path / "smoke").exists():
        shutil.copytree(
            SUITE, pytester.path / "smoke", ignore=shutil.ignore_patterns("__pycache__")
        )
    pytester.makefile(".toml", checks='[service]\nhealth = ["/health"]\n')
    pytester.makefile(".http", **{".env": f"GATEWAY_URL={service}\n"})
    return pytester.runpytest_subprocess(
        "smoke",
        "--smoke-env",
        "http",
        "--smoke-checks",
        "checks.toml",
        "--smoke-gate",
        "-p",
        "no:cacheprovider",
        *args,
    )


def read_json(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    return document


def test_an_http_only_deployment_proceeds(pytester: pytest.Pytester, service: str) -> None:
    result = bundled_suite(pytester, service, "--smoke-report-json", "gate.json")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*smoke gate: PROCEED*"])
    (line,) = [line for line in result.outlines if line.startswith("not configured: ")]
    assert line.startswith(
        "not configured: database (SMOKE_TEST_DATABASE_URL), redis (SMOKE_TEST_REDIS_URL), auth ("
    )
    assert "tls (GATEWAY_URL is http://)" in line
    assert re.search(r": \d+ checks$", line)
    document = read_json(pytester.path / "gate.json")
    assert document["verdict"] == "PROCEED"
    assert document["totals"]["skipped"] == 0
    assert document["totals"]["passed"] >= 1
    ran = [test["nodeid"] for test in document["tests"]]
    assert any(nodeid.endswith("::test_health_checks") for nodeid in ran)
    listed = [test for group in document["not_applicable"] for test in group["tests"]]
    assert not set(ran) & set(listed)
    assert int(line.rsplit(": ", 1)[1].split()[0]) == len(listed)


def test_not_applicable_under_xdist_equals_the_serial_run(
    pytester: pytest.Pytester, service: str
) -> None:
    bundled_suite(pytester, service, "--smoke-report-json", "serial.json")
    bundled_suite(pytester, service, "--smoke-report-json", "xdist.json", "-n", "2")
    serial = read_json(pytester.path / "serial.json")
    parallel = read_json(pytester.path / "xdist.json")
    assert serial["not_applicable"] == parallel["not_applicable"]
    assert serial["verdict"] == parallel["verdict"] == "PROCEED"
