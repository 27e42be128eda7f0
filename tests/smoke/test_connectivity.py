"""Connectivity: every dependency the env profile configures accepts connections.

These are the first checks after a deployment: if one fails, nothing else about that
dependency can be trusted, so each is ``critical``. A dependency the profile does not configure
is skipped, with the setting to set as the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_smoke.clients.tcp import endpoint, probe_tcp

if TYPE_CHECKING:
    from pytest_smoke import Settings

pytestmark = [pytest.mark.smoke, pytest.mark.critical]


def _endpoint(url: str | None, setting: str) -> tuple[str, int]:
    # Only host and port leave this helper: the URL may carry a password, and pytest prints
    # the arguments of every frame in a failure's traceback.
    if not url:
        pytest.skip(f"{setting} is not set in the env profile")
    return endpoint(url)


@pytest.mark.database
def test_database_accepts_connections(smoke_settings: Settings) -> None:
    """The database host accepts TCP connections within the connect timeout.

    Impact if it fails: no request that reads or writes data can succeed; roll back.
    """
    host, port = _endpoint(smoke_settings.database_url, "SMOKE_TEST_DATABASE_URL")
    probe_tcp("database", host, port, timeout=smoke_settings.connect_timeout)


@pytest.mark.redis
def test_event_bus_accepts_connections(smoke_settings: Settings) -> None:
    """The Redis event bus accepts TCP connections within the connect timeout.

    Impact if it fails: events are neither published nor consumed; services drift apart.
    """
    host, port = _endpoint(smoke_settings.redis_url, "SMOKE_TEST_REDIS_URL")
    probe_tcp("redis", host, port, timeout=smoke_settings.connect_timeout)


@pytest.mark.service
def test_gateway_accepts_connections(smoke_settings: Settings) -> None:
    """The service's gateway accepts TCP connections within the connect timeout.

    Impact if it fails: the deployment is unreachable for every client.
    """
    host, port = _endpoint(smoke_settings.gateway_url, "GATEWAY_URL")
    probe_tcp("service", host, port, timeout=smoke_settings.connect_timeout)
