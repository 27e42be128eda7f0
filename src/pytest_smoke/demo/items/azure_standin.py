#!/usr/bin/env python3
"""A local HTTPS stand-in for the Azure services the smoke suite checks, for the real SDK clients.

No Key Vault or Azure Monitor emulator exists, so this one aiohttp server speaks just enough of
their REST protocols for the unpatched ``azure-identity``, ``azure-keyvault-secrets``,
``azure-monitor-querymetrics`` and ``azure-monitor-query`` clients:

=========================================================  ======================================
``GET  /secrets?api-version=`` (``nextLink`` paging)        Key Vault: list secret properties
``GET  /secrets/{name}/[{version}]?api-version=``           Key Vault: get a secret (its value)
``POST /subscriptions/{sub}/metrics:getBatch?...``          Azure Monitor metrics, batch API
``POST /v1/workspaces/{id}/query``                          Log Analytics query (a KQL subset)
``POST /{tenant}/oauth2/v2.0/token``                        Entra ID client-credentials token
``GET  /{tenant}/v2.0/.well-known/openid-configuration``    Entra ID metadata
``GET  /msi/token?api-version=2019-08-01&resource=``        managed identity (App Service style)
``POST /_standin/fault``, ``GET /_standin/state``           switch faults, read state (tests)
=========================================================  ======================================

Every Key Vault, metrics and logs request needs a bearer token this server issued, for that
service's audience, like the real services: Key Vault answers a request without one with its
``401`` challenge (``WWW-Authenticate: Bearer authorization=..., resource=...``).

The seed data (``azure-data.json``: secrets, VMs with CPU and memory series, a workspace with a
request table) is described in that file. Faults, at most one at a time, switched at start
(``--fault``) or at runtime (``POST /_standin/fault {"fault": NAME or null, "seconds": N}``):

==================  ===========================================================================
``forbidden``       Key Vault answers 403 ``ForbiddenByRbac`` to everything
``list-forbidden``  Key Vault answers 403 to listing only (an access policy with "get" only)
``not-found``       one listed secret is missing (``faults.not-found.secret`` of the seed)
``expired-secret``  one listed secret expired yesterday
``disabled-secret`` one listed secret is disabled (getting it answers 403 ``SecretDisabled``)
``throttle``        the next request to each service answers 429 with ``Retry-After: 1``
``server-error``    Key Vault, metrics and logs answer 500
``slow``            Key Vault, metrics and logs answer after a delay (``--slow-seconds``)
``cpu-warning``     every VM with data reports the seed's ``cpu-warning`` CPU percentage
``cpu-critical``    every VM with data reports the seed's ``cpu-critical`` CPU percentage
``logs-partial``    log queries answer a partial result: half the rows and a ``PartialError``
==================  ===========================================================================

Use it in-process (the tests do)::

    async with StandIn(load_data(path), ssl_context=server_context) as standin:
        standin.url, standin.environment(), standin.set_fault("throttle"), standin.hits

or as a process (the demo launcher does)::

    python azure_standin.py --port 0 --cert server.pem --key server.key \
        --data azure-data.json --state-file azure.json [--fault NAME]

which, once listening, writes the state file (JSON: ``pid``, ``port``, ``url``, ``fault``, and
``env``, the profile variables pointing the clients here; mode 0600, it holds the demo's client
secret), prints the same JSON on one line and serves until SIGTERM or SIGINT. The client secret
comes from the seed unless ``AZURE_STANDIN_CLIENT_SECRET`` is set. It only ever binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import operator
import os
import re
import secrets
import signal
import ssl
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Self
from urllib.parse import quote, urlencode

from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Mapping

HOST: Final = "127.0.0.1"
FAULTS: Final = (
    "forbidden",
    "list-forbidden",
    "not-found",
    "expired-secret",
    "disabled-secret",
    "throttle",
    "server-error",
    "slow",
    "cpu-warning",
    "cpu-critical",
    "logs-partial",
)
DEFAULT_SLOW_SECONDS: Final = 2.0
KEYVAULT_AUDIENCE: Final = "https://vault.azure.net"
METRICS_AUDIENCE: Final = "https://metrics.monitor.azure.com"
LOGS_AUDIENCE: Final = "https://api.loganalytics.io"
MSI_PATH: Final = "/msi/token"
CPU_METRIC: Final = "Percentage CPU"
MEMORY_METRIC: Final = "Available Memory Bytes"
VM_NAMESPACE: Final = "microsoft.compute/virtualmachines"
MB: Final = 1024 * 1024  # "MB" of available memory: MiB, as the Available MBytes counter counts
MAX_POINTS: Final = 1440
KV_ROLE_HINT: Final = "Key Vault Secrets User"


class DataError(ValueError):
    """The seed data file is missing something or holds a wrong value; one line naming it."""


# --- seed data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Secret:
    name: str
    value: str = field(repr=False)
    enabled: bool = True
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    expires: datetime | None = None
    content_type: str | None = None
    version: str = field(default_factory=lambda: secrets.token_hex(16))


@dataclass(frozen=True)
class Vm:
    resource_id: str
    region: str
    cpu_percent: tuple[float, ...]
    available_memory_mb: tuple[float, ...]

    @property
    def subscription(self) -> str:
        return self.resource_id.split("/")[2]


@dataclass(frozen=True)
class Table:
    columns: tuple[tuple[str, str], ...]  # (name, type)
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class SeedData:
    """What the stand-in serves; :func:`load_data` reads it from ``azure-data.json``."""

    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    secrets: tuple[Secret, ...]
    vms: tuple[Vm, ...]
    workspaces: Mapping[str, Mapping[str, Table]]
    demo_secret_list: tuple[str, ...] = ()
    faults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    token_lifetime: int = 3600
    page_size: int = 25

    def fault_setting(self, fault: str, key: str) -> Any:
        try:
            return self.faults[fault][key]
        except KeyError:
            raise DataError(f"the seed data has no faults.{fault}.{key}") from None


def load_data(path: str | Path, *, client_secret: str | None = None) -> SeedData:
    """Read the seed data file; raise :class:`DataError` (one line) when it is malformed."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise DataError(f"{path} is not valid JSON: {error}") from None
    try:
        return parse_data(raw, client_secret=client_secret)
    except (KeyError, TypeError, ValueError) as error:
        detail = f"missing {error}" if isinstance(error, KeyError) else str(error)
        raise DataError(f"{path}: {detail}") from None


def parse_data(raw: Mapping[str, Any], *, client_secret: str | None = None) -> SeedData:
    now = datetime.now(UTC)

    def when(days: float | None) -> datetime | None:
        return None if days is None else now + timedelta(days=days)

    seed_secrets = tuple(
        Secret(
            name=_secret_name(item["name"]),
            value=str(item["value"]),
            enabled=bool(item.get("enabled", True)),
            created=now - timedelta(days=float(item.get("created_days_ago", 0))),
            expires=when(item.get("expires_in_days")),
            content_type=item.get("content_type"),
        )
        for item in raw["secrets"]
    )
    vms = []
    for item in raw["vms"]:
        resource_id = str(item["resource_id"])
        if not re.fullmatch(
            r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/[^/]+/[^/]+/[^/]+", resource_id
        ):
            raise ValueError(f"not a resource id: {resource_id!r}")
        vms.append(
            Vm(
                resource_id=resource_id,
                region=str(item.get("region", "westeurope")),
                cpu_percent=tuple(float(v) for v in item["cpu_percent"]),
                available_memory_mb=tuple(float(v) for v in item["available_memory_mb"]),
            )
        )
    workspaces = {
        str(item["id"]): {
            name: Table(
                columns=tuple((str(c["name"]), str(c["type"])) for c in table["columns"]),
                rows=tuple(tuple(row) for row in table["rows"]),
            )
            for name, table in item["tables"].items()
        }
        for item in raw["workspaces"]
    }
    return SeedData(
        tenant_id=str(raw["tenant_id"]),
        client_id=str(raw["client_id"]),
        client_secret=client_secret or str(raw["client_secret"]),
        secrets=seed_secrets,
        vms=tuple(vms),
        workspaces=workspaces,
        demo_secret_list=tuple(raw.get("demo_secret_list", ())),
        faults=dict(raw.get("faults", {})),
        token_lifetime=int(raw.get("token_lifetime_seconds", 3600)),
        page_size=int(raw.get("page_size", 25)),
    )


def _secret_name(name: Any) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[0-9A-Za-z-]{1,127}", name):
        raise ValueError(f"not a Key Vault secret name: {name!r}")
    return name


# --- the server ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One request the stand-in answered."""

    service: str  # keyvault, metrics, logs, entra, identity, admin, unknown
    method: str
    path: str
    query: str
    status: int


@dataclass
class _Token:
    audience: str
    expires_at: float


class StandIn:
    """The stand-in server on ``127.0.0.1:<port>`` (``port=0``: a free one), HTTPS only."""

    def __init__(
        self,
        data: SeedData,
        *,
        ssl_context: ssl.SSLContext,
        port: int = 0,
        fault: str | None = None,
        slow_seconds: float = DEFAULT_SLOW_SECONDS,
        identity_header: str | None = None,
    ) -> None:
        self.data = data
        self._ssl_context = ssl_context
        self._requested_port = port
        self.port = 0
        self.identity_header = identity_header or secrets.token_hex(16)
        self.hits: list[Hit] = []
        self._tokens: dict[str, _Token] = {}
        self._runner: web.AppRunner | None = None
        self.fault: str | None = None
        self.slow_seconds = slow_seconds
        self._throttled: set[str] = set()
        self.set_fault(fault, seconds=slow_seconds)

    # -- lifecycle --

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}"

    async def start(self) -> Self:
        app = web.Application(middlewares=[self._record])
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, self._requested_port, ssl_context=self._ssl_context)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- control --

    def set_fault(self, fault: str | None, *, seconds: float | None = None) -> None:
        """Switch to ``fault`` (one of :data:`FAULTS`), or back to healthy with ``None``."""
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; valid: {', '.join(FAULTS)}")
        if fault == "slow" and seconds is None:
            seconds = float(self.data.faults.get("slow", {}).get("seconds", DEFAULT_SLOW_SECONDS))
        if seconds is not None:
            if seconds < 0:
                raise ValueError(f"seconds must be >= 0, got {seconds}")
            self.slow_seconds = seconds
        for needs in ("not-found", "expired-secret", "disabled-secret"):
            if fault == needs:
                self.data.fault_setting(needs, "secret")
        if fault in ("cpu-warning", "cpu-critical"):
            self.data.fault_setting(fault, "cpu_percent")
        self.fault = fault
        self._throttled.clear()

    def environment(self) -> dict[str, str]:
        """The profile variables that point the smoke suite's clients at this stand-in.

        ``AZURE_CLIENT_*`` select ``ClientSecretCredential`` against ``AZURE_AUTHORITY_HOST``;
        without them, ``DefaultAzureCredential`` finds the managed identity through
        ``IDENTITY_ENDPOINT``/``IDENTITY_HEADER``. The metrics and logs variables are the names
        the suite's settings use for those endpoints.
        """
        values = {
            "AZURE_KEYVAULT_URL": self.url,
            "AZURE_SECRET_LIST": ",".join(self.data.demo_secret_list),
            "AZURE_TENANT_ID": self.data.tenant_id,
            "AZURE_CLIENT_ID": self.data.client_id,
            "AZURE_CLIENT_SECRET": self.data.client_secret,
            "AZURE_AUTHORITY_HOST": self.url,
            "IDENTITY_ENDPOINT": f"{self.url}{MSI_PATH}",
            "IDENTITY_HEADER": self.identity_header,
            "AZURE_METRICS_ENDPOINT": self.url,
            "AZURE_LOGS_ENDPOINT": self.url,
        }
        if self.data.vms:
            values["VM_RESOURCE_ID"] = self.data.vms[0].resource_id
        if self.data.workspaces:
            values["AZURE_LOG_WORKSPACE_ID"] = next(iter(self.data.workspaces))
        return values

    def count(self, service: str, status: int | None = None) -> int:
        """How many requests ``service`` answered (with ``status``, if given)."""
        return sum(
            1 for hit in self.hits if hit.service == service and status in (None, hit.status)
        )

    def issue_token(self, audience: str, lifetime: float | None = None) -> str:
        """A bearer token for ``audience`` as the token endpoints issue it (tests use it too)."""
        token = f"standin.{secrets.token_urlsafe(24)}"
        seconds = self.data.token_lifetime if lifetime is None else lifetime
        self._tokens[token] = _Token(_audience(audience), time.time() + seconds)
        return token

    # -- plumbing --

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        status = 500
        try:
            response: web.StreamResponse = await handler(request)
            status = response.status
        except web.HTTPException as error:
            status = error.status
            raise
        finally:
            self.hits.append(
                Hit(
                    _service(request.path),
                    request.method,
                    request.path,
                    request.query_string,
                    status,
                )
            )
        return response

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        service = _service(request.path)
        if service == "admin":
            return await self._admin(request)
        if service == "entra":
            return await self._entra(request)
        if service == "identity":
            return self._managed_identity(request)
        if service == "unknown":
            return _error(404, "NotFound", f"the Azure stand-in does not serve {request.path}")
        if self.fault == "slow":
            await asyncio.sleep(self.slow_seconds)
        denied = self._authenticate(request, service)
        if denied is not None:
            return denied
        if self.fault == "throttle" and service not in self._throttled:
            self._throttled.add(service)
            return _error(
                429,
                "Throttled",
                "Request was not processed because too many requests were received. "
                "Reason: VaultRequestTypeLimitReached",
                headers={"Retry-After": "1"},
            )
        if self.fault == "server-error":
            return _error(
                500, "InternalServerError", "The stand-in was told to fail (server-error)."
            )
        if service == "keyvault":
            return self._keyvault(request)
        if service == "metrics":
            return await self._metrics(request)
        return await self._logs(request)

    def _authenticate(self, request: web.Request, service: str) -> web.Response | None:
        audience = {"keyvault": KEYVAULT_AUDIENCE, "metrics": METRICS_AUDIENCE}.get(
            service, LOGS_AUDIENCE
        )
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        issued = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if issued is not None and issued.expires_at > time.time() and issued.audience == audience:
            return None
        if service == "keyvault":
            message = (
                "AKV10000: Request is missing a Bearer or PoP token."
                if issued is None and not header
                else "AKV10022: Invalid audience or expired token."
            )
            return _error(
                401,
                "Unauthorized",
                message,
                headers={
                    "WWW-Authenticate": (
                        'Bearer authorization="https://login.microsoftonline.com/'
                        f'{self.data.tenant_id}", resource="{KEYVAULT_AUDIENCE}"'
                    )
                },
            )
        reason = "is missing" if not header else "is invalid, expired or for another audience"
        return _error(
            401,
            "InvalidAuthenticationToken",
            f"The access token {reason}; this service expects audience {audience}.",
        )

    # -- admin --

    async def _admin(self, request: web.Request) -> web.Response:
        if request.path == "/_standin/state" and request.method == "GET":
            counts: dict[str, int] = {}
            for hit in self.hits:
                counts[hit.service] = counts.get(hit.service, 0) + 1
            return web.json_response(
                {"fault": self.fault, "slow_seconds": self.slow_seconds, "requests": counts}
            )
        if request.path == "/_standin/fault" and request.method == "POST":
            try:
                body = await request.json()
                fault = body.get("fault")
                seconds = body.get("seconds")
                self.set_fault(fault, seconds=None if seconds is None else float(seconds))
            except (ValueError, TypeError, AttributeError, DataError) as error:
                return _error(400, "BadRequest", str(error) or "body must be JSON")
            return web.json_response({"fault": self.fault, "slow_seconds": self.slow_seconds})
        return _error(404, "NotFound", "admin: POST /_standin/fault or GET /_standin/state")

    # -- identity --

    async def _entra(self, request: web.Request) -> web.Response:
        parts = request.path.strip("/").split("/")
        tenant = parts[0]
        if tenant not in (self.data.tenant_id, "organizations", "common"):
            return _oauth_error(
                400, "invalid_request", f"AADSTS90002: Tenant '{tenant}' not found."
            )
        if parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            base = f"{self.url}/{tenant}"
            return web.json_response(
                {
                    "issuer": f"{base}/v2.0",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                    "jwks_uri": f"{base}/discovery/v2.0/keys",
                    "response_types_supported": ["code", "id_token", "token id_token"],
                    "token_endpoint_auth_methods_supported": [
                        "client_secret_post",
                        "client_secret_basic",
                    ],
                    "tenant_region_scope": "EU",
                }
            )
        if parts[1:] != ["oauth2", "v2.0", "token"] or request.method != "POST":
            return _oauth_error(404, "invalid_request", "AADSTS900561: unknown endpoint.")
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", "AADSTS70003: only client_credentials is served."
            )
        scope = str(form.get("scope", ""))
        resource = next((s for s in scope.split() if s.endswith("/.default")), "")
        if not resource:
            return _oauth_error(400, "invalid_scope", "AADSTS1002012: scope needs '/.default'.")
        if form.get("client_id") != self.data.client_id:
            return _oauth_error(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{form.get('client_id')!s}' was not "
                "found in the directory.",
            )
        if form.get("client_secret") != self.data.client_secret:
            return _oauth_error(
                401, "invalid_client", "AADSTS7000215: Invalid client secret provided."
            )
        lifetime = self.data.token_lifetime
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": self.issue_token(resource),
            }
        )

    def _managed_identity(self, request: web.Request) -> web.Response:
        if request.headers.get("X-IDENTITY-HEADER") != self.identity_header:
            return web.json_response(
                {"statusCode": 401, "message": "Unauthorized: X-IDENTITY-HEADER is wrong."},
                status=401,
            )
        resource = request.query.get("resource", "")
        if not resource:
            return web.json_response(
                {"statusCode": 400, "message": "The 'resource' parameter is required."},
                status=400,
            )
        lifetime = self.data.token_lifetime
        return web.json_response(
            {
                "access_token": self.issue_token(resource),
                "expires_on": str(int(time.time()) + lifetime),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": self.data.client_id,
            }
        )

    # -- Key Vault --

    def _current_secrets(self) -> dict[str, Secret]:
        """The vault's secrets as the current fault shows them."""
        current = {secret.name.lower(): secret for secret in self.data.secrets}
        if self.fault in ("not-found", "expired-secret", "disabled-secret"):
            target = str(self.data.fault_setting(self.fault, "secret")).lower()
            if self.fault == "not-found":
                current.pop(target, None)
            elif target in current and self.fault == "expired-secret":
                current[target] = replace(
                    current[target], expires=datetime.now(UTC) - timedelta(days=1)
                )
            elif target in current:
                current[target] = replace(current[target], enabled=False)
        return current

    def _keyvault(self, request: web.Request) -> web.Response:
        if "api-version" not in request.query:
            return _error(400, "BadParameter", "The 'api-version' query parameter is missing.")
        parts = [part for part in request.path.split("/") if part]
        listing = len(parts) == 1
        if request.method != "GET" or len(parts) > 3:
            return _error(405, "BadParameter", "The stand-in's vault serves GET of secrets only.")
        if self.fault == "forbidden" or (self.fault == "list-forbidden" and listing):
            action = "readMetadata/action" if listing else "getSecret/action"
            return _error(
                403,
                "Forbidden",
                "Caller is not authorized to perform action on resource.\r\n"
                "If role assignments, deny assignments or role definitions were changed recently, "
                "please observe propagation time.\r\n"
                f"Caller: appid={self.data.client_id}\r\n"
                f"Action: 'Microsoft.KeyVault/vaults/secrets/{action}'\r\n"
                "Assignment: (not found)\r\n",
                inner="ForbiddenByRbac",
            )
        host = request.headers.get("Host", f"{HOST}:{self.port}")
        current = self._current_secrets()
        if listing:
            return self._list_secrets(request, host, current)
        name = parts[1]
        secret = current.get(name.lower())
        version = parts[2] if len(parts) == 3 else None
        if secret is None or version not in (None, secret.version):
            return _error(
                404,
                "SecretNotFound",
                f"A secret with (name/id) {name}{'/' + version if version else ''} was not found "
                "in this key vault. If you recently deleted this secret you may be able to "
                "recover it using the correct recovery command. For help resolving this issue, "
                "please see https://go.microsoft.com/fwlink/?linkid=2125182",
            )
        if not secret.enabled:
            return _error(
                403,
                "Forbidden",
                "Operation get is not allowed on a disabled secret.",
                inner="SecretDisabled",
            )
        body = _secret_bundle(secret, host, with_version=True)
        body["value"] = secret.value
        return web.json_response(body)

    def _list_secrets(
        self, request: web.Request, host: str, current: dict[str, Secret]
    ) -> web.Response:
        try:
            page_size = int(request.query.get("maxresults", self.data.page_size))
            skip = int(request.query.get("$skiptoken", "0"))
        except ValueError:
            return _error(400, "BadParameter", "maxresults and $skiptoken must be integers.")
        page_size = max(1, min(page_size, 25))
        ordered = sorted(current.values(), key=lambda secret: secret.name.lower())
        page = ordered[skip : skip + page_size]
        body: dict[str, Any] = {
            "value": [_secret_bundle(secret, host, with_version=False) for secret in page],
            "nextLink": None,
        }
        if skip + page_size < len(ordered):
            query = urlencode(
                {
                    "api-version": request.query["api-version"],
                    "$skiptoken": str(skip + page_size),
                    "maxresults": str(page_size),
                }
            )
            body["nextLink"] = f"https://{host}/secrets?{query}"
        return web.json_response(body)

    # -- metrics --

    async def _metrics(self, request: web.Request) -> web.Response:
        match = re.fullmatch(r"/subscriptions/([^/]+)/metrics:getBatch", request.path)
        if match is None or request.method != "POST":
            return _error(
                404, "NotFound", f"no metrics operation at {request.method} {request.path}"
            )
        try:
            body = await request.json()
            resource_ids = [str(rid) for rid in body["resourceids"]]
        except (ValueError, KeyError, TypeError):
            return _error(400, "BadRequest", 'The body must be {"resourceids": [...]}.')
        query = request.query
        namespace = query.get("metricnamespace", "")
        names = [name.strip() for name in query.get("metricnames", "").split(",") if name.strip()]
        if namespace.lower() != VM_NAMESPACE:
            return _error(
                400,
                "BadRequest",
                f"The stand-in serves namespace Microsoft.Compute/virtualMachines "
                f"only, not {namespace!r}.",
            )
        unknown = [
            name
            for name in names
            if name.lower() not in (CPU_METRIC.lower(), MEMORY_METRIC.lower())
        ]
        if not names or unknown:
            return _error(
                400,
                "BadRequest",
                f"Failed to find metric configuration for provider: Microsoft.Compute, resource "
                f"Type: virtualMachines, metric: {', '.join(unknown) or '(none)'}. Valid metrics: "
                f"{CPU_METRIC}, {MEMORY_METRIC}.",
            )
        for rid in resource_ids:
            if rid.split("/")[2:3] != [match.group(1)]:
                return _error(
                    400, "BadRequest", f"Resource {rid} is not in subscription {match.group(1)}."
                )
        try:
            end = _parse_time(query.get("endtime")) or datetime.now(UTC)
            start = _parse_time(query.get("starttime")) or end - timedelta(hours=1)
            interval = _parse_interval(query.get("interval") or "PT1M")
        except ValueError as error:
            return _error(400, "BadRequest", str(error))
        aggregations = [
            a.strip().lower()
            for a in (query.get("aggregation") or "average").split(",")
            if a.strip()
        ]
        vms = {vm.resource_id.lower(): vm for vm in self.data.vms}
        values = []
        for rid in resource_ids:
            vm = vms.get(rid.lower())
            metrics = [
                self._metric(
                    rid=rid,
                    vm=vm,
                    name=name,
                    start=start,
                    end=end,
                    interval=interval,
                    aggregations=aggregations,
                )
                for name in names
            ]
            values.append(
                {
                    "starttime": _iso(start),
                    "endtime": _iso(end),
                    "interval": _duration(interval),
                    "value": metrics,
                    "namespace": "Microsoft.Compute/virtualMachines",
                    "resourceregion": vm.region if vm else "westeurope",
                    "resourceid": rid,
                }
            )
        return web.json_response({"values": values})

    def _metric(
        self,
        *,
        rid: str,
        vm: Vm | None,
        name: str,
        start: datetime,
        end: datetime,
        interval: timedelta,
        aggregations: list[str],
    ) -> dict[str, Any]:
        is_cpu = name.lower() == CPU_METRIC.lower()
        series: tuple[float, ...] = ()
        if vm is not None:
            series = vm.cpu_percent if is_cpu else tuple(mb * MB for mb in vm.available_memory_mb)
        if series and is_cpu and self.fault in ("cpu-warning", "cpu-critical"):
            series = (float(self.data.fault_setting(self.fault, "cpu_percent")),)
        data = []
        steps = min(int((end - start) / interval), MAX_POINTS) if interval else 0
        for step in range(steps):
            point: dict[str, Any] = {"timeStamp": _iso(start + step * interval)}
            if series:
                value = series[step % len(series)]
                for aggregation in aggregations:
                    point[aggregation] = 1 if aggregation == "count" else value
            data.append(point)
        canonical = CPU_METRIC if is_cpu else MEMORY_METRIC
        return {
            "id": f"{rid}/providers/Microsoft.Insights/metrics/{canonical}",
            "type": "Microsoft.Insights/metrics",
            "name": {"value": canonical, "localizedValue": canonical},
            "displayDescription": (
                "The percentage of allocated compute units that are currently in use by the VM(s)"
                if is_cpu
                else "Amount of physical memory, in bytes, immediately available for allocation"
            ),
            "unit": "Percent" if is_cpu else "Bytes",
            "timeseries": [{"metadatavalues": [], "data": data}] if vm is not None else [],
            "errorCode": "Success",
        }

    # -- logs --

    async def _logs(self, request: web.Request) -> web.Response:
        match = re.fullmatch(r"/v1/workspaces/([^/]+)/query", request.path)
        if match is None or request.method != "POST":
            return _error(404, "PathNotFoundError", f"no logs operation at {request.path}")
        tables = self.data.workspaces.get(match.group(1))
        if tables is None:
            return _error(
                404, "WorkspaceNotFoundError", f"The workspace {match.group(1)} could not be found"
            )
        try:
            body = await request.json()
            query = str(body["query"])
        except (ValueError, KeyError, TypeError):
            return _error(
                400, "BadArgumentError", 'The body must be {"query": ..., "timespan": ...}.'
            )
        if self.fault == "logs-partial":  # the engine gave up half way through the data
            tables = {
                name: replace(table, rows=table.rows[: len(table.rows) // 2])
                for name, table in tables.items()
            }
        try:
            columns, rows = run_kql(query, tables)
        except KqlError as error:
            return _error(
                400,
                "BadArgumentError",
                "The request had some invalid properties",
                inner="SyntaxError",
                inner_message=str(error),
            )
        now = datetime.now(UTC)
        rows = [
            [
                _relative_time(cell, now) if kind == "datetime" else cell
                for cell, (_, kind) in zip(row, columns, strict=True)
            ]
            for row in rows
        ]
        result: dict[str, Any] = {
            "tables": [
                {
                    "name": "PrimaryResult",
                    "columns": [{"name": name, "type": kind} for name, kind in columns],
                    "rows": rows,
                }
            ]
        }
        if self.fault == "logs-partial":
            result["error"] = {
                "code": "PartialError",
                "message": "There were some errors when processing your query.",
                "innererror": {
                    "code": "E_QUERY_RESULT_SET_TOO_LARGE",
                    "message": "Query result set has exceeded the internal data size limit; "
                    "the result is truncated.",
                },
            }
        return web.json_response(result)


# --- a small subset of KQL -----------------------------------------------------------------------


class KqlError(ValueError):
    """A query outside the subset the stand-in understands."""


_KQL_STAGE: Final = re.compile(
    r"""^(?:
        where\s+(?P<column>\w+)\s*(?P<op>==|!=|>=|<=|>|<)\s*(?P<literal>"[^"]*"|'[^']*'|\S+)
      | (?P<count>count)
      | (?:take|limit)\s+(?P<take>\d+)
      | project\s+(?P<project>\w+(?:\s*,\s*\w+)*)
    )$""",
    re.VERBOSE,
)


def run_kql(
    query: str, tables: Mapping[str, Table]
) -> tuple[list[tuple[str, str]], list[list[Any]]]:
    """Run ``Table | where Col op literal | project A, B | take N | count`` (any order of stages).

    That is all the stand-in understands of KQL; anything else raises :class:`KqlError`.
    """
    stages = [stage.strip() for stage in query.strip().rstrip(";").split("|")]
    table = tables.get(stages[0])
    if table is None:
        raise KqlError(f"'{stages[0]}' is not a table of this workspace ({', '.join(tables)})")
    columns = list(table.columns)
    rows = [list(row) for row in table.rows]
    for stage in stages[1:]:
        match = _KQL_STAGE.match(stage)
        if match is None:
            raise KqlError(f"the stand-in does not understand '{stage}'")
        names = [name for name, _ in columns]
        if match["count"]:
            columns, rows = [("Count", "long")], [[len(rows)]]
        elif match["take"]:
            rows = rows[: int(match["take"])]
        elif match["project"]:
            wanted = [name.strip() for name in match["project"].split(",")]
            missing = [name for name in wanted if name not in names]
            if missing:
                raise KqlError(f"unknown column {missing[0]!r}")
            indexes = [names.index(name) for name in wanted]
            columns = [columns[i] for i in indexes]
            rows = [[row[i] for i in indexes] for row in rows]
        else:
            if match["column"] not in names:
                raise KqlError(f"unknown column {match['column']!r}")
            index = names.index(match["column"])
            literal = _kql_literal(match["literal"])
            rows = [row for row in rows if _compare(row[index], match["op"], literal)]
    return columns, rows


def _kql_literal(text: str) -> Any:
    if text[0] in "\"'":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    try:
        return float(text)
    except ValueError:
        raise KqlError(f"cannot read the literal {text!r}") from None


_KQL_OPERATORS: Final = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}


def _compare(cell: Any, op: str, literal: Any) -> bool:
    try:
        return bool(_KQL_OPERATORS[op](cell, literal))
    except TypeError:  # a string column compared with a number: no match, as in KQL
        return False


# --- wire helpers --------------------------------------------------------------------------------


def _service(path: str) -> str:
    if path.startswith("/_standin/"):
        return "admin"
    if path == "/secrets" or path.startswith("/secrets/"):
        return "keyvault"
    if path.startswith("/subscriptions/"):
        return "metrics"
    if path.startswith("/v1/workspaces/"):
        return "logs"
    if path == MSI_PATH:
        return "identity"
    if re.fullmatch(r"/[\w.-]+/(oauth2/v2\.0/token|v2\.0/\.well-known/openid-configuration)", path):
        return "entra"
    return "unknown"


def _audience(scope_or_resource: str) -> str:
    audience = scope_or_resource.strip()
    audience = audience.removesuffix("/.default")
    return audience.rstrip("/").lower()


def _error(
    status: int,
    code: str,
    message: str,
    *,
    inner: str | None = None,
    inner_message: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner is not None:
        error["innererror"] = {"code": inner}
        if inner_message is not None:
            error["innererror"]["message"] = inner_message
    return web.json_response({"error": error}, status=status, headers=headers)


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response(
        {
            "error": error,
            "error_description": description,
            "error_codes": [int(re.sub(r"\D", "", description.split(":", maxsplit=1)[0]) or 0)],
            "timestamp": _iso(datetime.now(UTC)),
        },
        status=status,
    )


def _secret_bundle(secret: Secret, host: str, *, with_version: bool) -> dict[str, Any]:
    ident = f"https://{host}/secrets/{quote(secret.name)}"
    attributes: dict[str, Any] = {
        "enabled": secret.enabled,
        "created": int(secret.created.timestamp()),
        "updated": int(secret.created.timestamp()),
        "recoveryLevel": "Recoverable+Purgeable",
        "recoverableDays": 90,
    }
    if secret.expires is not None:
        attributes["exp"] = int(secret.expires.timestamp())
    bundle: dict[str, Any] = {
        "id": f"{ident}/{secret.version}" if with_version else ident,
        "attributes": attributes,
        "tags": {},
    }
    if secret.content_type is not None:
        bundle["contentType"] = secret.content_type
    return bundle


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"cannot read the time {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse_interval(value: str) -> timedelta:
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?", value.upper())
    if value.upper() == "P1D":
        return timedelta(days=1)
    if match is None or not any(match.groups()):
        raise ValueError(f"the stand-in reads intervals like PT1M, PT5M, PT1H, P1D, not {value!r}")
    return timedelta(hours=int(match[1] or 0), minutes=int(match[2] or 0))


def _duration(interval: timedelta) -> str:
    minutes = int(interval.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"P{minutes // 1440}D"
    if minutes % 60 == 0:
        return f"PT{minutes // 60}H"
    return f"PT{minutes}M"


def _relative_time(cell: Any, now: datetime) -> Any:
    match = re.fullmatch(r"-(\d+)m", cell) if isinstance(cell, str) else None
    if match is None:
        return cell
    return (now - timedelta(minutes=int(match[1]))).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- command line --------------------------------------------------------------------------------


def server_context(cert: str | Path, key: str | Path) -> ssl.SSLContext:
    """The server-side TLS context for a PEM certificate chain and its key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return context


def _write_state(path: Path, state: Mapping[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2)
        handle.write("\n")
    temporary.replace(path)


async def _serve(args: argparse.Namespace) -> None:
    data = load_data(args.data, client_secret=os.environ.get("AZURE_STANDIN_CLIENT_SECRET"))
    context = server_context(args.cert, args.key)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with StandIn(
        data, ssl_context=context, port=args.port, fault=args.fault, slow_seconds=args.slow_seconds
    ) as standin:
        state = {
            "pid": os.getpid(),
            "port": standin.port,
            "url": standin.url,
            "fault": standin.fault,
            "env": standin.environment(),
        }
        if args.state_file is not None:
            _write_state(Path(args.state_file), state)
        print(json.dumps(state), flush=True)
        await stop.wait()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="azure_standin.py",
        description="Serve the Azure stand-in (Key Vault, metrics, logs, tokens) over HTTPS on "
        f"{HOST}.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    parser.add_argument("--cert", required=True, help="server certificate chain (PEM)")
    parser.add_argument("--key", required=True, help="its private key (PEM)")
    parser.add_argument(
        "--data", default=str(Path(__file__).with_name("azure-data.json")), help="seed data (JSON)"
    )
    parser.add_argument("--state-file", help="write pid, port, url and env here once listening")
    parser.add_argument("--fault", choices=FAULTS, help="start with this fault")
    parser.add_argument(
        "--slow-seconds",
        type=float,
        default=None,
        help=f"delay of the slow fault (default: the seed's, else {DEFAULT_SLOW_SECONDS})",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.slow_seconds is None:
        args.slow_seconds = DEFAULT_SLOW_SECONDS
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            seed = json.loads(Path(args.data).read_text(encoding="utf-8"))
            args.slow_seconds = float(seed["faults"]["slow"]["seconds"])
    try:
        asyncio.run(_serve(args))
    except (DataError, OSError, ValueError) as error:
        print(f"azure_standin.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
