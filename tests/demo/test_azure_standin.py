"""The Azure stand-in (pytest_smoke/demo/items): its wire protocol, faults and command line.

The stand-in runs in-process, one per module, on 127.0.0.1 with a trustme CA; each test sets
the fault it needs and is put back to healthy afterwards. Plain HTTP requests check what the
real SDK clients rely on (tests/clients/test_azure.py drives those clients through it); one
test here runs the real ``SecretClient`` against a fresh stand-in to see the 401 challenge.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from types import ModuleType

    import trustme

DEMO_DIR = Path(__file__).resolve().parents[2] / "src" / "pytest_smoke" / "demo" / "items"
STANDIN = DEMO_DIR / "azure_standin.py"
DATA = DEMO_DIR / "azure-data.json"
API = {"api-version": "7.6"}
module_loop = pytest.mark.asyncio(loop_scope="module")


def load_standin() -> ModuleType:
    """Import the demo's azure_standin.py (not a module of the package) once per process."""
    name = "azure_standin"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, STANDIN)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


sa = load_standin()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    trustme_module = pytest.importorskip("trustme", reason="trustme (test CA) is not installed")
    authority: trustme.CA = trustme_module.CA()
    return authority


@pytest.fixture(scope="module")
def tls_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The CA, a server certificate for 127.0.0.1/localhost and its key, as PEM files."""
    directory = tmp_path_factory.mktemp("azure-tls")
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    files = {name: directory / f"{name}.pem" for name in ("ca", "cert", "key")}
    ca.cert_pem.write_to_path(str(files["ca"]))
    leaf.private_key_pem.write_to_path(str(files["key"]))
    files["cert"].write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    return files


@pytest.fixture(scope="module")
def data() -> Any:
    return sa.load_data(DATA)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def standin(data: Any, tls_files: dict[str, Path]) -> AsyncIterator[Any]:
    context = sa.server_context(tls_files["cert"], tls_files["key"])
    async with sa.StandIn(data, ssl_context=context) as running:
        yield running


@pytest.fixture(autouse=True)
def _healthy(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "standin" in request.fixturenames:
        request.getfixturevalue("standin").set_fault(None)


@pytest_asyncio.fixture(loop_scope="module")
async def http(standin: Any, tls_files: dict[str, Path]) -> AsyncIterator[httpx.AsyncClient]:
    context = ssl.create_default_context(cafile=str(tls_files["ca"]))
    async with httpx.AsyncClient(base_url=standin.url, verify=context, timeout=10) as client:
        yield client


def bearer(standin: Any, audience: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {standin.issue_token(audience)}"}


def kv(standin: Any) -> dict[str, str]:
    return bearer(standin, "https://vault.azure.net/.default")


async def fault(http: httpx.AsyncClient, name: str | None, **extra: Any) -> None:
    response = await http.post("/_standin/fault", json={"fault": name, **extra})
    assert response.status_code == 200, response.text


# --- Key Vault ------------------------------------------------------------------------------------


@module_loop
async def test_key_vault_challenges_a_request_without_a_token(
    http: httpx.AsyncClient, data: Any
) -> None:
    response = await http.get("/secrets/api-key/", params=API)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer authorization="https://login.microsoftonline.com/{data.tenant_id}", '
        'resource="https://vault.azure.net"'
    )
    assert response.json()["error"]["code"] == "Unauthorized"


@module_loop
async def test_key_vault_refuses_a_token_for_another_audience(
    http: httpx.AsyncClient, standin: Any
) -> None:
    headers = bearer(standin, "https://metrics.monitor.azure.com/.default")
    response = await http.get("/secrets/api-key/", params=API, headers=headers)

    assert response.status_code == 401
    assert "AKV10022" in response.json()["error"]["message"]


@module_loop
async def test_get_secret_answers_value_id_and_attributes(
    http: httpx.AsyncClient, standin: Any
) -> None:
    response = await http.get("/secrets/database-password/", params=API, headers=kv(standin))

    assert response.status_code == 200
    body = response.json()
    assert body["value"] == "demo-db-pa55w0rd-7f3a"
    host, _, version = body["id"].removeprefix("https://").partition("/secrets/database-password/")
    assert host == f"127.0.0.1:{standin.port}"
    assert len(version) == 32
    attributes = body["attributes"]
    assert attributes["enabled"] is True
    assert attributes["exp"] > time.time() + 300 * 86400
    assert attributes["created"] <= attributes["updated"] <= time.time()
    same = await http.get(f"/secrets/database-password/{version}", params=API, headers=kv(standin))
    assert same.json()["value"] == body["value"]
    other = await http.get(
        f"/secrets/database-password/{'0' * 32}", params=API, headers=kv(standin)
    )
    assert other.status_code == 404


@module_loop
async def test_listing_pages_with_next_link_and_holds_no_values(
    http: httpx.AsyncClient, standin: Any, data: Any
) -> None:
    names: list[str] = []
    url: str | None = f"{standin.url}/secrets?api-version=7.6"
    pages = 0
    while url:
        response = await http.get(url, headers=kv(standin))
        assert response.status_code == 200
        body = response.json()
        pages += 1
        for item in body["value"]:
            assert "value" not in item
            assert item["id"].startswith(f"https://127.0.0.1:{standin.port}/secrets/")
            names.append(item["id"].rsplit("/", 1)[1])
        url = body["nextLink"]

    assert sorted(names) == sorted(secret.name for secret in data.secrets)
    assert pages == -(-len(data.secrets) // data.page_size)


@module_loop
async def test_missing_secret_is_secret_not_found(http: httpx.AsyncClient, standin: Any) -> None:
    response = await http.get("/secrets/no-such-secret/", params=API, headers=kv(standin))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "SecretNotFound"


@module_loop
async def test_disabled_secret_cannot_be_read(http: httpx.AsyncClient, standin: Any) -> None:
    response = await http.get("/secrets/legacy-token/", params=API, headers=kv(standin))

    assert response.status_code == 403
    assert response.json()["error"]["innererror"] == {"code": "SecretDisabled"}
    assert "demo-legacy-token" not in response.text


@module_loop
async def test_api_version_is_required(http: httpx.AsyncClient, standin: Any) -> None:
    response = await http.get("/secrets/api-key/", headers=kv(standin))

    assert response.status_code == 400
    assert "api-version" in response.json()["error"]["message"]


# --- faults -------------------------------------------------------------------------------------


@module_loop
async def test_forbidden_fault_is_rbac_denial_naming_the_action(
    http: httpx.AsyncClient, standin: Any
) -> None:
    await fault(http, "forbidden")

    listing = await http.get("/secrets", params=API, headers=kv(standin))
    single = await http.get("/secrets/api-key/", params=API, headers=kv(standin))

    for response, action in ((listing, "readMetadata"), (single, "getSecret")):
        assert response.status_code == 403
        error = response.json()["error"]
        assert error["code"] == "Forbidden"
        assert error["innererror"] == {"code": "ForbiddenByRbac"}
        assert f"Microsoft.KeyVault/vaults/secrets/{action}/action" in error["message"]


@module_loop
async def test_list_forbidden_fault_denies_listing_only(
    http: httpx.AsyncClient, standin: Any
) -> None:
    await fault(http, "list-forbidden")

    assert (await http.get("/secrets", params=API, headers=kv(standin))).status_code == 403
    assert (await http.get("/secrets/api-key/", params=API, headers=kv(standin))).status_code == 200


@module_loop
@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("not-found", "api-key"),
        ("disabled-secret", "redis-password"),
        ("expired-secret", "jwt-signing-key"),
    ],
)
async def test_secret_faults_change_one_listed_secret(
    http: httpx.AsyncClient, standin: Any, data: Any, name: str, secret: str
) -> None:
    assert secret in data.demo_secret_list
    await fault(http, name)

    listing = await http.get("/secrets", params={**API, "maxresults": "25"}, headers=kv(standin))
    items = {item["id"].rsplit("/", 1)[1]: item for item in listing.json()["value"]}

    if name == "not-found":
        assert secret not in items
        response = await http.get(f"/secrets/{secret}/", params=API, headers=kv(standin))
        assert response.status_code == 404
    elif name == "disabled-secret":
        assert items[secret]["attributes"]["enabled"] is False
    else:
        assert items[secret]["attributes"]["exp"] < time.time()
    others = set(data.demo_secret_list) - {secret}
    assert all(items[other]["attributes"]["enabled"] for other in others)


@module_loop
async def test_throttle_answers_429_once_per_service_then_ok(
    http: httpx.AsyncClient, standin: Any
) -> None:
    await fault(http, "throttle")

    first = await http.get("/secrets/api-key/", params=API, headers=kv(standin))
    second = await http.get("/secrets/api-key/", params=API, headers=kv(standin))

    assert first.status_code == 429
    assert first.headers["Retry-After"] == "1"
    assert first.json()["error"]["code"] == "Throttled"
    assert second.status_code == 200
    logs = await http.post(
        f"/v1/workspaces/{next(iter(standin.data.workspaces))}/query",
        json={"query": "AppRequests | count"},
        headers=bearer(standin, "https://api.loganalytics.io"),
    )
    assert logs.status_code == 429  # its own first request


@module_loop
async def test_server_error_and_slow_faults(http: httpx.AsyncClient, standin: Any) -> None:
    await fault(http, "server-error")
    failed = await http.get("/secrets/api-key/", params=API, headers=kv(standin))
    assert failed.status_code == 500
    assert failed.json()["error"]["code"] == "InternalServerError"

    await fault(http, "slow", seconds=0.3)
    started = time.perf_counter()
    slow = await http.get("/secrets/api-key/", params=API, headers=kv(standin))
    assert slow.status_code == 200
    assert time.perf_counter() - started >= 0.3


@module_loop
async def test_fault_admin_validates_and_reports(http: httpx.AsyncClient) -> None:
    bad = await http.post("/_standin/fault", json={"fault": "meltdown"})
    assert bad.status_code == 400
    assert "forbidden" in bad.json()["error"]["message"]

    await fault(http, "cpu-critical")
    state = (await http.get("/_standin/state")).json()
    assert state["fault"] == "cpu-critical"
    assert state["requests"]["admin"] >= 2
    await fault(http, None)
    assert (await http.get("/_standin/state")).json()["fault"] is None


def test_every_fault_is_valid_for_the_seed(data: Any, tls_files: dict[str, Path]) -> None:
    standin = sa.StandIn(data, ssl_context=sa.server_context(tls_files["cert"], tls_files["key"]))
    for name in sa.FAULTS:
        standin.set_fault(name)
        assert standin.fault == name
    with pytest.raises(ValueError, match="unknown fault 'x'; valid: forbidden, list-forbidden"):
        standin.set_fault("x")


# --- tokens -------------------------------------------------------------------------------------


@module_loop
async def test_entra_token_endpoint_issues_client_credentials_tokens(
    http: httpx.AsyncClient, standin: Any, data: Any
) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": data.client_id,
        "client_secret": data.client_secret,
        "scope": "https://vault.azure.net/.default",
    }
    path = f"/{data.tenant_id}/oauth2/v2.0/token"

    issued = await http.post(path, data=form)
    wrong = await http.post(path, data={**form, "client_secret": "nope"})
    tenant = await http.post("/another-tenant/oauth2/v2.0/token", data=form)
    metadata = await http.get(f"/{data.tenant_id}/v2.0/.well-known/openid-configuration")

    assert issued.status_code == 200
    body = issued.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == data.token_lifetime
    token = body["access_token"]
    secret = await http.get(
        "/secrets/api-key/", params=API, headers={"Authorization": f"Bearer {token}"}
    )
    assert secret.status_code == 200
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert data.client_secret not in wrong.text
    assert tenant.status_code == 400
    assert "AADSTS90002" in tenant.json()["error_description"]
    assert metadata.json()["token_endpoint"] == f"{standin.url}{path}"


@module_loop
async def test_managed_identity_endpoint_needs_its_header(
    http: httpx.AsyncClient, standin: Any
) -> None:
    params = {"api-version": "2019-08-01", "resource": "https://metrics.monitor.azure.com"}

    issued = await http.get(
        "/msi/token", params=params, headers={"X-IDENTITY-HEADER": standin.identity_header}
    )
    refused = await http.get("/msi/token", params=params, headers={"X-IDENTITY-HEADER": "guess"})

    assert issued.status_code == 200
    body = issued.json()
    assert body["resource"] == params["resource"]
    assert int(body["expires_on"]) > time.time()
    assert refused.status_code == 401


# --- metrics ------------------------------------------------------------------------------------


async def get_batch(
    http: httpx.AsyncClient, standin: Any, resource_ids: list[str], **params: str
) -> httpx.Response:
    subscription = resource_ids[0].split("/")[2]
    end = datetime.now(UTC)
    query = {
        "api-version": "2024-02-01",
        "metricnamespace": "Microsoft.Compute/virtualMachines",
        "metricnames": "Percentage CPU,Available Memory Bytes",
        "starttime": (end - timedelta(minutes=10)).isoformat(),
        "endtime": end.isoformat(),
        **params,
    }
    return await http.post(
        f"/subscriptions/{subscription}/metrics:getBatch",
        params=query,
        json={"resourceids": resource_ids},
        headers=bearer(standin, "https://metrics.monitor.azure.com/.default"),
    )


@module_loop
async def test_metrics_batch_answers_every_point_with_a_timestamp(
    http: httpx.AsyncClient, standin: Any, data: Any
) -> None:
    web = data.vms[0]

    response = await get_batch(http, standin, [web.resource_id], aggregation="average,maximum")

    assert response.status_code == 200
    (item,) = response.json()["values"]
    assert item["resourceid"] == web.resource_id
    assert item["interval"] == "PT1M"
    cpu, memory = item["value"]
    assert cpu["name"]["value"] == "Percentage CPU"
    assert cpu["unit"] == "Percent"
    assert cpu["id"] == f"{web.resource_id}/providers/Microsoft.Insights/metrics/Percentage CPU"
    points = cpu["timeseries"][0]["data"]
    assert len(points) == 10
    assert all("timeStamp" in point for point in points)
    assert points[0]["average"] == points[0]["maximum"] == web.cpu_percent[0]
    assert memory["unit"] == "Bytes"
    assert memory["timeseries"][0]["data"][1]["average"] == web.available_memory_mb[1] * 1024**2


@module_loop
async def test_metrics_cpu_faults_and_unknown_metrics(
    http: httpx.AsyncClient, standin: Any, data: Any
) -> None:
    stopped = next(vm for vm in data.vms if not vm.cpu_percent)
    await fault(http, "cpu-critical")

    response = await get_batch(http, standin, [data.vms[0].resource_id, stopped.resource_id])
    unknown = await get_batch(http, standin, [data.vms[0].resource_id], metricnames="Disk Bytes")

    web, idle = response.json()["values"]
    assert {p["average"] for p in web["value"][0]["timeseries"][0]["data"]} == {97.0}
    assert all(set(p) == {"timeStamp"} for p in idle["value"][0]["timeseries"][0]["data"])
    assert unknown.status_code == 400
    assert "Disk Bytes" in unknown.json()["error"]["message"]


# --- logs ---------------------------------------------------------------------------------------


async def query_logs(
    http: httpx.AsyncClient, standin: Any, query: str, workspace: str | None = None
) -> httpx.Response:
    workspace = workspace or next(iter(standin.data.workspaces))
    return await http.post(
        f"/v1/workspaces/{workspace}/query",
        json={"query": query, "timespan": "PT1H"},
        headers=bearer(standin, "https://api.loganalytics.io/.default"),
    )


@module_loop
async def test_logs_kql_subset_with_typed_columns(http: httpx.AsyncClient, standin: Any) -> None:
    counted = await query_logs(http, standin, "AppRequests | where Success == false | count")
    projected = await query_logs(
        http, standin, "AppRequests | where DurationMs > 20 | project Name, TimeGenerated | take 2"
    )

    (table,) = counted.json()["tables"]
    assert table["columns"] == [{"name": "Count", "type": "long"}]
    assert table["rows"] == [[3]]
    (table,) = projected.json()["tables"]
    assert table["columns"] == [
        {"name": "Name", "type": "string"},
        {"name": "TimeGenerated", "type": "datetime"},
    ]
    assert [row[0] for row in table["rows"]] == ["POST /auth/login", "GET /api/items/7"]
    when = datetime.fromisoformat(table["rows"][0][1].replace("Z", "+00:00"))
    assert timedelta(minutes=12) < datetime.now(UTC) - when < timedelta(minutes=14)


@module_loop
async def test_logs_errors_and_partial_results(http: httpx.AsyncClient, standin: Any) -> None:
    unsupported = await query_logs(http, standin, "AppRequests | summarize count() by Name")
    missing = await query_logs(http, standin, "AppRequests", workspace="no-such-workspace")
    await fault(http, "logs-partial")
    partial = await query_logs(http, standin, "AppRequests | count")

    assert unsupported.status_code == 400
    error = unsupported.json()["error"]
    assert error["code"] == "BadArgumentError"
    assert "summarize" in error["innererror"]["message"]
    assert missing.status_code == 404
    body = partial.json()
    assert body["error"]["code"] == "PartialError"
    assert body["tables"][0]["rows"] == [[6]]  # half of the 12 rows were read


# --- the real SDK meets the challenge -----------------------------------------------------------


@module_loop
async def test_real_secret_client_answers_the_challenge(
    data: Any, tls_files: dict[str, Path]
) -> None:
    from azure.identity.aio import ClientSecretCredential
    from azure.keyvault.secrets.aio import SecretClient

    context = sa.server_context(tls_files["cert"], tls_files["key"])
    ca_file = str(tls_files["ca"])
    async with sa.StandIn(data, ssl_context=context) as fresh:
        # "localhost" is an origin no other test uses, so the SDK's process-wide challenge
        # cache cannot already hold this vault.
        credential = ClientSecretCredential(
            data.tenant_id,
            data.client_id,
            data.client_secret,
            authority=fresh.url,
            connection_verify=ca_file,
            disable_instance_discovery=True,
        )
        client = SecretClient(
            f"https://localhost:{fresh.port}",
            credential,
            verify_challenge_resource=False,
            connection_verify=ca_file,
        )
        async with credential, client:
            secret = await client.get_secret("api-key")

    assert secret.value == "demo-api-key-2b6f19e0"
    assert [(hit.service, hit.status) for hit in fresh.hits] == [
        ("keyvault", 401),
        ("entra", 200),
        ("keyvault", 200),
    ]


# --- seed data and command line -----------------------------------------------------------------


def test_seed_fits_the_demo(data: Any) -> None:
    """Healthy by default: the demo's secrets are usable, its VM within the default thresholds."""
    secrets = {secret.name: secret for secret in data.secrets}
    soon = datetime.now(UTC) + timedelta(days=30)
    for name in data.demo_secret_list:
        assert secrets[name].enabled
        assert secrets[name].expires is None or secrets[name].expires > soon
    web = data.vms[0]
    assert max(web.cpu_percent) < 80
    assert min(web.available_memory_mb) > 500
    for name in ("not-found", "expired-secret", "disabled-secret"):
        assert data.faults[name]["secret"] in data.demo_secret_list
    assert 80 < data.faults["cpu-warning"]["cpu_percent"] < 90
    assert 90 <= data.faults["cpu-critical"]["cpu_percent"] <= 100


def test_malformed_seed_is_one_line(tmp_path: Path) -> None:
    seed = json.loads(DATA.read_text())
    del seed["tenant_id"]
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))

    with pytest.raises(sa.DataError, match=r"seed\.json: missing 'tenant_id'$"):
        sa.load_data(path)
    seed = json.loads(DATA.read_text())
    seed["vms"][0]["resource_id"] = "/subscriptions/x/vm"
    path.write_text(json.dumps(seed))
    with pytest.raises(sa.DataError, match="not a resource id: '/subscriptions/x/vm'"):
        sa.load_data(path)


def _cli_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AZURE_")}
    env["AZURE_STANDIN_CLIENT_SECRET"] = "from-the-environment"
    return env


def test_command_line_serves_until_sigterm(tls_files: dict[str, Path], tmp_path: Path) -> None:
    state_file = tmp_path / "azure.json"
    argv = [sys.executable, str(STANDIN), "--port", "0", "--cert", str(tls_files["cert"])]
    argv += ["--key", str(tls_files["key"]), "--data", str(DATA), "--state-file", str(state_file)]
    argv += ["--fault", "throttle"]
    child = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_cli_env()
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        state = json.loads(line)
        assert json.loads(state_file.read_text()) == state
        assert state_file.stat().st_mode & 0o777 == 0o600
        assert state["pid"] == child.pid
        assert state["fault"] == "throttle"
        env = state["env"]
        url = f"https://127.0.0.1:{state['port']}"
        assert env["AZURE_KEYVAULT_URL"] == env["AZURE_AUTHORITY_HOST"] == url == state["url"]
        assert env["IDENTITY_ENDPOINT"] == f"{url}/msi/token"
        assert env["AZURE_CLIENT_SECRET"] == "from-the-environment"
        assert (
            env["AZURE_SECRET_LIST"] == "database-password,redis-password,jwt-signing-key,api-key"
        )
        assert env["VM_RESOURCE_ID"].endswith("/virtualMachines/demo-web-1")

        context = ssl.create_default_context(cafile=str(tls_files["ca"]))
        with httpx.Client(base_url=url, verify=context, timeout=5) as client:
            token = client.post(
                f"/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": env["AZURE_CLIENT_ID"],
                    "client_secret": "from-the-environment",
                    "scope": "https://vault.azure.net/.default",
                },
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            throttled = client.get("/secrets/api-key/", params=API, headers=headers)
            served = client.get("/secrets/api-key/", params=API, headers=headers)
        assert (throttled.status_code, served.status_code) == (429, 200)
    finally:
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=10)
    assert child.returncode == 0, stderr


def test_command_line_bad_data_is_one_line(tls_files: dict[str, Path], tmp_path: Path) -> None:
    argv = [sys.executable, str(STANDIN), "--cert", str(tls_files["cert"])]
    argv += ["--key", str(tls_files["key"]), "--data", str(tmp_path / "absent.json")]

    done = subprocess.run(
        argv, check=False, capture_output=True, text=True, timeout=30, env=_cli_env()
    )

    assert done.returncode == 1
    assert done.stderr.strip().startswith("azure_standin.py: cannot read ")
    assert len(done.stderr.strip().splitlines()) == 1


def test_command_line_rejects_an_unknown_fault(tls_files: dict[str, Path]) -> None:
    argv = [sys.executable, str(STANDIN), "--cert", str(tls_files["cert"])]
    argv += ["--key", str(tls_files["key"]), "--fault", "meltdown"]

    done = subprocess.run(
        argv, check=False, capture_output=True, text=True, timeout=30, env=_cli_env()
    )

    assert done.returncode == 2
    assert "invalid choice: 'meltdown'" in done.stderr
