"""Token providers against a real local login endpoint and a local Entra ID token endpoint."""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from pytest_smoke.causes import DependencyUnavailable
from pytest_smoke.clients.auth import (
    AuthError,
    ClientCredentialsToken,
    LoginToken,
    StaticToken,
    bearer_headers,
    jwt_expiry,
)
from pytest_smoke.clients.http import build_http_client

from .http_server import Reply, ScriptedServer, closed_port, make_jwt

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    import httpx
    import trustme

USER, PASSWORD = "smoke-bot", "pa55-w0rd-do-not-show"
TENANT, CLIENT_ID, CLIENT_SECRET = "contoso-tenant", "smoke-client-id", "cl1ent-s3cret-value"
SCOPE = "api://smoke-gateway/.default"


@pytest_asyncio.fixture(loop_scope="function")
async def server() -> AsyncIterator[ScriptedServer]:
    async with ScriptedServer() as running:
        yield running


@pytest_asyncio.fixture(loop_scope="function")
async def client(server: ScriptedServer) -> AsyncIterator[httpx.AsyncClient]:
    async with build_http_client(
        server.url, timeout=5.0, connect_timeout=2.0, retries=2, backoff=0.01
    ) as http:
        yield http


@pytest.mark.asyncio
async def test_static_token() -> None:
    provider = StaticToken("abc.def")

    assert await provider.token() == "abc.def"
    assert await bearer_headers(provider) == {"Authorization": "Bearer abc.def"}
    assert provider.secrets() == ["abc.def"]
    assert "abc.def" not in repr(provider)
    await provider.aclose()


@pytest.mark.asyncio
async def test_login_token_is_fetched_once_for_concurrent_callers(
    server: ScriptedServer, client: httpx.AsyncClient
) -> None:
    issued = server.add_login(username=USER, password=PASSWORD, expires_in=300, delay=0.05)
    provider = LoginToken(client, "/login", USER, PASSWORD)

    tokens = await asyncio.gather(*(provider.token() for _ in range(20)))

    assert server.count("/login") == 1
    assert set(tokens) == {issued[0]}
    assert server.hits[0].headers["Content-Type"] == "application/json"
    assert await bearer_headers(provider) == {"Authorization": f"Bearer {issued[0]}"}
    assert provider.secrets() == [PASSWORD, issued[0]]


@pytest.mark.asyncio
async def test_login_token_is_refreshed_when_it_expires(
    server: ScriptedServer, client: httpx.AsyncClient
) -> None:
    issued = server.add_login(username=USER, password=PASSWORD, expires_in=1)
    provider = LoginToken(client, "/login", USER, PASSWORD, refresh_margin=0)

    first = await provider.token()
    assert await provider.token() == first
    await asyncio.sleep(1.1)
    second = await provider.token()

    assert server.count("/login") == 2
    assert [first, second] == issued
    assert first != second
    assert provider.secrets() == [PASSWORD, first, second]


@pytest.mark.asyncio
async def test_refresh_margin_refreshes_early_but_at_most_half_the_lifetime(
    server: ScriptedServer, client: httpx.AsyncClient
) -> None:
    issued = server.add_login(username=USER, password=PASSWORD, expires_in=2)
    provider = LoginToken(client, "/login", USER, PASSWORD, refresh_margin=30)

    first = await provider.token()
    assert await provider.token() == first  # a 30 s margin on a 2 s token: refreshed after 1 s
    await asyncio.sleep(1.1)
    second = await provider.token()

    assert server.count("/login") == 2
    assert [first, second] == issued
    assert provider.expires_at is not None
    assert provider.expires_at - time.time() > 0.5  # refreshed before the first one expired


@pytest.mark.asyncio
async def test_form_login_and_nested_token_path(
    server: ScriptedServer, client: httpx.AsyncClient
) -> None:
    issued = server.add_login(
        username=USER, password=PASSWORD, expires_in=60, token_path="data.session.token"
    )
    provider = LoginToken(client, "/login", USER, PASSWORD, "data.session.token", form=True)

    before = time.time()
    assert await provider.token() == issued[0]

    assert server.hits[0].form() == {"username": USER, "password": PASSWORD}
    assert provider.expires_at is not None
    assert before + 59 <= provider.expires_at <= time.time() + 60


@pytest.mark.asyncio
async def test_login_rejected_raises_auth_error_without_the_password(
    server: ScriptedServer, client: httpx.AsyncClient
) -> None:
    server.add_login(username=USER, password="the-right-one")
    provider = LoginToken(client, "/login", USER, PASSWORD)

    with pytest.raises(AuthError) as raised:
        await provider.token()

    message = str(raised.value)
    assert message == f"login at {server.url}/login as {USER!r} failed: HTTP 401 Unauthorized"
    assert PASSWORD not in message
    assert PASSWORD not in repr(provider)
    assert raised.value.__cause__ is None
    assert server.count("/login") == 1  # POST is never retried


@pytest.mark.asyncio
async def test_concurrent_callers_share_a_failed_login(
    server: ScriptedServer, client: httpx.AsyncClient
) -> None:
    server.script("/login", Reply(401, delay=0.05))
    provider = LoginToken(client, "/login", USER, PASSWORD)

    results = await asyncio.gather(*(provider.token() for _ in range(5)), return_exceptions=True)

    assert all(isinstance(result, AuthError) for result in results)
    assert server.count("/login") == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(200, json={"token": "x"}), "without a token at 'access_token'"),
        (Reply(200, json={"access_token": 42}), "without a token at 'access_token'"),
        (Reply(200, body="<html>ok</html>"), "without a JSON body"),
    ],
)
async def test_login_answer_without_a_token(
    server: ScriptedServer, client: httpx.AsyncClient, reply: Reply, expected: str
) -> None:
    server.script("/login", reply)
    provider = LoginToken(client, "/login", USER, PASSWORD)

    with pytest.raises(AuthError, match=expected) as raised:
        await provider.token()

    assert PASSWORD not in str(raised.value)


@pytest.mark.asyncio
async def test_login_endpoint_down_is_a_dependency_unavailable() -> None:
    port = closed_port()
    async with build_http_client(
        f"http://127.0.0.1:{port}", timeout=2.0, connect_timeout=1.0, retries=1, backoff=0.01
    ) as http:
        provider = LoginToken(http, "/login", USER, PASSWORD)
        with pytest.raises(DependencyUnavailable) as raised:
            await provider.token()

    assert raised.value.cause == f"login unreachable at 127.0.0.1:{port}: connection refused"


def test_jwt_exp_is_read_without_verification() -> None:
    assert jwt_expiry(make_jwt({"sub": "x", "exp": 1_900_000_000})) == 1_900_000_000.0
    assert jwt_expiry(make_jwt({"sub": "x"})) is None
    assert jwt_expiry(make_jwt({"exp": True})) is None
    assert jwt_expiry("opaque-token") is None
    assert jwt_expiry("a.!!!.c") is None


@pytest.mark.asyncio
async def test_login_token_expiry_falls_back_to_the_jwt_exp(
    server: ScriptedServer, client: httpx.AsyncClient
) -> None:
    exp = int(time.time()) + 3600
    server.add_login(username=USER, password=PASSWORD, make_token=lambda: make_jwt({"exp": exp}))
    provider = LoginToken(client, "/login", USER, PASSWORD)

    await provider.token()

    assert provider.expires_at == exp


@pytest.mark.asyncio
async def test_opaque_token_without_expires_in_never_expires(
    server: ScriptedServer, client: httpx.AsyncClient
) -> None:
    server.add_login(username=USER, password=PASSWORD)
    provider = LoginToken(client, "/login", USER, PASSWORD)

    await provider.token()
    await provider.token()

    assert provider.expires_at is None
    assert server.count("/login") == 1


# --- OAuth2 client credentials with the real azure-identity -----------------------------------


@pytest.fixture
def ca() -> trustme.CA:
    trustme_module = pytest.importorskip("trustme", reason="trustme (test CA) is not installed")
    authority: trustme.CA = trustme_module.CA()
    return authority


@pytest.fixture
def ca_pem(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest_asyncio.fixture(loop_scope="function")
async def entra(ca: trustme.CA) -> AsyncIterator[ScriptedServer]:
    """A local HTTPS stand-in for login.microsoftonline.com."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    async with ScriptedServer(context) as running:
        yield running


def entra_provider(entra: ScriptedServer, ca_pem: str, **options: Any) -> ClientCredentialsToken:
    return ClientCredentialsToken(
        TENANT,
        CLIENT_ID,
        options.pop("client_secret", CLIENT_SECRET),
        SCOPE,
        authority=entra.url,
        connection_verify=ca_pem,
        disable_instance_discovery=True,
        **options,
    )


@pytest.mark.asyncio
async def test_client_credentials_token_from_azure_identity_is_refreshed_on_expiry(
    entra: ScriptedServer, ca_pem: str
) -> None:
    path = f"/{TENANT}/oauth2/v2.0/token"
    issued = entra.add_entra_token_endpoint(
        TENANT, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, expires_in=2
    )
    provider = entra_provider(entra, ca_pem, refresh_margin=0)
    try:
        first, again = await provider.token(), await provider.token()
        assert entra.count(path) == 1
        assert first == again == issued[0]

        assert provider.expires_at is not None
        await asyncio.sleep(max(0.0, provider.expires_at - time.time()) + 0.05)
        second = await provider.token()
    finally:
        await provider.aclose()

    assert entra.count(path) == 2
    assert second == issued[1] != first
    assert entra.hits[0].method == "POST"
    assert entra.hits[0].form() == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "client_credentials",
        "scope": SCOPE,
    }
    assert provider.secrets() == [CLIENT_SECRET, first, second]


@pytest.mark.asyncio
async def test_client_credentials_rejected_raises_auth_error_without_the_secret(
    entra: ScriptedServer, ca_pem: str
) -> None:
    entra.add_entra_token_endpoint(
        TENANT, client_id=CLIENT_ID, client_secret="another-secret", expires_in=3600
    )
    provider = entra_provider(entra, ca_pem)
    try:
        with pytest.raises(AuthError, match="invalid_client") as raised:
            await provider.token()
    finally:
        await provider.aclose()

    assert CLIENT_SECRET not in str(raised.value)
    assert f"{entra.url}/{TENANT}" in str(raised.value)


@pytest.mark.asyncio
async def test_client_credentials_untrusted_issuer_is_a_dependency_unavailable(
    entra: ScriptedServer,
) -> None:
    provider = ClientCredentialsToken(
        TENANT, CLIENT_ID, CLIENT_SECRET, SCOPE, authority=entra.url, retries=0
    )
    try:
        with pytest.raises(DependencyUnavailable, match="TLS certificate not trusted"):
            await provider.token()
    finally:
        await provider.aclose()
