"""The run's metrics for Prometheus: node_exporter's textfile collector and a Pushgateway."""

from __future__ import annotations

import socket
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest

from clients.threaded_server import serving
from unit.test_prometheus_report import Pushgateway, samples

from .conftest import SINGLE, XDIST, run

if TYPE_CHECKING:
    from collections.abc import Iterator

FAILING_CRITICAL = """
    import pytest
    pytestmark = pytest.mark.smoke

    @pytest.mark.database
    @pytest.mark.parametrize("i", range(3))
    def test_db(i): pass

    @pytest.mark.service
    @pytest.mark.critical
    def test_health(): assert False, "GET /health -> 503"
"""


def verdicts(text: str) -> dict[str, float]:
    """``smoke_gate_verdict`` per verdict, from an exposition."""
    return {
        dict(labels)["verdict"]: value
        for (name, labels), value in samples(text).items()
        if name == "smoke_gate_verdict"
    }


@pytest.mark.parametrize("extra", [SINGLE, XDIST])
def test_the_textfile_holds_the_runs_counts_and_verdict(
    pytester: pytest.Pytester, extra: tuple[str, ...]
) -> None:
    pytester.makepyfile(FAILING_CRITICAL)
    result = run(pytester, extra, "--smoke-gate", "--smoke-prometheus-textfile", "smoke.prom")
    assert result.ret == 11
    text = (pytester.path / "smoke.prom").read_text()
    assert verdicts(text) == {"PROCEED": 0, "MONITOR": 0, "INVESTIGATE": 0, "ROLLBACK": 1}
    counted = samples(text)
    database = frozenset({("profile", "default"), ("category", "database")})
    assert counted[("smoke_test_total", database)] == 3
    assert counted[("smoke_test_passed_total", database)] == 3
    service = frozenset({("profile", "default"), ("category", "service")})
    assert counted[("smoke_test_failed_total", service)] == 1
    result.stdout.fnmatch_lines(["*smoke.prom*"])  # listed among the reports


def test_a_textfile_node_exporter_would_not_read_is_a_usage_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(FAILING_CRITICAL)
    result = run(pytester, (), "--smoke-gate", "--smoke-prometheus-textfile", "smoke.txt")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*smoke-prometheus-textfile*must end in .prom*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


@pytest.fixture
def gateway() -> Iterator[tuple[str, type[Pushgateway]]]:
    handler = type("Gateway", (Pushgateway,), {"received": [], "status": 200})
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler


def test_the_metrics_are_pushed_under_the_profile(
    pytester: pytest.Pytester, gateway: tuple[str, type[Pushgateway]]
) -> None:
    url, handler = gateway
    pytester.makepyfile(FAILING_CRITICAL)
    pytester.path.joinpath(".env.staging").write_text("GATEWAY_URL=https://api.example.com\n")
    result = run(pytester, (), "--smoke-gate", "--smoke-env", "staging",
                 "--smoke-pushgateway", url)  # fmt: skip
    assert result.ret == 11
    [(method, path, _type, body)] = handler.received
    assert (method, path) == ("PUT", "/metrics/job/smoke-gate/profile/staging")
    assert verdicts(body.decode())["ROLLBACK"] == 1


def test_a_pushgateway_that_is_down_changes_nothing_but_says_so(
    pytester: pytest.Pytester,
) -> None:
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    pytester.makepyfile(FAILING_CRITICAL)
    result = run(pytester, (), "--smoke-gate", "--smoke-pushgateway",
                 f"http://127.0.0.1:{port}")  # fmt: skip
    assert result.ret == 11  # the verdict's exit status, not an error of its own
    result.stdout.fnmatch_lines([f"metrics not pushed: Pushgateway http://127.0.0.1:{port}*"])
