"""The Azure checks with the real SDK clients, unpatched, against the local Azure stand-in.

The stand-in (src/pytest_smoke/demo/items/azure_standin.py) runs in-process, one per module, on
127.0.0.1 with a trustme CA; every status is reached through the wire: the SDKs' requests, the
stand-in's answers, the SDKs' parsing. Each test sets the fault it needs; it is reset afterwards.
"""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import pytest
import pytest_asyncio

from pytest_smoke.causes import DependencyUnavailable
from pytest_smoke.clients.azure import (
    AzureCheckError,
    LogState,
    MetricState,
    SecretState,
    SharedSession,
    ThrottleRetryPolicy,
    check_secrets,
    check_vm_metrics,
    classify_cpu,
    classify_memory,
    cpu_critical_at,
    is_vault_host,
    make_credential,
    make_logs_client,
    make_metrics_client,
    make_secret_client,
    metrics_endpoint,
    parse_resource_id,
    run_log_check,
    vault_url,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from types import ModuleType

    import trustme
    from azure.core.credentials_async import AsyncTokenCredential

DEMO_DIR = Path(__file__).resolve().parents[2] / "src" / "pytest_smoke" / "demo" / "items"
module_loop = pytest.mark.asyncio(loop_scope="module")
AZURE_VARIABLES = (
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "AZURE_AUTHORITY_HOST",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_USERNAME",
    "AZURE_TOKEN_CREDENTIALS",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
)


def load_standin() -> ModuleType:
    """Import the demo's azure_standin.py (not a module of the package) once per process."""
    name = "azure_standin"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, DEMO_DIR / "azure_standin.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


sa = load_standin()


# --- pure parts ---------------------------------------------------------------------------------


def test_vault_url_from_name_or_url() -> None:
    assert vault_url("my-vault") == "https://my-vault.vault.azure.net"
    assert vault_url("My-Vault", suffix="vault.azure.cn") == "https://my-vault.vault.azure.cn"
    assert vault_url("https://my-vault.vault.azure.net/") == "https://my-vault.vault.azure.net"
    assert vault_url("https://127.0.0.1:8443") == "https://127.0.0.1:8443"
    for bad in ("a", "1vault", "my--vault", "vault_name", "x" * 25):
        with pytest.raises(ValueError, match="is not a Key Vault name"):
            vault_url(bad)
    with pytest.raises(ValueError, match="must be https://"):
        vault_url("http://my-vault.vault.azure.net")


def test_challenge_verification_only_for_vault_hosts() -> None:
    assert is_vault_host("https://my-vault.vault.azure.net")
    assert is_vault_host("https://my-vault.vault.usgovcloudapi.net")
    assert is_vault_host("https://kv.vault.example.internal", suffix="vault.example.internal")
    assert not is_vault_host("https://127.0.0.1:8443")
    assert not is_vault_host("https://vault.azure.net.evil.example")
    assert metrics_endpoint(" WestEurope ") == "https://westeurope.metrics.monitor.azure.com"


def test_parse_resource_id() -> None:
    rid = (
        "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Compute/virtualMachines/vm-1"
    )
    parsed = parse_resource_id(rid)
    assert (parsed.subscription, parsed.resource_group, parsed.name) == ("sub-1", "rg-1", "vm-1")
    assert str(parsed) == rid
    assert parse_resource_id(rid.lower() + "/").name == "vm-1"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "vm-1",
        "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Web/sites/app",
        "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Compute/virtualMachines/",
        "subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Compute/virtualMachines/vm",
    ],
)
def test_bad_resource_id_names_the_expected_format(bad: str) -> None:
    with pytest.raises(ValueError, match="not a VM resource id") as raised:
        parse_resource_id(bad)

    message = str(raised.value)
    assert "\n" not in message
    assert message.endswith(
        "expected /subscriptions/{sub}/resourceGroups/{rg}/providers/"
        "Microsoft.Compute/virtualMachines/{vm}"
    )


@pytest.mark.parametrize(
    ("value", "threshold", "state"),
    [
        (0.0, 80.0, MetricState.OK),
        (80.0, 80.0, MetricState.OK),
        (80.1, 80.0, MetricState.WARNING),
        (89.9, 80.0, MetricState.WARNING),
        (90.0, 80.0, MetricState.CRITICAL),
        (100.0, 80.0, MetricState.CRITICAL),
        (50.0, 40.0, MetricState.WARNING),
        (70.0, 40.0, MetricState.CRITICAL),
        (100.0, 100.0, MetricState.OK),
    ],
)
def test_cpu_is_critical_past_half_the_headroom(
    value: float, threshold: float, state: MetricState
) -> None:
    assert classify_cpu(value, threshold) is state


def test_cpu_critical_mark() -> None:
    assert cpu_critical_at(80) == 90
    assert cpu_critical_at(40) == 70
    assert cpu_critical_at(100) == 100


@pytest.mark.parametrize(
    ("value", "state"),
    [
        (4096.0, MetricState.OK),
        (500.0, MetricState.OK),
        (499.0, MetricState.WARNING),
        (251.0, MetricState.WARNING),
        (250.0, MetricState.CRITICAL),
        (0.0, MetricState.CRITICAL),
    ],
)
def test_memory_is_critical_at_half_the_threshold(value: float, state: MetricState) -> None:
    assert classify_memory(value, 500.0) is state


def test_throttle_policy_validates() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        ThrottleRetryPolicy(retries=-1)


# --- the stand-in and the clients ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    """(server TLS context, CA file) from a trustme CA."""
    trustme_module = pytest.importorskip("trustme", reason="trustme (test CA) is not installed")
    ca: trustme.CA = trustme_module.CA()
    directory = tmp_path_factory.mktemp("azure-ca")
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    cert, key = directory / "server.pem", directory / "server.key"
    leaf.private_key_pem.write_to_path(str(key))
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    return sa.server_context(cert, key), str(ca_file)


@pytest.fixture(scope="module")
def data() -> Any:
    return sa.load_data(DEMO_DIR / "azure-data.json")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def standin(data: Any, tls: tuple[Any, str]) -> AsyncIterator[Any]:
    async with sa.StandIn(data, ssl_context=tls[0]) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def session(tls: tuple[Any, str]) -> AsyncIterator[SharedSession]:
    async with SharedSession(ca_bundle=tls[1], connect_timeout=2, read_timeout=5) as shared:
        yield shared


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No Azure variables from the developer's shell; the stand-in healthy after each test."""
    for name in AZURE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield
    if "standin" in request.fixturenames:
        standin = request.getfixturevalue("standin")
        standin.set_fault(None)
        standin.hits.clear()


@pytest_asyncio.fixture(loop_scope="module")
async def credential(
    standin: Any, data: Any, session: SharedSession
) -> AsyncIterator[AsyncTokenCredential]:
    """ClientSecretCredential against the stand-in's Entra ID token endpoint."""
    async with make_credential(
        tenant_id=data.tenant_id,
        client_id=data.client_id,
        client_secret=data.client_secret,
        authority_host=standin.url,
        transport=session.transport(),
    ) as created:
        yield created


@pytest_asyncio.fixture(loop_scope="module")
async def secrets_client(
    standin: Any, credential: AsyncTokenCredential, session: SharedSession
) -> AsyncIterator[Any]:
    async with make_secret_client(standin.url, credential, transport=session.transport()) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="module")
async def metrics_client(
    standin: Any, credential: AsyncTokenCredential, session: SharedSession
) -> AsyncIterator[Any]:
    async with make_metrics_client(
        standin.url, credential, transport=session.transport()
    ) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="module")
async def logs_client(
    standin: Any, credential: AsyncTokenCredential, session: SharedSession
) -> AsyncIterator[Any]:
    async with make_logs_client(
        credential, endpoint=standin.url, transport=session.transport()
    ) as client:
        yield client


def secret_values(data: Any) -> list[str]:
    return [secret.value for secret in data.secrets] + [data.client_secret]


def assert_no_secret_in(data: Any, *texts: object) -> None:
    for text in texts:
        for value in secret_values(data):
            assert value not in str(text)
            assert value not in repr(text)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


NAMES = [
    "database-password",
    "api-key",
    "legacy-token",
    "tls-certificate-password",
    "old-webhook-secret",
    "not-in-the-vault",
]


# --- Key Vault ----------------------------------------------------------------------------------


@module_loop
async def test_secret_statuses_from_properties_without_values(
    standin: Any, secrets_client: Any, data: Any
) -> None:
    fetched: list[str] = []

    statuses = await check_secrets(
        secrets_client, [*NAMES, "API-KEY"], expiry_days=14, fetched_values=fetched
    )

    assert [(s.name, s.state) for s in statuses] == [
        ("database-password", SecretState.FOUND),
        ("api-key", SecretState.FOUND),
        ("legacy-token", SecretState.DISABLED),
        ("tls-certificate-password", SecretState.EXPIRING),
        ("old-webhook-secret", SecretState.EXPIRED),
        ("not-in-the-vault", SecretState.MISSING),
        ("API-KEY", SecretState.FOUND),
    ]
    found, no_expiry, disabled, expiring, expired, missing, _ = statuses
    assert found.ok
    assert found.enabled is True
    assert found.expires_on is not None
    assert found.expires_on > datetime.now(UTC) + timedelta(days=300)
    assert found.detail.startswith("enabled, expires on ")
    assert no_expiry.detail == "enabled, no expiry date"
    assert disabled.detail == "disabled in the vault"
    assert not disabled.ok
    assert "in 5 days (within 14 days)" in expiring.detail
    assert "(3 days ago)" in expired.detail
    assert missing.detail == f"no secret named 'not-in-the-vault' in {standin.url}"
    # Properties only: the vault was listed, no secret (no value) was read.
    assert fetched == []
    assert {hit.path for hit in standin.hits if hit.service == "keyvault"} == {"/secrets"}
    assert_no_secret_in(data, *statuses)


@module_loop
async def test_expiry_window_is_the_callers(secrets_client: Any) -> None:
    (status,) = await check_secrets(
        secrets_client, ["database-password"], expiry_days=400, now=datetime.now(UTC)
    )

    assert status.state is SecretState.EXPIRING
    assert "(within 400 days)" in status.detail


@module_loop
async def test_no_names_no_request(standin: Any, secrets_client: Any) -> None:
    assert await check_secrets(secrets_client, [" ", ""], expiry_days=14) == []
    assert standin.hits == []


@module_loop
@pytest.mark.parametrize(
    ("fault", "name", "state"),
    [
        ("not-found", "api-key", SecretState.MISSING),
        ("disabled-secret", "redis-password", SecretState.DISABLED),
        ("expired-secret", "jwt-signing-key", SecretState.EXPIRED),
    ],
)
async def test_secret_faults(
    standin: Any, secrets_client: Any, fault: str, name: str, state: SecretState
) -> None:
    standin.set_fault(fault)

    statuses = await check_secrets(secrets_client, standin.data.demo_secret_list, expiry_days=14)

    assert {s.name: s.state for s in statuses if not s.ok} == {name: state}


@module_loop
async def test_forbidden_names_the_role(standin: Any, secrets_client: Any, data: Any) -> None:
    standin.set_fault("forbidden")
    fetched: list[str] = []

    statuses = await check_secrets(
        secrets_client, ["api-key", "database-password"], expiry_days=14, fetched_values=fetched
    )

    assert [s.state for s in statuses] == [SecretState.FORBIDDEN, SecretState.FORBIDDEN]
    assert statuses[0].detail == (
        "access denied (ForbiddenByRbac): the identity may not read this secret; "
        "assign it the 'Key Vault Secrets User' role on the vault"
    )
    assert fetched == []
    assert_no_secret_in(data, *statuses)


@module_loop
async def test_listing_forbidden_falls_back_to_reading_each_secret(
    standin: Any, secrets_client: Any, data: Any
) -> None:
    standin.set_fault("list-forbidden")
    fetched: list[str] = []

    statuses = await check_secrets(
        secrets_client,
        ["api-key", "legacy-token", "not-in-the-vault"],
        expiry_days=14,
        fetched_values=fetched,
    )

    assert [s.state for s in statuses] == [
        SecretState.FOUND,
        SecretState.DISABLED,
        SecretState.MISSING,
    ]
    # The one value read is handed over for masking, and appears in no status.
    assert fetched == ["demo-api-key-2b6f19e0"]
    assert_no_secret_in(data, *statuses)


@module_loop
async def test_throttling_is_retried_after_retry_after(standin: Any, secrets_client: Any) -> None:
    standin.set_fault("throttle")
    started = time.perf_counter()

    statuses = await check_secrets(secrets_client, ["api-key"], expiry_days=14)

    assert time.perf_counter() - started >= 0.95  # Retry-After: 1
    assert [s.state for s in statuses] == [SecretState.FOUND]
    answers = [hit.status for hit in standin.hits if hit.service == "keyvault"]
    assert [status for status in answers if status != 401] == [429, 200]  # 401: the challenge


@module_loop
async def test_server_error_is_not_retried(standin: Any, secrets_client: Any, data: Any) -> None:
    standin.set_fault("server-error")

    with pytest.raises(AzureCheckError) as raised:
        await check_secrets(secrets_client, ["api-key"], expiry_days=14)

    assert str(raised.value) == (
        f"Key Vault at 127.0.0.1:{standin.port} answered HTTP 500 InternalServerError: "
        "The stand-in was told to fail (server-error). (the service failed; try again later)"
    )
    assert raised.value.status == 500
    assert standin.count("keyvault", 500) == 1
    assert_no_secret_in(data, raised.value)


@module_loop
async def test_slow_vault_is_a_dependency_unavailable(
    standin: Any, credential: AsyncTokenCredential, tls: tuple[Any, str]
) -> None:
    standin.set_fault("slow", seconds=0.6)
    async with (
        SharedSession(ca_bundle=tls[1], read_timeout=0.2) as hasty,
        make_secret_client(standin.url, credential, transport=hasty.transport()) as client,
    ):
        with pytest.raises(DependencyUnavailable) as raised:
            await check_secrets(client, ["api-key"], expiry_days=14)

    assert raised.value.cause == f"azure unreachable at 127.0.0.1:{standin.port}: timed out"
    # The stand-in still answers the abandoned request; let it, so no later test sees it.
    async with asyncio.timeout(5):
        while not standin.count("keyvault"):
            await asyncio.sleep(0.05)


@module_loop
async def test_unreachable_vault_is_a_dependency_unavailable(
    credential: AsyncTokenCredential, session: SharedSession
) -> None:
    port = closed_port()
    async with make_secret_client(
        f"https://127.0.0.1:{port}", credential, transport=session.transport()
    ) as client:
        with pytest.raises(DependencyUnavailable) as raised:
            await check_secrets(client, ["api-key"], expiry_days=14)

    assert raised.value.cause == f"azure unreachable at 127.0.0.1:{port}: connection refused"


@module_loop
async def test_untrusted_certificate_is_a_dependency_unavailable(standin: Any, data: Any) -> None:
    # No CA given: the system trust store does not know the stand-in's test CA.
    async with (
        make_credential(
            tenant_id=data.tenant_id,
            client_id=data.client_id,
            client_secret=data.client_secret,
            authority_host=standin.url,
        ) as untrusting,
        make_secret_client(standin.url, untrusting) as client,
    ):
        with pytest.raises(DependencyUnavailable, match="TLS certificate not trusted") as raised:
            await check_secrets(client, ["api-key"], expiry_days=14)

    assert raised.value.target == f"127.0.0.1:{standin.port}"


@module_loop
async def test_unreachable_token_issuer_names_the_issuer(
    standin: Any, data: Any, session: SharedSession
) -> None:
    port = closed_port()
    async with (
        make_credential(
            tenant_id=data.tenant_id,
            client_id=data.client_id,
            client_secret=data.client_secret,
            authority_host=f"https://127.0.0.1:{port}",
            transport=session.transport(),
        ) as credential,
        make_secret_client(standin.url, credential, transport=session.transport()) as client,
    ):
        with pytest.raises(DependencyUnavailable) as raised:
            await check_secrets(client, ["api-key"], expiry_days=14)

    assert raised.value.cause == f"azure unreachable at 127.0.0.1:{port}: connection refused"


@module_loop
async def test_wrong_client_secret_is_a_check_error_without_the_secret(
    standin: Any, data: Any, session: SharedSession
) -> None:
    wrong = "wr0ng-client-secret-value"
    async with (
        make_credential(
            tenant_id=data.tenant_id,
            client_id=data.client_id,
            client_secret=wrong,
            authority_host=standin.url,
            transport=session.transport(),
        ) as credential,
        make_secret_client(standin.url, credential, transport=session.transport()) as client,
    ):
        with pytest.raises(AzureCheckError) as raised:
            await check_secrets(client, ["api-key"], expiry_days=14)

    message = str(raised.value)
    assert message.startswith(
        f"Key Vault: the credential got no token from 127.0.0.1:{standin.port}: "
    )
    assert "AADSTS7000215: Invalid client secret provided." in message
    assert wrong not in message
    assert wrong not in repr(raised.value)
    assert_no_secret_in(data, raised.value)


# --- credentials --------------------------------------------------------------------------------


@module_loop
async def test_client_secret_credential_through_the_local_authority(
    standin: Any, secrets_client: Any, data: Any
) -> None:
    await check_secrets(secrets_client, ["api-key"], expiry_days=14)

    token_requests = [hit for hit in standin.hits if hit.service == "entra"]
    assert [(hit.method, hit.path, hit.status) for hit in token_requests] == [
        ("POST", f"/{data.tenant_id}/oauth2/v2.0/token", 200)
    ]
    assert all(hit.service != "identity" for hit in standin.hits)


@module_loop
async def test_default_credential_through_managed_identity(
    standin: Any, data: Any, session: SharedSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{standin.url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", standin.identity_header)
    credential = make_credential(transport=session.transport())
    assert type(credential).__name__ == "DefaultAzureCredential"
    async with (
        credential,
        make_secret_client(standin.url, credential, transport=session.transport()) as secrets,
        make_metrics_client(standin.url, credential, transport=session.transport()) as metrics,
    ):
        statuses = await check_secrets(secrets, data.demo_secret_list, expiry_days=14)
        vm_statuses = await check_vm_metrics(
            metrics, [data.vms[0].resource_id], cpu_threshold=80, memory_threshold_mb=500
        )

    assert all(status.ok for status in statuses)
    assert all(status.ok for status in vm_statuses)
    identity = [hit for hit in standin.hits if hit.service == "identity"]
    assert [hit.status for hit in identity] == [200, 200]
    resources = [parse_qs(hit.query)["resource"] for hit in identity]
    assert resources == [["https://vault.azure.net"], ["https://metrics.monitor.azure.com"]]
    assert all(hit.service != "entra" for hit in standin.hits)


@module_loop
async def test_default_credential_refused_is_one_line(
    standin: Any, data: Any, session: SharedSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{standin.url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-header")
    credential = make_credential(transport=session.transport())
    async with (
        credential,
        make_metrics_client(standin.url, credential, transport=session.transport()) as metrics,
    ):
        with pytest.raises(AzureCheckError) as raised:
            await check_vm_metrics(
                metrics, [data.vms[0].resource_id], cpu_threshold=80, memory_threshold_mb=500
            )

    message = str(raised.value)
    assert "\n" not in message
    assert message == (
        "Azure Monitor metrics: the credential got no token: ManagedIdentityCredential: (None) "
        "Unauthorized: X-IDENTITY-HEADER is wrong."
    )


@module_loop
async def test_credential_choice() -> None:
    secret = "sp-secret-never-shown"
    service_principal = make_credential(
        tenant_id="t", client_id="c", client_secret=secret, authority_host="https://127.0.0.1:1"
    )
    lone_client_id = make_credential(tenant_id="t", client_id="c")
    async with service_principal, lone_client_id:
        assert type(service_principal).__name__ == "ClientSecretCredential"
        assert secret not in repr(service_principal)
        assert type(lone_client_id).__name__ == "DefaultAzureCredential"


# --- metrics ------------------------------------------------------------------------------------


@module_loop
async def test_vm_metrics_ok_warning_critical_and_no_data(
    standin: Any, metrics_client: Any, data: Any
) -> None:
    ids = [vm.resource_id for vm in data.vms]

    statuses = await check_vm_metrics(
        metrics_client, ids, cpu_threshold=80, memory_threshold_mb=500, window_minutes=6
    )

    assert [(s.vm, s.metric, s.state) for s in statuses] == [
        ("demo-web-1", "cpu", MetricState.OK),
        ("demo-web-1", "memory", MetricState.OK),
        ("demo-batch-1", "cpu", MetricState.OK),
        ("demo-batch-1", "memory", MetricState.WARNING),
        ("demo-cache-1", "cpu", MetricState.OK),
        ("demo-cache-1", "memory", MetricState.CRITICAL),
        ("demo-stopped-1", "cpu", MetricState.NO_DATA),
        ("demo-stopped-1", "memory", MetricState.NO_DATA),
    ]
    web_cpu, web_memory, _, batch_memory, _, cache_memory, stopped_cpu, _ = statuses
    assert web_cpu.value == pytest.approx(sum(data.vms[0].cpu_percent) / 6)
    assert web_cpu.detail == (
        f"CPU {web_cpu.value:.1f}% (average over 6 min) within the 80% threshold"
    )
    assert web_memory.unit == "MB"
    assert web_memory.value == pytest.approx(sum(data.vms[0].available_memory_mb) / 6)
    assert batch_memory.detail == (
        "available memory 402 MB (average over 6 min) below the 500 MB threshold "
        "(CRITICAL at 250 MB or less)"
    )
    assert cache_memory.critical_at == 250
    assert stopped_cpu.value is None
    assert stopped_cpu.detail == "no CPU data in the last 6 min (is the VM running?)"
    assert standin.count("metrics") == 1  # one batch for the subscription


CPU_FAULTS = {
    "cpu-warning": (
        MetricState.WARNING,
        "CPU 85.0% (average over 15 min) above the 80% threshold (CRITICAL from 90%)",
    ),
    "cpu-critical": (
        MetricState.CRITICAL,
        "CPU 97.0% (average over 15 min) above the 80% threshold, at or past the 90% CRITICAL mark",
    ),
}


@module_loop
@pytest.mark.parametrize("fault", list(CPU_FAULTS))
async def test_cpu_faults(standin: Any, metrics_client: Any, data: Any, fault: str) -> None:
    standin.set_fault(fault)

    cpu, memory = await check_vm_metrics(
        metrics_client, [data.vms[0].resource_id], cpu_threshold=80, memory_threshold_mb=500
    )

    assert (cpu.state, cpu.detail) == CPU_FAULTS[fault]
    assert (cpu.threshold, cpu.critical_at) == (80, 90)
    assert memory.ok


@module_loop
async def test_maximum_aggregation(metrics_client: Any, data: Any) -> None:
    cpu, _ = await check_vm_metrics(
        metrics_client,
        [data.vms[0].resource_id],
        cpu_threshold=35,
        memory_threshold_mb=500,
        window_minutes=6,
        aggregation="maximum",
    )

    assert cpu.value == max(data.vms[0].cpu_percent)
    assert cpu.state is MetricState.WARNING
    assert "(maximum over 6 min)" in cpu.detail


@module_loop
async def test_bad_resource_id_fails_before_any_request(
    standin: Any, metrics_client: Any, data: Any
) -> None:
    with pytest.raises(ValueError, match=r"expected /subscriptions/\{sub\}/resourceGroups/"):
        await check_vm_metrics(
            metrics_client,
            [data.vms[0].resource_id, "/subscriptions/x/virtualMachines/vm"],
            cpu_threshold=80,
            memory_threshold_mb=500,
        )
    with pytest.raises(ValueError, match="use one of Average, Maximum, Minimum"):
        await check_vm_metrics(
            metrics_client,
            [data.vms[0].resource_id],
            cpu_threshold=80,
            memory_threshold_mb=500,
            aggregation="Total",
        )

    assert standin.count("metrics") == 0


@module_loop
async def test_vms_of_two_subscriptions_are_two_batches(
    standin: Any, metrics_client: Any, data: Any
) -> None:
    elsewhere = (
        "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/other"
        "/providers/Microsoft.Compute/virtualMachines/unknown-vm"
    )

    statuses = await check_vm_metrics(
        metrics_client,
        [data.vms[0].resource_id, elsewhere],
        cpu_threshold=80,
        memory_threshold_mb=500,
    )

    assert [s.state for s in statuses] == [
        MetricState.OK,
        MetricState.OK,
        MetricState.NO_DATA,
        MetricState.NO_DATA,
    ]
    assert standin.count("metrics") == 2


@module_loop
async def test_metrics_throttling_is_retried(standin: Any, metrics_client: Any, data: Any) -> None:
    standin.set_fault("throttle")

    statuses = await check_vm_metrics(
        metrics_client, [data.vms[0].resource_id], cpu_threshold=80, memory_threshold_mb=500
    )

    assert all(s.ok for s in statuses)
    assert [hit.status for hit in standin.hits if hit.service == "metrics"] == [429, 200]


@module_loop
async def test_metrics_server_error(standin: Any, metrics_client: Any, data: Any) -> None:
    standin.set_fault("server-error")

    with pytest.raises(
        AzureCheckError, match=r"^Azure Monitor metrics at 127\.0\.0\.1:\d+ answered"
    ):
        await check_vm_metrics(
            metrics_client, [data.vms[0].resource_id], cpu_threshold=80, memory_threshold_mb=500
        )
    assert standin.count("metrics") == 1


# --- logs ---------------------------------------------------------------------------------------

FAILED_REQUESTS = "AppRequests | where Success == false | count"


@module_loop
async def test_log_check_ok_and_exceeded(logs_client: Any, data: Any) -> None:
    workspace = next(iter(data.workspaces))

    ok = await run_log_check(
        logs_client, workspace, FAILED_REQUESTS, timespan=timedelta(hours=1), threshold=5
    )
    exceeded = await run_log_check(
        logs_client,
        workspace,
        "AppRequests | where Success == false",
        timespan=timedelta(hours=1),
        threshold=2,
    )

    assert (ok.state, ok.value, ok.rows, ok.partial) == (LogState.OK, 3, 1, False)
    assert ok.ok
    assert ok.detail == "Count = 3 within the threshold 5"
    assert ok.columns == ("Count",)
    assert (exceeded.state, exceeded.value, exceeded.rows) == (LogState.EXCEEDED, 3, 3)
    assert exceeded.detail == "3 rows above the threshold 2"


@module_loop
async def test_log_check_partial(standin: Any, logs_client: Any, data: Any) -> None:
    workspace = next(iter(data.workspaces))
    standin.set_fault("logs-partial")

    partial = await run_log_check(
        logs_client, workspace, FAILED_REQUESTS, timespan=timedelta(hours=1), threshold=5
    )
    exceeded = await run_log_check(
        logs_client, workspace, "AppRequests", timespan=timedelta(hours=1), threshold=3
    )

    assert (partial.state, partial.partial, partial.value) == (LogState.PARTIAL, True, 1)
    assert not partial.ok
    assert partial.detail == (
        "partial result (PartialError: Query result set has exceeded the internal data size "
        "limit; the result is truncated.); Count = 1 within the threshold 5 so far"
    )
    assert (exceeded.state, exceeded.partial, exceeded.value) == (LogState.EXCEEDED, True, 6)


@module_loop
async def test_log_query_errors(standin: Any, logs_client: Any, data: Any) -> None:
    workspace = next(iter(data.workspaces))

    with pytest.raises(AzureCheckError) as bad_query:
        await run_log_check(
            logs_client,
            workspace,
            "AppRequests | summarize count() by Name",
            timespan=timedelta(hours=1),
            threshold=1,
        )
    with pytest.raises(AzureCheckError, match="WorkspaceNotFoundError") as no_workspace:
        await run_log_check(
            logs_client,
            "no-such-workspace",
            "AppRequests",
            timespan=timedelta(hours=1),
            threshold=1,
        )

    assert str(bad_query.value) == (
        f"Log Analytics at 127.0.0.1:{standin.port} answered HTTP 400 BadArgumentError: The "
        "request had some invalid properties: the stand-in does not understand "
        "'summarize count() by Name'"
    )
    assert no_workspace.value.status == 404


@module_loop
async def test_logs_throttling_is_retried(standin: Any, logs_client: Any, data: Any) -> None:
    standin.set_fault("throttle")

    result = await run_log_check(
        logs_client,
        next(iter(data.workspaces)),
        FAILED_REQUESTS,
        timespan=timedelta(hours=1),
        threshold=5,
    )

    assert result.ok
    assert [hit.status for hit in standin.hits if hit.service == "logs"] == [429, 200]


@module_loop
async def test_unreachable_logs_endpoint(credential: AsyncTokenCredential, session: Any) -> None:
    port = closed_port()
    async with make_logs_client(
        credential, endpoint=f"https://127.0.0.1:{port}", transport=session.transport()
    ) as client:
        with pytest.raises(DependencyUnavailable) as raised:
            await run_log_check(
                client, "ws", "AppRequests", timespan=timedelta(hours=1), threshold=1
            )

    assert raised.value.cause == f"azure unreachable at 127.0.0.1:{port}: connection refused"


# --- transport --------------------------------------------------------------------------------


@module_loop
async def test_without_a_shared_session_the_ca_bundle_is_used_per_request(
    standin: Any, data: Any, tls: tuple[Any, str]
) -> None:
    async with (
        make_credential(
            tenant_id=data.tenant_id,
            client_id=data.client_id,
            client_secret=data.client_secret,
            authority_host=standin.url,
            ca_bundle=tls[1],
        ) as credential,
        make_secret_client(standin.url, credential, ca_bundle=tls[1]) as client,
    ):
        (status,) = await check_secrets(client, ["api-key"], expiry_days=14)

    assert status.ok


@module_loop
async def test_shared_session_closes_and_reopens(tls: tuple[Any, str]) -> None:
    shared = SharedSession(ca_bundle=tls[1])
    first = shared.transport()
    await shared.aclose()
    await shared.aclose()
    second = shared.transport()
    try:
        assert first is not second
    finally:
        await shared.aclose()
