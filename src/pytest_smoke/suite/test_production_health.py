"""Production health: security headers, CORS, TLS, metrics and error pages of the service."""

from __future__ import annotations

import asyncio
import datetime
import re
import ssl
import uuid
from typing import TYPE_CHECKING

import pytest

from ._support import ASYNC

if TYPE_CHECKING:
    import httpx

    from pytest_smoke.checks import Checks
    from pytest_smoke.settings import Settings

pytestmark = [pytest.mark.smoke, pytest.mark.service, ASYNC]


@pytest.mark.needs_checks("production.headers_path")
async def test_security_headers(http_client: httpx.AsyncClient, smoke_checks: Checks) -> None:
    """Responses carry the security headers (HSTS when served over HTTPS).

    Impact: browsers are left open to sniffing, framing and downgrade attacks.
    """
    response = await http_client.get(
        smoke_checks.get("production.headers_path"), follow_redirects=True
    )
    headers = response.headers
    missing = []
    if headers.get("x-content-type-options", "").lower() != "nosniff":
        missing.append("X-Content-Type-Options: nosniff")
    frame_ancestors = "frame-ancestors" in headers.get("content-security-policy", "")
    if "x-frame-options" not in headers and not frame_ancestors:
        missing.append("X-Frame-Options or CSP frame-ancestors")
    if response.url.scheme == "https" and "strict-transport-security" not in headers:
        missing.append("Strict-Transport-Security")
    assert not missing, f"missing: {', '.join(missing)}"


@pytest.mark.needs_checks("production.cors")
async def test_cors_allows_only_known_origins(
    http_client: httpx.AsyncClient, smoke_checks: Checks
) -> None:
    """A preflight from an allowed origin is granted; one from another origin is not.

    Impact: browsers of real users are refused, or any site can call the API.
    """
    cors = smoke_checks.get("production.cors")

    async def preflight(origin: str) -> str | None:
        response = await http_client.options(
            cors["path"],
            headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
        )
        allowed: str | None = response.headers.get("access-control-allow-origin")
        return allowed

    assert await preflight(cors["allowed_origin"]) in (cors["allowed_origin"], "*")
    assert await preflight(cors["denied_origin"]) is None


@pytest.mark.needs_https
async def test_tls_certificate_valid(
    http_client: httpx.AsyncClient, smoke_settings: Settings
) -> None:
    """The service's certificate is trusted and valid for SMOKE_TEST_TLS_MIN_DAYS more days.

    Impact: clients start refusing the service when the certificate expires.
    """
    from pytest_smoke.clients.http import build_ssl_context

    url = http_client.base_url
    context: ssl.SSLContext = build_ssl_context(smoke_settings.ca_bundle)
    host, port = url.host, url.port or 443
    _, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=context, server_hostname=host),
        smoke_settings.connect_timeout,
    )
    try:
        certificate = writer.get_extra_info("peercert")
    finally:
        writer.close()
    expires = datetime.datetime.fromtimestamp(
        ssl.cert_time_to_seconds(certificate["notAfter"]), datetime.UTC
    )
    days_left = (expires - datetime.datetime.now(datetime.UTC)).days
    assert days_left >= smoke_settings.tls_min_days, (
        f"certificate expires in {days_left} days ({expires:%Y-%m-%d}), "
        f"under the {smoke_settings.tls_min_days} required"
    )


# name{label="value",...} number [timestamp]; label values are quoted and may hold braces.
_METRIC_LINE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?'
    r" [-+]?([0-9.eE+-]+|NaN|Inf|\+Inf|-Inf)( -?[0-9]+)?$"
)


@pytest.mark.needs_checks("production.metrics_path")
async def test_metrics_endpoint(http_client: httpx.AsyncClient, smoke_checks: Checks) -> None:
    """The metrics endpoint answers in the Prometheus text format.

    Impact: dashboards and alerts go blind right after the deployment.
    """
    from pytest_smoke.checks.resource import check

    response = await http_client.get(
        smoke_checks.get("production.metrics_path"), follow_redirects=True
    )
    check(response, [200], key="production.metrics_path")
    assert response.headers.get("content-type", "").startswith("text/plain")
    lines = [line for line in response.text.splitlines() if line and not line.startswith("#")]
    assert lines, "no samples"
    bad = [line for line in lines if not _METRIC_LINE.match(line)]
    assert not bad, f"not Prometheus text: {bad[:3]}"


async def test_unknown_route_is_a_json_error(http_client: httpx.AsyncClient) -> None:
    """An unknown route answers 404 with a JSON error, not an HTML page or a stack trace.

    Impact: error pages leak internals and break clients expecting JSON.
    """
    response = await http_client.get(f"/smoke-no-such-route-{uuid.uuid4().hex[:8]}")
    assert response.status_code == 404
    assert response.headers.get("content-type", "").startswith("application/json")
    assert "Traceback" not in response.text
    response.json()
