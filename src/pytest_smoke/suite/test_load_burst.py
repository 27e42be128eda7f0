"""Load: a short burst of the checks file's ``[load]`` targets, held to its thresholds.

``test_load_burst[all]`` sends every ``[[load.targets]]`` entry, by weight and strategy, at the
constant rate or concurrency of ``[load]``, for its ``duration_seconds``; it fails when a
threshold (``p95_ms``, ``p99_ms``, ``error_rate_percent``) is broken, naming each and by how
much. It is marked ``writes`` when a target uses an unsafe method, and so is not run under a
read-only profile; when the file mixes safe and unsafe targets, such a run gets
``test_load_burst[safe]`` instead: the same burst with the safe targets alone.

The summary (requests, rates, percentiles, errors, each threshold) goes on the test's report,
so it reaches the controller of an xdist run too, and from there the JSON report's ``load``
section and one line of the verdict block. The burst sends with a client of its own, built
like ``http_client`` but without retries (see :mod:`pytest_smoke.load.client`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ._entries import collected_checks, parametrize
from ._support import ASYNC, need

if TYPE_CHECKING:
    import httpx

    from pytest_smoke.checks import Checks
    from pytest_smoke.load.spec import LoadSpec
    from pytest_smoke.settings import Settings

pytestmark = [pytest.mark.smoke, pytest.mark.service, pytest.mark.load, ASYNC]

ARGUMENT = "load_burst"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``test_load_burst[all]``, and ``[safe]`` where a read-only run would lose the burst."""
    if ARGUMENT not in metafunc.fixturenames:
        return
    checks = collected_checks(metafunc.config)
    if checks is None or not checks.has("load"):
        return  # its needs_checks marker makes it not applicable
    from pytest_smoke.load.spec import bursts, load_spec

    found = bursts(load_spec(checks.get("load")), read_only=_read_only(metafunc.config))
    parametrize(metafunc, ARGUMENT, ((name, False, spec.writes) for name, spec in found))


def _read_only(config: pytest.Config) -> bool:
    from pytest_smoke import _state

    try:
        return _state.get_settings(config).read_only
    except pytest.UsageError:  # the selection stops the run with it, exit 4
        return False


@pytest.fixture
def load_burst(smoke_checks: Checks) -> str:
    """Stands in for the parameter when the checks file has no ``[load]``: skipped."""
    need(smoke_checks, "load")
    from pytest_smoke.load.spec import ALL

    return ALL


@pytest.fixture
def load_spec_under_test(
    load_burst: str, smoke_checks: Checks, smoke_settings: Settings
) -> LoadSpec:
    """The burst of this test id, ``{marker}`` in its paths filled (one marker per burst)."""
    from pytest_smoke.checks.templates import new_marker
    from pytest_smoke.load.spec import bursts, load_spec

    found = dict(bursts(load_spec(smoke_checks.get("load")), read_only=smoke_settings.read_only))
    return found[load_burst].with_marker(new_marker())


@pytest.fixture
def load_headers(request: pytest.FixtureRequest, load_spec_under_test: LoadSpec) -> dict[str, str]:
    """``auth_headers`` when ``load.auth`` is true, else no headers. A sync fixture: the
    token comes from async fixtures, which cannot be started inside a running test."""
    if not load_spec_under_test.auth:
        return {}
    headers: dict[str, str] = request.getfixturevalue("auth_headers")
    return headers


@pytest.mark.needs_checks("load")
async def test_load_burst(
    request: pytest.FixtureRequest,
    http_client: httpx.AsyncClient,
    load_spec_under_test: LoadSpec,
    load_headers: dict[str, str],
    smoke_settings: Settings,
) -> None:
    """A burst of ``[load]``'s targets stays within its thresholds: p95 and p99 latency (from
    each request's due time at a constant rate), and the share of failed requests.

    Impact: the release is slower or fails more under ordinary load; users feel it first.
    """
    from pytest_smoke import _state
    from pytest_smoke.features import read_only_reason

    modules = _load_modules()
    spec = load_spec_under_test
    async with modules.client.burst_client(
        str(http_client.base_url),
        timeout=spec.timeout_seconds,
        connect_timeout=smoke_settings.connect_timeout,
        ca_bundle=smoke_settings.ca_bundle,
        client_cert=smoke_settings.client_cert,
        client_key=smoke_settings.client_key,
        read_only=read_only_reason(smoke_settings),
    ) as client:
        result = await modules.runner.run_burst(
            spec, modules.client.http_send(client, load_headers)
        )
    verdict = modules.thresholds.check_thresholds(result, spec.thresholds)
    summary = result.as_dict(verdict)
    request.node.stash[_state.item_load_key] = {"test": request.node.nodeid, **summary}
    if not verdict.passed:
        failed = ", ".join(f"{why} x{n}" for why, n in result.failures.items())
        pace = f"{spec.rate:g}/s" if spec.rate is not None else f"concurrency {spec.concurrency}"
        pytest.fail(
            f"load burst ({result.requests} requests, {pace}, {spec.duration_seconds:g} s) "
            f"broke its thresholds: {verdict.message()}"
            + (f"; failed: {failed}" if failed else ""),
            pytrace=False,
        )


class _Modules:
    """The load package's modules that need the ``load`` extra."""

    def __init__(self) -> None:
        import hdrh.histogram  # noqa: F401  (here, not in the middle of the burst)

        from pytest_smoke.load import client, runner, thresholds

        self.client = client
        self.runner = runner
        self.thresholds = thresholds


def _load_modules() -> _Modules:
    """The modules, or one line naming the extra to install."""
    try:
        return _Modules()
    except ModuleNotFoundError as error:
        pytest.fail(
            f"smoke: the load burst needs {error.name}, which is not installed; "
            "pip install 'pytest-smoke-gate[load]'",
            pytrace=False,
        )
