"""Azure checks with the real SDK clients: Key Vault secrets, VM metrics, Log Analytics queries.

Build a credential with :func:`make_credential`, clients with :func:`make_secret_client`,
:func:`make_metrics_client` and :func:`make_logs_client`, then run the checks:

- :func:`check_secrets`: each secret FOUND, MISSING, DISABLED, EXPIRING, EXPIRED or FORBIDDEN,
  from its properties (presence, enabled flag, expiry); values are not read when listing the
  vault is allowed.
- :func:`check_vm_metrics`: CPU percentage (upper bound) and available memory (lower bound) of
  each VM, OK, WARNING, CRITICAL or NO_DATA.
- :func:`run_log_check`: a KQL query whose result (a count, or the number of rows) must stay
  within a threshold; partial results are reported as such.

Errors: a service or token issuer that cannot be reached (refused, TLS, timeout) raises
:class:`~pytest_smoke.causes.DependencyUnavailable` with dependency ``"azure"`` and the
``host:port`` that failed; a refused credential, a throttled or failing service raises
:class:`AzureCheckError`. Neither ever holds a secret value.

Retries: clients get a :class:`ThrottleRetryPolicy`, which retries HTTP 429 as long as the
service's ``Retry-After`` asks (capped) and nothing else, so a dead or failing service costs one
request, not azure-core's default of ten with backoff (one 503 became ~5 s).

TLS: azure-core's aiohttp transport, given ``connection_verify=<CA file>``, builds a new SSL
context for every request, and its connection pool is keyed by that context, so no connection
is ever reused: each request pays a CA-file read and a TLS handshake (measured here against the
local stand-in: 7.3 ms a Key Vault request, against 2.5 ms with one shared context). A
:class:`SharedSession` holds one context and one pool for every client and credential of a run:
pass ``transport=session.transport()``.
"""

from __future__ import annotations

import re
import ssl
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.policies import AsyncRetryPolicy

from pytest_smoke.causes import DependencyUnavailable

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    import aiohttp
    from azure.core.credentials_async import AsyncTokenCredential
    from azure.core.pipeline import PipelineResponse
    from azure.core.pipeline.transport import AsyncHttpTransport
    from azure.keyvault.secrets import SecretProperties
    from azure.keyvault.secrets.aio import SecretClient
    from azure.monitor.query.aio import LogsQueryClient
    from azure.monitor.querymetrics.aio import MetricsClient

#: The dependency name every Azure cause is grouped under.
DEPENDENCY: Final = "azure"
#: DNS suffix of Key Vault in the public cloud.
VAULT_SUFFIX: Final = "vault.azure.net"
#: Key Vault suffixes of the public and sovereign clouds (and Managed HSM).
KNOWN_VAULT_SUFFIXES: Final = (
    "vault.azure.net",
    "vault.azure.cn",
    "vault.usgovcloudapi.net",
    "vault.microsoftazure.de",
    "managedhsm.azure.net",
)
#: Entra ID authorities MSAL knows; any other authority host skips instance discovery.
KNOWN_AUTHORITY_HOSTS: Final = (
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
    "login.microsoftonline.de",
)
#: The built-in role that lets an identity read secrets (values and properties) of a vault.
KEY_VAULT_READ_ROLE: Final = "Key Vault Secrets User"
#: Log Analytics' public endpoint and token audience.
LOGS_AUDIENCE: Final = "https://api.loganalytics.io"
KNOWN_LOGS_HOSTS: Final = (
    "api.loganalytics.io",
    "api.loganalytics.us",
    "api.loganalytics.azure.cn",
)
#: The metrics the VM check reads, in namespace ``Microsoft.Compute/virtualMachines``.
VM_NAMESPACE: Final = "Microsoft.Compute/virtualMachines"
CPU_METRIC: Final = "Percentage CPU"
MEMORY_METRIC: Final = "Available Memory Bytes"
#: Bytes in one "MB" of available memory (MiB, as Windows' "Available MBytes" counts them).
BYTES_PER_MB: Final = 1024 * 1024
#: How a window's data points are combined for each supported aggregation.
AGGREGATIONS: Final = ("Average", "Maximum", "Minimum")
RESOURCE_ID_FORMAT: Final = (
    "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{vm}"
)

_VAULT_NAME: Final = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{1,22}[A-Za-z0-9]$")
_VM_RESOURCE_ID: Final = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.Compute/virtualMachines/(?P<vm>[^/]+)/?$",
    re.IGNORECASE,
)
_MAX_DETAIL: Final = 300
# Each service's name in messages and the path its own requests start with: a
# ClientAuthenticationError about any other request came from the credential's token request.
_KEY_VAULT: Final = ("Key Vault", "/secrets")
_METRICS: Final = ("Azure Monitor metrics", "/subscriptions/")
_LOGS: Final = ("Log Analytics", "/v1/")


class AzureCheckError(Exception):
    """A check could not run: the credential was refused, or a service answered an error.

    The message is one line naming the service, the HTTP status and what to do. It never holds
    a secret value (the services do not echo them, and values are never put in messages).
    """

    def __init__(self, service: str, message: str, *, status: int | None = None) -> None:
        self.service = service
        self.status = status
        super().__init__(message)


# --- transport, retries, credential and clients ----------------------------------------------


class ThrottleRetryPolicy(AsyncRetryPolicy):  # type: ignore[type-arg]
    """Retries HTTP 429 only, ``retries`` times, waiting what ``Retry-After`` asks.

    The wait is capped at ``max_retry_after`` seconds (a throttled service may ask for minutes;
    a smoke run would rather fail). Connect errors, read errors and 5xx answers are not retried:
    a smoke check reports them at once.
    """

    def __init__(self, *, retries: int = 3, max_retry_after: float = 30.0, **kwargs: Any) -> None:
        if retries < 0 or max_retry_after < 0:
            raise ValueError("retries and max_retry_after must be >= 0")
        kwargs.update(retry_total=retries, retry_status=retries, retry_connect=0, retry_read=0)
        super().__init__(**kwargs)
        self.max_retry_after = max_retry_after

    def is_retry(self, settings: dict[str, Any], response: PipelineResponse[Any, Any]) -> bool:
        if response.http_response.status_code != 429:
            return False
        return bool(super().is_retry(settings, response))

    def get_retry_after(self, response: PipelineResponse[Any, Any]) -> float | None:
        asked = super().get_retry_after(response)
        return None if asked is None else min(float(asked), self.max_retry_after)


class SharedSession:
    """One aiohttp session (one TLS context, one connection pool) for every Azure client.

    Create it in the event loop that will use it; :meth:`transport` hands each client or
    credential its own azure-core transport over the shared session (closing a client leaves
    the session open). Close the session after the clients: ``async with SharedSession(...)``
    or ``await session.aclose()``. ``ca_bundle`` replaces the system's trust store (a test CA).
    """

    def __init__(
        self,
        *,
        ca_bundle: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
    ) -> None:
        self.ca_bundle = ca_bundle
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            import aiohttp

            context = ssl.create_default_context(cafile=self.ca_bundle)
            # As azure-core's own session: no cookies, and bodies left compressed (the
            # transport decompresses them itself).
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=context),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                trust_env=True,
            )
        return self._session

    def transport(self) -> AsyncHttpTransport[Any, Any]:
        """A transport for one client or credential, over the shared session."""
        from azure.core.pipeline.transport import AioHttpTransport

        transport: AsyncHttpTransport[Any, Any] = AioHttpTransport(
            session=self._open(),
            session_owner=False,
            connection_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
        )
        return transport

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> SharedSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _transport_options(
    transport: AsyncHttpTransport[Any, Any] | None,
    ca_bundle: str | None,
    connect_timeout: float,
    read_timeout: float,
) -> dict[str, Any]:
    if transport is not None:
        return {"transport": transport}
    options: dict[str, Any] = {"connection_timeout": connect_timeout, "read_timeout": read_timeout}
    if ca_bundle is not None:
        options["connection_verify"] = ca_bundle
    return options


def make_credential(
    *,
    tenant_id: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    authority_host: str | None = None,
    ca_bundle: str | None = None,
    transport: AsyncHttpTransport[Any, Any] | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
) -> AsyncTokenCredential:
    """The credential the checks authenticate with; close it after the clients.

    ``ClientSecretCredential`` when tenant, client id and secret are all set (a service
    principal: ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``, ``AZURE_CLIENT_SECRET``), else
    ``DefaultAzureCredential`` (managed identity, workload identity, Azure CLI... in its order;
    a lone ``client_id`` names a user-assigned managed identity). ``authority_host`` replaces
    ``login.microsoftonline.com`` (sovereign cloud, local stand-in); an authority MSAL does not
    know skips instance discovery, which would ask the public cloud to vouch for it.
    ``ca_bundle`` trusts a private CA; with ``transport`` (from :class:`SharedSession`) the
    session's TLS settings apply instead. Connect and read errors are not retried, so an
    unreachable issuer costs one attempt (:class:`DependencyUnavailable` for a service principal;
    ``DefaultAzureCredential`` tries its next credential and reports them all).
    """
    from azure.identity.aio import ClientSecretCredential, DefaultAzureCredential

    options = _transport_options(transport, ca_bundle, connect_timeout, read_timeout)
    options.update(retry_connect=0, retry_read=0)
    if authority_host:
        options["authority"] = authority_host
    if tenant_id and client_id and client_secret:
        if authority_host and _host(authority_host) not in KNOWN_AUTHORITY_HOSTS:
            options["disable_instance_discovery"] = True
        return ClientSecretCredential(tenant_id, client_id, client_secret, **options)
    if client_id:
        options["managed_identity_client_id"] = client_id
    return DefaultAzureCredential(**options)


def vault_url(name_or_url: str, *, suffix: str = VAULT_SUFFIX) -> str:
    """The vault's URL: ``https://<name>.<suffix>`` for a vault name, or the URL as given.

    ``suffix`` is the cloud's Key Vault DNS suffix (``vault.azure.cn``,
    ``vault.usgovcloudapi.net``...). Raises ``ValueError`` (one line) for a name Key Vault would
    not accept or a URL that is not HTTPS.
    """
    value = name_or_url.strip()
    if "://" in value:
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"Key Vault URL must be https://<host>, got {value!r}")
        return f"https://{parts.netloc}{parts.path.rstrip('/')}"
    if not _VAULT_NAME.match(value):
        raise ValueError(
            f"{value!r} is not a Key Vault name: 3-24 letters, digits and single hyphens, "
            "starting with a letter"
        )
    return f"https://{value.lower()}.{suffix.strip('.')}"


def is_vault_host(url: str, *, suffix: str = VAULT_SUFFIX) -> bool:
    """Whether ``url``'s host is under a Key Vault domain (so the challenge can be verified)."""
    host = _host(url)
    return any(host.endswith(f".{known}") for known in (*KNOWN_VAULT_SUFFIXES, suffix))


def make_secret_client(
    vault: str,
    credential: AsyncTokenCredential,
    *,
    suffix: str = VAULT_SUFFIX,
    transport: AsyncHttpTransport[Any, Any] | None = None,
    ca_bundle: str | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
    throttle_retries: int = 3,
    max_retry_after: float = 30.0,
) -> SecretClient:
    """A ``SecretClient`` for ``vault`` (a name or a URL, see :func:`vault_url`).

    The Key Vault challenge names the token's resource; the SDK checks that it matches the
    vault's domain, which a vault behind another host name (a stand-in, a private endpoint
    alias) cannot pass, so the check is kept only for hosts under a Key Vault domain.
    """
    from azure.keyvault.secrets.aio import SecretClient

    url = vault_url(vault, suffix=suffix)
    return SecretClient(
        url,
        credential,
        verify_challenge_resource=is_vault_host(url, suffix=suffix),
        retry_policy=ThrottleRetryPolicy(retries=throttle_retries, max_retry_after=max_retry_after),
        **_transport_options(transport, ca_bundle, connect_timeout, read_timeout),
    )


def metrics_endpoint(region: str) -> str:
    """The regional metrics endpoint (``https://<region>.metrics.monitor.azure.com``)."""
    return f"https://{region.strip().lower()}.metrics.monitor.azure.com"


def make_metrics_client(
    endpoint: str,
    credential: AsyncTokenCredential,
    *,
    audience: str | None = None,
    transport: AsyncHttpTransport[Any, Any] | None = None,
    ca_bundle: str | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
    throttle_retries: int = 3,
    max_retry_after: float = 30.0,
) -> MetricsClient:
    """A ``MetricsClient`` for the regional ``endpoint`` the VMs live in.

    ``audience`` defaults to the SDK's (``https://metrics.monitor.azure.com``), right for the
    public cloud and for a stand-in; sovereign clouds name theirs.
    """
    from azure.monitor.querymetrics.aio import MetricsClient

    options = _transport_options(transport, ca_bundle, connect_timeout, read_timeout)
    if audience is not None:
        options["audience"] = audience
    return MetricsClient(
        endpoint,
        credential,
        retry_policy=ThrottleRetryPolicy(retries=throttle_retries, max_retry_after=max_retry_after),
        **options,
    )


def make_logs_client(
    credential: AsyncTokenCredential,
    *,
    endpoint: str | None = None,
    audience: str | None = None,
    transport: AsyncHttpTransport[Any, Any] | None = None,
    ca_bundle: str | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
    throttle_retries: int = 3,
    max_retry_after: float = 30.0,
) -> LogsQueryClient:
    """A ``LogsQueryClient`` for Log Analytics (``endpoint`` defaults to the public one).

    The SDK takes the token audience from the endpoint, which is wrong for any endpoint that is
    not a Log Analytics host (a stand-in, a proxy): those get the public audience unless
    ``audience`` says otherwise.
    """
    from azure.monitor.query.aio import LogsQueryClient

    options = _transport_options(transport, ca_bundle, connect_timeout, read_timeout)
    if endpoint is not None:
        options["endpoint"] = endpoint
        if audience is None and _host(endpoint) not in KNOWN_LOGS_HOSTS:
            audience = LOGS_AUDIENCE
    if audience is not None:
        options["audience"] = audience
    return LogsQueryClient(
        credential,
        retry_policy=ThrottleRetryPolicy(retries=throttle_retries, max_retry_after=max_retry_after),
        **options,
    )


# --- Key Vault secrets ---------------------------------------------------------------------------


class SecretState(StrEnum):
    FOUND = "FOUND"
    MISSING = "MISSING"
    DISABLED = "DISABLED"
    EXPIRING = "EXPIRING"
    EXPIRED = "EXPIRED"
    FORBIDDEN = "FORBIDDEN"


@dataclass(frozen=True, slots=True)
class SecretStatus:
    """What the vault says about one secret; never its value.

    ``expires_on`` and ``enabled`` are ``None`` when the vault did not tell (missing,
    forbidden). ``detail`` is one line for a person.
    """

    name: str
    state: SecretState
    detail: str
    enabled: bool | None = None
    expires_on: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.state is SecretState.FOUND

    def __str__(self) -> str:
        return f"{self.name}: {self.state} ({self.detail})"


async def check_secrets(
    client: SecretClient,
    names: Iterable[str],
    *,
    expiry_days: float,
    fetched_values: list[str] | None = None,
    now: datetime | None = None,
) -> list[SecretStatus]:
    """The status of each secret in ``names`` (in order, duplicates once), from its properties.

    The vault's secret properties are listed (``list_properties_of_secrets``, stopping once
    every name is seen): presence, enabled flag and expiry come without any value. Only when
    listing is forbidden (an access policy with "get" but not "list") is each secret read with
    ``get_secret``; every value read that way is appended to ``fetched_values`` so the caller
    can mask it, and is dropped here at once.

    A secret expiring within ``expiry_days`` is EXPIRING; one past its expiry EXPIRED. Names
    are compared case-insensitively, as Key Vault does.
    """
    wanted = list(dict.fromkeys(name.strip() for name in names if name.strip()))
    if not wanted:
        return []
    moment = now or datetime.now(UTC)
    try:
        found = await _list_properties(client, {name.lower() for name in wanted})
    except HttpResponseError as error:
        if error.status_code != 403:
            raise _check_error(_KEY_VAULT, error, client.vault_url) from None
        return [
            await _get_status(client, name, expiry_days, moment, fetched_values) for name in wanted
        ]
    except (ServiceRequestError, ServiceResponseError) as error:
        raise _unavailable(error, client.vault_url) from error
    statuses = []
    for name in wanted:
        properties = found.get(name.lower())
        if properties is None:
            statuses.append(_missing(name, client.vault_url))
        else:
            statuses.append(_from_properties(name, properties, expiry_days, moment))
    return statuses


async def _list_properties(client: SecretClient, wanted: set[str]) -> dict[str, SecretProperties]:
    found: dict[str, SecretProperties] = {}
    async for properties in client.list_properties_of_secrets():
        name = (properties.name or "").lower()
        if name in wanted:
            found[name] = properties
            if len(found) == len(wanted):
                break
    return found


async def _get_status(
    client: SecretClient,
    name: str,
    expiry_days: float,
    moment: datetime,
    fetched_values: list[str] | None,
) -> SecretStatus:
    try:
        secret = await client.get_secret(name)
    except ResourceNotFoundError:
        return _missing(name, client.vault_url)
    except HttpResponseError as error:
        if error.status_code != 403:
            raise _check_error(_KEY_VAULT, error, client.vault_url) from None
        if _inner_code(error) == "SecretDisabled":
            return SecretStatus(name, SecretState.DISABLED, "disabled in the vault", enabled=False)
        return SecretStatus(name, SecretState.FORBIDDEN, _forbidden_detail(error))
    except (ServiceRequestError, ServiceResponseError) as error:
        raise _unavailable(error, client.vault_url) from error
    if secret.value is not None and fetched_values is not None:
        fetched_values.append(secret.value)
    return _from_properties(name, secret.properties, expiry_days, moment)


def _missing(name: str, url: str) -> SecretStatus:
    return SecretStatus(name, SecretState.MISSING, f"no secret named {name!r} in {url}")


def _from_properties(
    name: str, properties: SecretProperties, expiry_days: float, moment: datetime
) -> SecretStatus:
    enabled = properties.enabled is not False
    expires = properties.expires_on
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if not enabled:
        return SecretStatus(
            name, SecretState.DISABLED, "disabled in the vault", enabled=False, expires_on=expires
        )
    if expires is None:
        return SecretStatus(name, SecretState.FOUND, "enabled, no expiry date", enabled=True)
    left = expires - moment
    day = f"{expires:%Y-%m-%d}"
    if left <= timedelta(0):
        state, detail = SecretState.EXPIRED, f"expired on {day} ({_days(-left)} ago)"
    elif left <= timedelta(days=expiry_days):
        state, detail = (
            SecretState.EXPIRING,
            f"expires on {day}, in {_days(left)} (within {expiry_days:g} days)",
        )
    else:
        state, detail = SecretState.FOUND, f"enabled, expires on {day} (in {_days(left)})"
    return SecretStatus(name, state, detail, enabled=True, expires_on=expires)


def _days(span: timedelta) -> str:
    """``5 days``, ``1 day``, ``7 hours``: rounded, so a secret made to expire in 5 days says 5."""
    seconds = span.total_seconds()
    if seconds < 86400 - 1800:
        hours = max(1, round(seconds / 3600))
        return f"{hours} hour{'s' if hours != 1 else ''}"
    days = max(1, round(seconds / 86400))
    return f"{days} day{'s' if days != 1 else ''}"


def _forbidden_detail(error: HttpResponseError) -> str:
    inner = _inner_code(error)
    code = f" ({inner})" if inner else ""
    if inner in ("ForbiddenByFirewall", "ForbiddenByConnection"):
        return (
            f"access denied{code}: the vault's network rules keep this client out; allow its "
            "address or reach the vault through its private endpoint"
        )
    how = (
        "give it get and list permissions on secrets in the vault's access policy"
        if inner == "ForbiddenByPolicy"
        else f"assign it the '{KEY_VAULT_READ_ROLE}' role on the vault"
    )
    return f"access denied{code}: the identity may not read this secret; {how}"


# --- VM metrics ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VmResourceId:
    subscription: str
    resource_group: str
    name: str

    def __str__(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/{VM_NAMESPACE}/{self.name}"
        )


def parse_resource_id(resource_id: str) -> VmResourceId:
    """The parts of a VM's resource id; ``ValueError`` (one line, with the format) if it is not."""
    match = _VM_RESOURCE_ID.match(resource_id.strip())
    if match is None:
        raise ValueError(
            f"not a VM resource id: {resource_id.strip()!r}; expected {RESOURCE_ID_FORMAT}"
        )
    return VmResourceId(match["sub"], match["rg"], match["vm"])


class MetricState(StrEnum):
    OK = "OK"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"
    NO_DATA = "NO_DATA"


@dataclass(frozen=True, slots=True)
class MetricStatus:
    """One metric of one VM against its threshold.

    ``metric`` is ``"cpu"`` (percent, an upper bound) or ``"memory"`` (available MB, a lower
    bound); ``value`` is ``None`` for NO_DATA; ``critical_at`` is where CRITICAL starts.
    """

    resource_id: str
    vm: str
    metric: str
    state: MetricState
    value: float | None
    threshold: float
    critical_at: float
    unit: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.state is MetricState.OK

    def __str__(self) -> str:
        return f"{self.vm} {self.metric}: {self.state} ({self.detail})"


def classify_cpu(value: float, threshold: float, *, limit: float = 100.0) -> MetricState:
    """OK up to ``threshold``; CRITICAL from halfway between it and ``limit``; WARNING between.

    "Exceeded by 50%" is measured on the headroom left above the threshold, not on the threshold
    itself: 1.5 x 80% would be 120%, a CPU percentage that cannot happen. With threshold 80:
    OK <= 80 < WARNING < 90 <= CRITICAL.
    """
    if value <= threshold:
        return MetricState.OK
    return (
        MetricState.CRITICAL
        if value >= cpu_critical_at(threshold, limit=limit)
        else (MetricState.WARNING)
    )


def cpu_critical_at(threshold: float, *, limit: float = 100.0) -> float:
    return threshold + (max(limit, threshold) - threshold) / 2


def classify_memory(value_mb: float, threshold_mb: float) -> MetricState:
    """OK from ``threshold_mb`` up; CRITICAL at half of it or less; WARNING between.

    The same rule as :func:`classify_cpu`, the worst value being 0 MB: halfway from the
    threshold to 0 is 50% below it. With threshold 500: OK >= 500 > WARNING > 250 >= CRITICAL.
    """
    if value_mb >= threshold_mb:
        return MetricState.OK
    return MetricState.CRITICAL if value_mb <= threshold_mb / 2 else MetricState.WARNING


async def check_vm_metrics(
    client: MetricsClient,
    resource_ids: Sequence[str],
    *,
    cpu_threshold: float,
    memory_threshold_mb: float,
    window_minutes: int = 15,
    aggregation: str = "Average",
) -> list[MetricStatus]:
    """CPU and available memory of each VM over the last ``window_minutes``: two statuses per VM.

    One batch query per subscription. The window's data points are combined with
    ``aggregation``: "Average" (the mean of the per-minute averages), "Maximum" (the highest
    maximum) or "Minimum" (the lowest minimum). Statuses follow :func:`classify_cpu` and
    :func:`classify_memory`; a VM without data points in the window (stopped, deallocated,
    wrong id in the right format) is NO_DATA. Raises ``ValueError`` for a malformed resource id
    or an unsupported aggregation before any request.
    """
    chosen = _aggregation(aggregation)
    parsed = [parse_resource_id(rid) for rid in resource_ids]
    if not parsed:
        return []
    if window_minutes <= 0:
        raise ValueError(f"window_minutes must be > 0, got {window_minutes}")
    by_subscription: dict[str, list[VmResourceId]] = {}
    for vm in parsed:
        by_subscription.setdefault(vm.subscription.lower(), []).append(vm)
    values: dict[tuple[str, str], float | None] = {}
    endpoint = str(getattr(client, "_endpoint", ""))
    for vms in by_subscription.values():
        try:
            results = await client.query_resources(
                resource_ids=[str(vm) for vm in vms],
                metric_namespace=VM_NAMESPACE,
                metric_names=[CPU_METRIC, MEMORY_METRIC],
                timespan=timedelta(minutes=window_minutes),
                aggregations=[chosen],
            )
        except HttpResponseError as error:
            raise _check_error(_METRICS, error, endpoint) from None
        except (ServiceRequestError, ServiceResponseError) as error:
            raise _unavailable(error, endpoint) from error
        for result in results:
            for metric in result.metrics:
                owner = (metric.id or "").lower().split("/providers/microsoft.insights/")[0]
                points = [
                    getattr(point, chosen.lower())
                    for series in metric.timeseries
                    for point in series.data
                ]
                values[(owner, (metric.name or "").lower())] = _combine(chosen, points)
    window = f"{chosen.lower()} over {window_minutes} min"
    statuses = []
    for vm in parsed:
        key = str(vm).lower()
        cpu = values.get((key, CPU_METRIC.lower()))
        memory_bytes = values.get((key, MEMORY_METRIC.lower()))
        memory = None if memory_bytes is None else memory_bytes / BYTES_PER_MB
        statuses.append(_cpu_status(vm, cpu, cpu_threshold, window, window_minutes))
        statuses.append(_memory_status(vm, memory, memory_threshold_mb, window, window_minutes))
    return statuses


def _aggregation(aggregation: str) -> str:
    for known in AGGREGATIONS:
        if aggregation.strip().lower() == known.lower():
            return known
    raise ValueError(
        f"aggregation {aggregation!r} cannot be held against a threshold; use one of "
        f"{', '.join(AGGREGATIONS)}"
    )


def _combine(aggregation: str, points: list[Any]) -> float | None:
    numbers = [float(point) for point in points if isinstance(point, int | float)]
    if not numbers:
        return None
    if aggregation == "Maximum":
        return max(numbers)
    if aggregation == "Minimum":
        return min(numbers)
    return statistics.fmean(numbers)


def _cpu_status(
    vm: VmResourceId, value: float | None, threshold: float, window: str, minutes: int
) -> MetricStatus:
    critical_at = cpu_critical_at(threshold)
    if value is None:
        state = MetricState.NO_DATA
        detail = f"no CPU data in the last {minutes} min (is the VM running?)"
    else:
        state = classify_cpu(value, threshold)
        where = {
            MetricState.OK: f"within the {threshold:g}% threshold",
            MetricState.WARNING: f"above the {threshold:g}% threshold (CRITICAL from "
            f"{critical_at:g}%)",
            MetricState.CRITICAL: f"above the {threshold:g}% threshold, at or past the "
            f"{critical_at:g}% CRITICAL mark",
        }[state]
        detail = f"CPU {value:.1f}% ({window}) {where}"
    return MetricStatus(str(vm), vm.name, "cpu", state, value, threshold, critical_at, "%", detail)


def _memory_status(
    vm: VmResourceId, value: float | None, threshold: float, window: str, minutes: int
) -> MetricStatus:
    critical_at = threshold / 2
    if value is None:
        state = MetricState.NO_DATA
        detail = f"no available-memory data in the last {minutes} min (is the VM running?)"
    else:
        state = classify_memory(value, threshold)
        where = {
            MetricState.OK: f"at or above the {threshold:g} MB threshold",
            MetricState.WARNING: f"below the {threshold:g} MB threshold (CRITICAL at "
            f"{critical_at:g} MB or less)",
            MetricState.CRITICAL: f"below the {threshold:g} MB threshold, at or under the "
            f"{critical_at:g} MB CRITICAL mark",
        }[state]
        detail = f"available memory {value:.0f} MB ({window}) {where}"
    return MetricStatus(
        str(vm), vm.name, "memory", state, value, threshold, critical_at, "MB", detail
    )


# --- Log Analytics -------------------------------------------------------------------------------


class LogState(StrEnum):
    OK = "OK"
    EXCEEDED = "EXCEEDED"
    PARTIAL = "PARTIAL"


@dataclass(frozen=True, slots=True)
class LogCheckResult:
    """A log query held against a threshold.

    ``value`` is the query's number (see :func:`run_log_check`), ``rows`` how many rows the
    first table had. ``partial`` is set when the service answered only part of the result:
    then the state is EXCEEDED if even the partial value exceeds the threshold, else PARTIAL
    (within the threshold so far, but not confirmed).
    """

    workspace_id: str
    query: str
    state: LogState
    value: float
    threshold: float
    rows: int
    partial: bool
    detail: str
    columns: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.state is LogState.OK

    def __str__(self) -> str:
        return f"{self.state} ({self.detail})"


async def run_log_check(
    client: LogsQueryClient,
    workspace_id: str,
    query: str,
    *,
    timespan: timedelta,
    threshold: float,
) -> LogCheckResult:
    """Run ``query`` on the workspace and compare its value with ``threshold`` (an upper bound).

    The value is the number in the first column of the first table when that table is one row
    with a number first (``| count``, ``| summarize failures = count()``), else the number of
    rows of the first table. Above ``threshold`` it is EXCEEDED.
    """
    from azure.monitor.query import LogsQueryPartialResult

    endpoint = str(getattr(client, "_endpoint", ""))
    try:
        response = await client.query_workspace(workspace_id, query, timespan=timespan)
    except HttpResponseError as error:
        raise _check_error(_LOGS, error, endpoint) from None
    except (ServiceRequestError, ServiceResponseError) as error:
        raise _unavailable(error, endpoint) from error
    partial = isinstance(response, LogsQueryPartialResult)
    if isinstance(response, LogsQueryPartialResult):
        tables = response.partial_data or []
        reason = response.partial_error
        why = f"{reason.code}: {_one_line(reason.message)}" if reason is not None else "no reason"
    else:
        tables = response.tables
        why = ""
    table = tables[0] if tables else None
    rows = list(table.rows) if table is not None else []
    columns = tuple(table.columns) if table is not None else ()
    first = list(rows[0]) if len(rows) == 1 and len(rows[0]) else []
    if first and isinstance(first[0], int | float) and not isinstance(first[0], bool):
        value, what = float(first[0]), f"{columns[0] if columns else 'value'} = {first[0]:g}"
    else:
        value, what = float(len(rows)), f"{len(rows)} row{'s' if len(rows) != 1 else ''}"
    exceeded = value > threshold
    if exceeded:
        state, verdict = LogState.EXCEEDED, f"above the threshold {threshold:g}"
    elif partial:
        state, verdict = LogState.PARTIAL, f"within the threshold {threshold:g} so far"
    else:
        state, verdict = LogState.OK, f"within the threshold {threshold:g}"
    detail = f"{what} {verdict}"
    if partial:
        detail = f"partial result ({why}); {detail}"
    return LogCheckResult(
        workspace_id, query, state, value, threshold, len(rows), partial, detail, columns
    )


# --- errors --------------------------------------------------------------------------------------


def _host(url: str) -> str:
    return (urlsplit(url if "://" in url else f"https://{url}").hostname or "").lower()


def _target(error: BaseException, fallback_url: str) -> str:
    """``host:port`` the failed connection was for, from aiohttp's error, else the client's."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        host, port = getattr(current, "host", None), getattr(current, "port", None)
        if isinstance(host, str) and isinstance(port, int):
            return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        current = current.__cause__ or current.__context__
    parts = urlsplit(fallback_url)
    if not parts.hostname:
        return "?"
    port = parts.port or 443
    return f"[{parts.hostname}]:{port}" if ":" in parts.hostname else f"{parts.hostname}:{port}"


def _describe(error: BaseException) -> str:
    try:
        from pytest_smoke.clients.http import describe_connect_error
    except ModuleNotFoundError:  # httpx (the http extra) not installed
        return _one_line(str(error)) or type(error).__name__
    return describe_connect_error(error)


def _unavailable(error: BaseException, fallback_url: str) -> DependencyUnavailable:
    detail = _describe(error)
    if detail.startswith(("ServiceRequestError", "ServiceResponseError")):
        detail = "timed out" if "timeout" in detail.lower() else detail
    return DependencyUnavailable(DEPENDENCY, _target(error, fallback_url), detail)


def _inner_code(error: HttpResponseError) -> str | None:
    inner = getattr(error.error, "innererror", None)
    code = inner.get("code") if isinstance(inner, dict) else None
    return code if isinstance(code, str) else None


def _inner_message(error: HttpResponseError) -> str:
    """The innermost error's message (Log Analytics puts the useful words there)."""
    found = ""
    inner = getattr(error.error, "innererror", None)
    while isinstance(inner, dict):
        if isinstance(inner.get("message"), str):
            found = _one_line(inner["message"])
        inner = inner.get("innererror")
    return found


def _check_error(service: tuple[str, str], error: HttpResponseError, url: str) -> AzureCheckError:
    """One line for an HTTP error: who answered, status, code, first line, what to do."""
    name, own_path = service
    status = error.status_code
    request = getattr(error.response, "request", None)
    request_url = str(getattr(request, "url", "") or "")
    if isinstance(error, ClientAuthenticationError) and not urlsplit(request_url).path.startswith(
        own_path
    ):
        issuer = f" from {_target(error, request_url)}" if request_url else ""
        return AzureCheckError(
            name,
            _clip(f"{name}: the credential got no token{issuer}: {_credential_reason(error)}"),
            status=status,
        )
    code = getattr(error.error, "code", None) or (error.reason or "")
    message = _one_line(getattr(error.error, "message", None) or error.message or "")
    message = re.sub(r"^\([^)]*\)\s*", "", message)  # azure-core prefixes "(Code) "
    inner = _inner_message(error)
    if inner and inner not in message:
        message = f"{message}: {inner}" if message else inner
    hint = {
        401: "the token was refused: check the tenant and the credential's audience",
        403: "the identity lacks a role on the resource",
        404: "check the name or id",
        429: "throttled, and still throttled after the retries",
    }.get(status or 0, "the service failed; try again later" if (status or 0) >= 500 else "")
    text = f"{name} at {_target(error, url)} answered HTTP {status}"
    if code:
        text += f" {code}"
    if message:
        text += f": {message}"
    if hint:
        text += f" ({hint})"
    return AzureCheckError(name, _clip(text), status=status)


def _credential_reason(error: ClientAuthenticationError) -> str:
    """The line that says why: for DefaultAzureCredential, the credentials that really failed."""
    lines = [line.strip() for line in (error.message or "").splitlines() if line.strip()]
    tried = [line for line in lines if re.match(r"^\w+Credential: ", line)]
    if tried:
        failed = [line for line in tried if "unavailable" not in line.lower()]
        return "; ".join(failed or tried[-1:])
    if not lines:
        return type(error).__name__
    return re.sub(r"^\w+\.get_token(_info)? failed: ", "", lines[0])


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."
