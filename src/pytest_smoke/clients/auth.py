"""Tokens for the gateway: static, from a login endpoint, or OAuth2 client credentials.

Every provider has the same small API: ``await provider.token()`` returns a token that stays
valid for at least ``refresh_margin`` more seconds (or half its lifetime, if that is shorter),
fetching a new one when needed; concurrent callers share one fetch. ``provider.secrets()`` lists
every secret it knows (password, client secret, tokens issued so far) so that a masker can hide
them; ``await provider.aclose()`` releases it.

A token's expiry comes from the issuer's ``expires_in``/``expires_on`` when given, else from the
``exp`` claim when the token is a JWT (read, not verified: the server verifies it), else it never
expires. azure-identity is imported only when a :class:`ClientCredentialsToken` fetches.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

import httpx

from pytest_smoke.causes import DependencyUnavailable
from pytest_smoke.checks.paths import compile_path, search
from pytest_smoke.clients.http import describe_connect_error, raise_unavailable, target_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from azure.identity.aio import ClientSecretCredential

#: Seconds before its expiry at which a token is replaced.
DEFAULT_REFRESH_MARGIN: Final = 30.0
#: Top-level keys of a login answer an error lists at most.
_SHOWN_KEYS: Final = 20
_LAST_FIELD: Final = re.compile(r"^(?P<parent>.+)\.\s*[A-Za-z_][A-Za-z0-9_]*\s*$", re.DOTALL)
_JSON_KINDS: Final = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


class AuthError(Exception):
    """A token could not be obtained: bad credentials, or an answer without a token.

    The message names the issuer and the HTTP status, never a password, secret or token.
    """


class TokenProvider(Protocol):
    """What the ``auth_headers`` fixture needs from a token source."""

    async def token(self) -> str: ...

    def secrets(self) -> list[str]: ...

    async def aclose(self) -> None: ...


def auth_header(
    token: str, *, header: str = "Authorization", scheme: str = "Bearer"
) -> dict[str, str]:
    """``{header: "<scheme> <token>"}``; an empty ``scheme`` sends the bare token.

    ``Authorization: Bearer <jwt>``, ``Authorization: Token <jwt>``, ``X-API-Key: <key>``.
    """
    return {header: f"{scheme} {token}".strip()}


async def bearer_headers(provider: TokenProvider) -> dict[str, str]:
    """``{"Authorization": "Bearer <token>"}`` with a currently valid token from ``provider``."""
    return auth_header(await provider.token())


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim (seconds since the epoch) of a JWT, ``None`` if it is not a JWT with one.

    The signature is not verified: this only decides when to fetch a new token.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    return float(exp)


class StaticToken:
    """A token given in the configuration (``SMOKE_TOKEN``); it is never refreshed."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("token is empty")
        self._token = token

    async def token(self) -> str:
        return self._token

    def secrets(self) -> list[str]:
        return [self._token]

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return "StaticToken(***)"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token, when it was requested and when it stops being valid.

    Times are seconds since the epoch (the clock ``exp`` and ``expires_on`` use); ``expires_at``
    is ``None`` for a token that never expires.
    """

    value: str
    expires_at: float | None
    issued_at: float

    def __repr__(self) -> str:
        return (
            f"IssuedToken(value=***, expires_at={self.expires_at!r}, issued_at={self.issued_at!r})"
        )

    def needs_refresh(self, margin: float, now: float) -> bool:
        """Whether ``now`` is within ``margin`` (at most half the lifetime) of the expiry."""
        if self.expires_at is None:
            return False
        lifetime = max(self.expires_at - self.issued_at, 0.0)
        return now >= self.expires_at - min(margin, lifetime / 2)


class RefreshingToken(ABC):
    """A cached token, fetched again ``refresh_margin`` seconds before it expires.

    The margin is capped at half the token's lifetime, so an issuer handing out tokens that live
    less than the margin is not asked for a new one on every call.

    An ``asyncio.Lock`` makes N concurrent callers share one fetch; callers that waited on a
    fetch which failed get its error instead of starting N more.
    """

    def __init__(self, *, refresh_margin: float = DEFAULT_REFRESH_MARGIN) -> None:
        if refresh_margin < 0:
            raise ValueError(f"refresh_margin must be >= 0, got {refresh_margin}")
        self.refresh_margin = refresh_margin
        #: How many times a token was requested from the issuer.
        self.fetches = 0
        self._finished = 0
        self._issued: IssuedToken | None = None
        self._issued_values: list[str] = []
        self._failure: BaseException | None = None
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        issued = self._valid()
        if issued is not None:
            return issued.value
        finished_before = self._finished
        async with self._lock:
            issued = self._valid()
            if issued is not None:
                return issued.value
            if self._finished != finished_before and self._failure is not None:
                raise self._failure  # a fetch finished while this caller waited, and failed
            self.fetches += 1
            self._failure = None
            try:
                issued = await self._fetch()
            except Exception as error:
                self._failure = error
                raise
            finally:
                self._finished += 1
            self._issued = issued
            if issued.value not in self._issued_values:
                self._issued_values.append(issued.value)
            return issued.value

    @property
    def expires_at(self) -> float | None:
        """When the cached token expires (epoch seconds), ``None`` if none is cached or never."""
        return None if self._issued is None else self._issued.expires_at

    def invalidate(self) -> None:
        """Forget the cached token (say, after a 401), so the next call fetches a new one."""
        self._issued = None

    def secrets(self) -> list[str]:
        return [*self._credential_secrets(), *self._issued_values]

    async def aclose(self) -> None:
        return None

    def _valid(self) -> IssuedToken | None:
        issued = self._issued
        if issued is None:
            return None
        if issued.needs_refresh(self.refresh_margin, time.time()):
            return None
        return issued

    @abstractmethod
    async def _fetch(self) -> IssuedToken:
        """Obtain a new token from the issuer."""

    @abstractmethod
    def _credential_secrets(self) -> list[str]:
        """The configured secrets (password, client secret) this provider holds."""


class LoginToken(RefreshingToken):
    """A token from a login endpoint: ``POST login_url`` with a body of credentials.

    The body is ``{"username": ..., "password": ...}``, or the ``body`` given (a mapping,
    ``${VAR}`` already expanded, e.g. ``{"user": {"email": ..., "password": ...}}``). It is sent
    as JSON, or form-encoded with ``form=True`` (then it must be flat: string values only).
    The token is read from the JSON answer with the JMESPath expression ``token_path``
    (``access_token``, ``user.token``); its lifetime from an ``expires_in`` next to it or at the
    top level, else from the JWT ``exp``.

    :meth:`secrets` lists the password, every value of ``secrets`` (the credentials inside
    ``body``) and each token issued. Error messages name the login URL and the HTTP status,
    never a credential or a token.

    ``client`` is used as is (its base URL, TLS settings and retries apply) and not closed here.
    Or pass a zero-argument factory: each fetch then opens a client of its own and closes it,
    which lets one cached provider serve tests that run in different event loops.
    """

    def __init__(
        self,
        client: httpx.AsyncClient | Callable[[], httpx.AsyncClient],
        login_url: str,
        username: str | None = None,
        password: str | None = None,
        token_path: str = "access_token",
        *,
        body: Mapping[str, Any] | None = None,
        form: bool = False,
        secrets: Iterable[str] = (),
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
    ) -> None:
        super().__init__(refresh_margin=refresh_margin)
        if body is None:
            if not username or not password:
                raise ValueError("a login needs a body, or a username and a password")
            body = {"username": username, "password": password}
        if form:
            _check_flat(body)
        try:
            compile_path(token_path)
        except ValueError as error:
            raise ValueError(f"token path: {error}") from None
        self._client = client
        self._login_url = login_url
        self._username = username
        self._password = password
        self._body = dict(body)
        self._token_path = token_path
        self._form = form
        self._secrets = [value for value in dict.fromkeys([password or "", *secrets]) if value]

    def __repr__(self) -> str:
        shown = f"LoginToken({_shown_url(self._login_url)!r}"
        return f"{shown}, username={self._username!r})" if self._username else f"{shown})"

    def _credential_secrets(self) -> list[str]:
        return list(self._secrets)

    async def _post(self, client: httpx.AsyncClient) -> httpx.Response:
        if self._form:
            return await client.post(self._login_url, data=self._body)
        return await client.post(self._login_url, json=self._body)

    async def _fetch(self) -> IssuedToken:
        requested_at = time.time()
        try:
            if isinstance(self._client, httpx.AsyncClient):
                response = await self._post(self._client)
            else:
                async with self._client() as client:
                    response = await self._post(client)
                    await response.aread()
        except httpx.TransportError as error:
            raise_unavailable(error, _request_url(error, self._login_url), dependency="login")
        shown = _shown_url(response.request.url)
        if not response.is_success:
            who = f" as {self._username!r}" if self._username else ""
            raise AuthError(
                f"login at {shown}{who} failed: "
                f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
            )
        try:
            answer: Any = response.json()
        except ValueError:
            raise AuthError(
                f"login at {shown} answered HTTP {response.status_code} without a JSON body"
            ) from None
        try:
            value = search(self._token_path, answer)
        except ValueError:  # a function in the expression met a value of another type
            value = None
        if not isinstance(value, str) or not value:
            raise AuthError(
                f"login at {shown} answered HTTP {response.status_code} without a token at "
                f"{self._token_path!r} ({_outline(answer)}); point the token path "
                "(auth.login.token in the checks file, or SMOKE_TEST_TOKEN_PATH) at the token"
            )
        expires_in = _expires_in(_parent(self._token_path, answer))
        if expires_in is None:
            expires_in = _expires_in(answer)
        if expires_in is not None:
            return IssuedToken(value, requested_at + expires_in, requested_at)
        return IssuedToken(value, jwt_expiry(value), requested_at)


class ClientCredentialsToken(RefreshingToken):
    """An OAuth2 client-credentials token from Microsoft Entra ID (Azure AD), via azure-identity.

    Uses ``azure.identity.aio.ClientSecretCredential(...).get_token(scope)``. ``authority`` is
    a host or ``https://`` URL of another token issuer (sovereign cloud, local stand-in);
    ``connection_verify`` a CA bundle path to trust it with. ``retries`` replaces azure-core's
    default retry count (3, with backoff) for the token request. Call :meth:`aclose` when done.
    """

    def __init__(
        self,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        scope: str,
        *,
        authority: str | None = None,
        connection_verify: str | None = None,
        disable_instance_discovery: bool = False,
        retries: int | None = None,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
    ) -> None:
        super().__init__(refresh_margin=refresh_margin)
        for name, value in (
            ("tenant_id", tenant_id),
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("scope", scope),
        ):
            if not value:
                raise ValueError(f"{name} is empty")
        self._tenant_id = tenant_id
        self._client_id = client_id
        self._client_secret = client_secret
        self._scope = scope
        self._authority = authority
        self._connection_verify = connection_verify
        self._disable_instance_discovery = disable_instance_discovery
        self._retries = retries

    def __repr__(self) -> str:
        return (
            f"ClientCredentialsToken(tenant_id={self._tenant_id!r}, "
            f"client_id={self._client_id!r}, scope={self._scope!r})"
        )

    def _credential_secrets(self) -> list[str]:
        return [self._client_secret]

    def _issuer(self) -> str:
        authority = self._authority or "login.microsoftonline.com"
        if "://" not in authority:
            authority = f"https://{authority}"
        return f"{authority.rstrip('/')}/{self._tenant_id}"

    def _make_credential(self) -> ClientSecretCredential:
        from azure.identity.aio import ClientSecretCredential

        options: dict[str, Any] = {}
        if self._authority is not None:
            options["authority"] = self._authority
        if self._connection_verify is not None:
            options["connection_verify"] = self._connection_verify
        if self._disable_instance_discovery:
            options["disable_instance_discovery"] = True
        if self._retries is not None:
            options["retry_total"] = self._retries
        return ClientSecretCredential(
            self._tenant_id, self._client_id, self._client_secret, **options
        )

    async def _fetch(self) -> IssuedToken:
        from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

        # A credential per fetch: its aiohttp session belongs to the event loop that opened it,
        # and this provider may serve tests in several loops. Fetches are rare (cached here).
        requested_at = time.time()
        try:
            async with self._make_credential() as credential:
                access = await credential.get_token(self._scope)
        except ClientAuthenticationError as error:
            reason = _first_line(error.message) if error.message else type(error).__name__
            raise AuthError(
                f"client credentials for client {self._client_id!r} rejected by "
                f"{self._issuer()}: {reason}"
            ) from None
        except ServiceRequestError as error:
            raise DependencyUnavailable(
                "token issuer", target_of(self._issuer()), describe_connect_error(error)
            ) from error
        return IssuedToken(access.token, float(access.expires_on), requested_at)


def _parent(expression: str, document: Any) -> Any:
    """What the expression without its last ``.field`` selects: where ``expires_in`` sits."""
    match = _LAST_FIELD.match(expression)
    if match is None:
        return None
    try:
        return search(match.group("parent"), document)
    except ValueError:  # the part before the last dot is not an expression of its own
        return None


def _outline(answer: Any) -> str:
    """The shape of a JSON answer, for an error: its top-level keys, never a value."""
    if isinstance(answer, dict):
        if not answer:
            return "the answer is an empty object"
        keys = list(answer)
        more = f", ... ({len(keys)} keys)" if len(keys) > _SHOWN_KEYS else ""
        return f"the answer has keys {', '.join(map(str, keys[:_SHOWN_KEYS]))}{more}"
    if isinstance(answer, list):
        return f"the answer is an array of {len(answer)} item{'' if len(answer) == 1 else 's'}"
    return f"the answer is a JSON {_JSON_KINDS.get(type(answer), 'value')}"


def _check_flat(body: Mapping[str, Any]) -> None:
    for key, value in body.items():
        if not isinstance(value, str):
            kind = _JSON_KINDS.get(type(value), type(value).__name__)
            article = "an" if kind[0] in "aeiou" else "a"
            raise ValueError(
                f"a form login body must be flat, with string values; {key!r} holds {article} "
                f"{kind}"
            )


def _expires_in(container: Any) -> float | None:
    if not isinstance(container, dict):
        return None
    value = container.get("expires_in")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def _request_url(error: httpx.TransportError, fallback: str) -> httpx.URL | str:
    try:
        return error.request.url
    except RuntimeError:
        return fallback


def _shown_url(url: httpx.URL | str) -> str:
    """``scheme://host[:port]/path``: no user info, no query, so no credential."""
    parsed = httpx.URL(url)
    if not parsed.host:
        return parsed.path
    port = f":{parsed.port}" if parsed.port is not None else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else ""
