"""Service: each endpoint of the checks file's list (``[[endpoints]]``) answers as it says.

Every endpoint is a test of its own, ``test_endpoint[NAME]``, marked ``critical`` when its entry
says so and ``writes`` when its method is unsafe. Their requests go out together, once per
process, when the first of them runs: at most ``endpoint_defaults.concurrency`` in flight, each
bounded by ``endpoint_defaults.timeout_seconds``. Each test then reads its own answer. Only the
endpoints this run selected are requested; on an xdist worker, which runs an unknown share of
them, an endpoint that writes is requested by its own test alone, so it is never sent twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ._entries import collected_checks, parametrize
from ._support import ASYNC, need

if TYPE_CHECKING:
    import httpx

    from pytest_smoke.checks import Checks
    from pytest_smoke.checks.endpoints import Endpoint
    from pytest_smoke.checks.step import Outcome

pytestmark = [pytest.mark.smoke, pytest.mark.service, ASYNC]

ARGUMENT = "endpoint_name"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test id per ``[[endpoints]]`` entry, named after it."""
    if ARGUMENT not in metafunc.fixturenames:
        return
    from pytest_smoke.checks.endpoints import endpoints_of

    checks = collected_checks(metafunc.config)
    if checks is not None:
        parametrize(
            metafunc, ARGUMENT, ((e.name, e.critical, e.writes) for e in endpoints_of(checks))
        )


class _Answers:
    """The outcomes of this process's endpoint requests, fetched together on first need.

    :meth:`prepare` runs at the setup of the first endpoint test, in a sync fixture: the auth
    headers come from async fixtures, which cannot be started from inside a running test.
    """

    def __init__(self) -> None:
        self.batch: list[Endpoint] | None = None
        self.auth: _Auth | None = None
        self.outcomes: dict[str, Outcome] | None = None

    def prepare(self, request: pytest.FixtureRequest, checks: Checks) -> None:
        """Decide what goes in the batch, and get the auth headers if any of it needs them."""
        from pytest_smoke.checks.endpoints import endpoints_of

        if self.batch is not None:
            return
        wanted = _selected(request)
        self.batch = [
            e for e in endpoints_of(checks) if e.name in wanted and not _alone(request, e)
        ]
        if any(e.step.auth for e in self.batch):
            self.auth = _Auth.get(request)

    async def outcome(self, client: httpx.AsyncClient, checks: Checks) -> dict[str, Outcome]:
        """Every batch outcome by name; the batch is sent by the first caller."""
        from pytest_smoke.checks.endpoints import endpoint_defaults, fetch

        if self.outcomes is None:
            batch = self.batch or []
            if self.auth is not None and self.auth.error is not None:
                batch = [e for e in batch if not e.step.auth]  # each fails or skips with it
            defaults = endpoint_defaults(checks)
            self.outcomes = await fetch(
                client,
                batch,
                concurrency=defaults.concurrency,
                timeout=defaults.timeout_seconds,
                auth_headers=self.auth.headers if self.auth is not None else None,
            )
        return self.outcomes


class _Auth:
    """The auth headers, or what getting them raised (a skip, a failed login)."""

    def __init__(self, headers: dict[str, str] | None, error: BaseException | None) -> None:
        self.headers = headers
        self.error = error

    @classmethod
    def get(cls, request: pytest.FixtureRequest) -> _Auth:
        try:
            headers: dict[str, str] = request.getfixturevalue("auth_headers")
        except (Exception, pytest.skip.Exception, pytest.fail.Exception) as error:
            return cls(None, error)
        return cls(headers, None)


def _selected(request: pytest.FixtureRequest) -> set[str]:
    """The endpoint names of the tests this run selected (after -k, --smoke-quick, read-only)."""
    return {
        str(item.callspec.params[ARGUMENT])
        for item in request.session.items
        if isinstance(item, pytest.Function)
        and item.module is request.module
        and ARGUMENT in getattr(getattr(item, "callspec", None), "params", {})
    }


def _alone(request: pytest.FixtureRequest, endpoint: Endpoint) -> bool:
    """Whether ``endpoint`` is requested by its own test only: one that writes, on a worker."""
    return endpoint.writes and hasattr(request.config, "workerinput")


@pytest.fixture(scope="session")
def endpoint_answers() -> _Answers:
    """The endpoint outcomes of this process (session scope), fetched by the first test."""
    return _Answers()


@pytest.fixture
def endpoint_under_test(
    request: pytest.FixtureRequest,
    endpoint_name: str,
    smoke_checks: Checks,
    endpoint_answers: _Answers,
) -> tuple[Endpoint, _Auth | None]:
    """The endpoint of this test and, for one requested alone with auth, its auth headers."""
    from pytest_smoke.checks.endpoints import endpoints_of

    (endpoint,) = [e for e in endpoints_of(smoke_checks) if e.name == endpoint_name]
    endpoint_answers.prepare(request, smoke_checks)
    alone = endpoint.step.auth and _alone(request, endpoint)
    return endpoint, _Auth.get(request) if alone else endpoint_answers.auth


@pytest.fixture
def endpoint_name(smoke_checks: Checks) -> str:
    """Stands in for the parameter when the checks file has no ``[[endpoints]]``: skipped."""
    return str(need(smoke_checks, "endpoints"))


@pytest.mark.needs_checks("endpoints")
async def test_endpoint(
    endpoint_name: str,
    http_client: httpx.AsyncClient,
    smoke_checks: Checks,
    endpoint_under_test: tuple[Endpoint, _Auth | None],
    endpoint_answers: _Answers,
) -> None:
    """The endpoint answers one of its ``status`` (default any 2xx), within its latency limit,
    with ``expect``'s values at its JMESPath expressions; a failure names method, URL, status
    and the first line of the body.

    Impact: clients of that endpoint get errors, slow answers or wrong data.
    """
    from pytest_smoke.checks.endpoints import endpoint_defaults, fetch

    endpoint, auth = endpoint_under_test
    if endpoint.step.auth and auth is not None and auth.error is not None:
        raise auth.error
    outcomes = await endpoint_answers.outcome(http_client, smoke_checks)
    if endpoint.name not in outcomes:  # requested alone
        outcomes = await fetch(
            http_client,
            [endpoint],
            concurrency=1,
            timeout=endpoint_defaults(smoke_checks).timeout_seconds,
            auth_headers=auth.headers if auth is not None else None,
        )
    failure = outcomes[endpoint.name].failure
    if failure is not None:
        pytest.fail(failure, pytrace=False)
