"""Token providers against a real local login endpoint and a local Entra ID token endpoint."""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from aiohttp import web

from pytest_smoke.causes import DependencyUnavailable
from pytest_smoke.clients.auth import (
    AuthError,
    ClientCredentialsToken,
    LoginToken,
    StaticToken,
    auth_header,
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


# --- login bodies, token paths and header schemes of real-world services ----------------------

EMAIL = "smoke-bot@example.com"


def add_oauth2_password_form(server: ScriptedServer, path: str, *, exp: int) -> list[str]:
    """FastAPI's OAuth2PasswordRequestForm: form-encoded username/password, a JWT back."""
    issued: list[str] = []

    async def token(request: web.Request) -> web.StreamResponse:
        if request.content_type != "application/x-www-form-urlencoded":
            return web.json_response({"detail": [{"msg": "Field required"}]}, status=422)
        form = await request.post()
        if (form.get("username"), form.get("password")) != (USER, PASSWORD):
            return web.json_response({"detail": "Incorrect username or password"}, status=400)
        jwt = make_jwt({"sub": USER, "exp": exp, "n": len(issued)})
        issued.append(jwt)
        return web.json_response({"access_token": jwt, "token_type": "bearer"})

    server.route(path, token)
    return issued


def add_envelope_login(server: ScriptedServer, path: str, *, expires_in: int) -> list[str]:
    """The RealWorld login: JSON {"user": {"email", "password"}} -> {"user": {..., "token"}}."""
    issued: list[str] = []

    async def login(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        user = body.get("user") if isinstance(body, dict) else None
        if not isinstance(user, dict) or (user.get("email"), user.get("password")) != (
            EMAIL,
            PASSWORD,
        ):
            return web.json_response({"errors": {"body": ["invalid credentials"]}}, status=422)
        token = f"rw-{len(issued)}-token-value"
        issued.append(token)
        answer = {"email": EMAIL, "username": USER, "token": token, "expires_in": expires_in}
        return web.json_response({"user": answer})

    server.route(path, login)
    return issued


def add_protected(server: ScriptedServer, path: str, header: str, expected: str) -> None:
    """An endpoint answering 200 only to ``header: expected``, 403 to anything else."""

    async def protected(request: web.Request) -> web.StreamResponse:
        if request.headers.get(header) != expected:
            return web.json_response({"detail": "Not authenticated"}, status=403)
        return web.json_response({"articles": [], "articlesCount": 0})

    server.route(path, protected)


@pytest.mark.asyncio
async def test_oauth2_password_form_login_and_a_token_scheme(
    server: ScriptedServer, client: httpx.AsyncClient
) -> None:
    exp = int(time.time()) + 3600
    issued = add_oauth2_password_form(server, "/api/auth/token", exp=exp)
    provider = LoginToken(
        client,
        "/api/auth/token",
        token_path="access_token",
        body={"username": USER, "password": PASSWORD},
        form=True,
        secrets=[USER, PASSWORD],
    )

    token = await provider.token()
    add_protected(server, "/api/articles/", "Authorization", f"Token {token}")
    with_token = await client.get("/api/articles/", headers=auth_header(token, scheme="Token"))
    with_bearer = await client.get("/api/articles/", headers=auth_header(token))

    assert token == issued[0]
    assert server.hits[0].headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert server.hits[0].form() == {"username": USER, "password": PASSWORD}
    assert provider.expires_at == exp  # no expires_in: the JWT's exp
    assert with_token.status_code == 200
    assert with_bearer.status_code == 403  # the service takes "Token <jwt>" only
    assert provider.secrets() == [USER, PASSWORD, token]
    assert PASSWORD not in repr(provider)


@pytest.mark.asyncio
async def test_json_envelope_login_reads_the_token_and_expiry_inside_the_envelope(
    server: ScriptedServer, client: httpx.AsyncClient
) -> None:
    issued = add_envelope_login(server, "/api/users/login", expires_in=120)
    provider = LoginToken(
        client,
        "/api/users/login",
        token_path="user.token",
        body={"user": {"email": EMAIL, "password": PASSWORD}},
        secrets=[PASSWORD],
    )

    before = time.time()
    token = await provider.token()

    assert token == issued[0]
    assert json.loads(server.hits[0].body) == {"user": {"email": EMAIL, "password": PASSWORD}}
    assert server.hits[0].headers["Content-Type"] == "application/json"
    assert provider.expires_at is not None  # expires_in next to the token, inside "user"
    assert before + 119 <= provider.expires_at <= time.time() + 120
    assert provider.secrets() == [PASSWORD, token]


@pytest.mark.asyncio
async def test_a_static_key_in_an_api_key_header(
    server: ScriptedServer, client: httpx.AsyncClient
) -> None:
    key = "k3y-planted-0451"
    add_protected(server, "/api/items", "X-API-Key", key)
    provider = StaticToken(key)

    headers = auth_header(await provider.token(), header="X-API-Key", scheme="")
    accepted = await client.get("/api/items", headers=headers)
    as_bearer = await client.get("/api/items", headers=await bearer_headers(provider))

    assert headers == {"X-API-Key": key}
    assert accepted.status_code == 200
    assert as_bearer.status_code == 403


@pytest.mark.asyncio
async def test_no_token_at_the_path_lists_the_answer_keys_never_the_values(
    server: ScriptedServer, client: httpx.AsyncClient
) -> None:
    add_envelope_login(server, "/api/users/login", expires_in=60)
    provider = LoginToken(
        client,
        "/api/users/login",
        token_path="access_token",
        body={"user": {"email": EMAIL, "password": PASSWORD}},
    )

    with pytest.raises(AuthError) as raised:
        await provider.token()

    message = str(raised.value)
    assert message.startswith(
        f"login at {server.url}/api/users/login answered HTTP 200 without a token at "
        "'access_token' (the answer has keys user); point the token path"
    )
    assert "auth.login.token" in message
    assert "SMOKE_TEST_TOKEN_PATH" in message
    for value in ("rw-0-token-value", EMAIL, PASSWORD):
        assert value not in message


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("answer", "outline"),
    [
        ({}, "the answer is an empty object"),
        ([{"token": "t0k3n-in-a-list"}], "the answer is an array of 1 item"),
        ("t0k3n-as-a-string", "the answer is a JSON string"),
        ({f"k{i}": i for i in range(25)}, "the answer has keys k0, k1,"),
    ],
)
async def test_the_shape_of_an_answer_without_a_token(
    server: ScriptedServer, client: httpx.AsyncClient, answer: Any, outline: str
) -> None:
    server.script("/login", Reply(200, json=answer))
    provider = LoginToken(client, "/login", USER, PASSWORD)

    with pytest.raises(
        AuthError, match=f"without a token at 'access_token' \\({outline}"
    ) as raised:
        await provider.token()

    assert "t0k3n" not in str(raised.value)
    assert "k24" not in str(raised.value)


@pytest.mark.asyncio
async def test_a_rejected_login_with_a_body_names_the_url_and_status_only(
    server: ScriptedServer, client: httpx.AsyncClient
) -> None:
    add_envelope_login(server, "/api/users/login", expires_in=60)
    provider = LoginToken(
        client,
        "/api/users/login",
        token_path="user.token",
        body={"user": {"email": EMAIL, "password": "wrong-pw-planted"}},
        secrets=["wrong-pw-planted"],
    )

    with pytest.raises(AuthError) as raised:
        await provider.token()

    assert str(raised.value) == (
        f"login at {server.url}/api/users/login failed: HTTP 422 Unprocessable Entity"
    )
    assert "wrong-pw-planted" not in repr(provider)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"username": USER}, "a login needs a body, or a username and a password"),
        ({"body": {"user": {"email": EMAIL}}, "form": True}, "'user' holds an object"),
        ({"body": {"pin": 1234}, "form": True}, "flat, with string values; 'pin' holds a number"),
        (
            {"username": USER, "password": PASSWORD, "token_path": "a..b"},
            "token path: not a valid JMESPath expression 'a..b'",
        ),
    ],
    ids=["no-credentials", "form-nested", "form-number", "bad-token-path"],
)
def test_login_configuration_mistakes_are_refused(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        LoginToken(lambda: build_http_client("http://127.0.0.1:9"), "/login", **arguments)
    assert "\n" not in str(raised.value)


def test_auth_header_schemes() -> None:
    assert auth_header("t") == {"Authorization": "Bearer t"}
    assert auth_header("t", scheme="Token") == {"Authorization": "Token t"}
    assert auth_header("t", header="X-API-Key", scheme="") == {"X-API-Key": "t"}


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
