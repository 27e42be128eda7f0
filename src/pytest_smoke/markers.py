"""The markers the plugin registers, what each means, and which dependency each stands for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import pytest

SMOKE: Final = "smoke"
CRITICAL: Final = "critical"
NEEDS_CHECKS: Final = "needs_checks"
WRITES: Final = "writes"
NEEDS_HTTPS: Final = "needs_https"

#: Dependency markers, in the order reports list them. Each names one category the gate counts.
DEPENDENCY_MARKERS: Final[dict[str, str]] = {
    "database": "needs the database (SMOKE_TEST_DATABASE_URL); any failure means rollback",
    "redis": "needs Redis, the event bus (SMOKE_TEST_REDIS_URL)",
    "service": "calls the deployed service over HTTP (GATEWAY_URL)",
    "azure": "talks to Azure (AZURE_* settings)",
    "secrets": "checks Azure Key Vault secrets (AZURE_KEYVAULT_NAME or AZURE_KEYVAULT_URL)",
    "metrics": "checks Azure Monitor metrics (VM_RESOURCE_ID)",
    "workflow": "critical user workflow of the checks file ([[workflows]]): ordered requests",
    "contract": "answers checked against the deployment's OpenAPI document ([openapi])",
    "load": "load burst against the deployment ([load]): latency and error thresholds",
}

#: Markers that say when a smoke test applies to a deployment. A smoke test that does not
#: apply is deselected at collection and listed once as not applicable, never skipped.
APPLICABILITY_MARKERS: Final[dict[str, str]] = {
    f"{NEEDS_CHECKS}(*keys)": "smoke test that needs these checks-file keys (dotted, e.g. "
    "'crud.update'); without them it is not applicable: deselected and listed, not skipped",
    WRITES: "smoke test that changes the deployment (HTTP POST/PUT/PATCH/DELETE, database "
    "writes); not run under a read-only profile (SMOKE_TEST_READ_ONLY)",
    NEEDS_HTTPS: "smoke test that needs an https:// GATEWAY_URL (TLS checks); not applicable "
    "to a plain-HTTP deployment",
}

#: Every marker with the line `pytest --markers` shows for it (the key holds the signature).
MARKER_HELP: Final[dict[str, str]] = {
    SMOKE: "post-deployment smoke test; counted by the smoke gate",
    CRITICAL: "smoke test whose failure means ROLLBACK; --smoke-quick runs only these",
    **DEPENDENCY_MARKERS,
    **APPLICABILITY_MARKERS,
}

#: The markers that put a test under the gate.
GATED_MARKERS: Final = frozenset({SMOKE, CRITICAL})

#: Every marker name the plugin owns, for recording on test reports.
OWN_MARKERS: Final = frozenset(name.partition("(")[0] for name in MARKER_HELP)


def marker_lines() -> list[str]:
    """Return the `name: help` lines to register with pytest's `markers` ini value."""
    return [f"{name}: {text}" for name, text in MARKER_HELP.items()]


def needs_checks_keys(item: pytest.Item) -> list[str]:
    """The checks-file keys every ``needs_checks`` marker of ``item`` names, in order.

    A marker without keys, or with anything but dotted key strings, is a usage error naming
    the test: a typo here would otherwise deselect a check silently.
    """
    keys: list[str] = []
    for mark in item.iter_markers(NEEDS_CHECKS):
        keys.extend(_checked_keys(item.nodeid, *mark.args, **mark.kwargs))
    return keys


def _checked_keys(nodeid: str, *keys: object, **kwargs: object) -> tuple[str, ...]:
    import pytest

    usage = "use @pytest.mark.needs_checks('section.key', ...)"
    if kwargs:
        raise pytest.UsageError(
            f"{nodeid}: needs_checks: takes no keyword arguments ({', '.join(kwargs)}); {usage}"
        )
    if not keys:
        raise pytest.UsageError(f"{nodeid}: needs_checks: no key given; {usage}")
    for key in keys:
        if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
            raise pytest.UsageError(
                f"{nodeid}: needs_checks: {key!r} is not a dotted checks-file key; {usage}"
            )
    return tuple(str(key) for key in keys)
