"""The markers the plugin registers, what each means, and which dependency each stands for."""

from __future__ import annotations

from typing import Final

SMOKE: Final = "smoke"
CRITICAL: Final = "critical"

#: Dependency markers, in the order reports list them. Each names one category the gate counts.
DEPENDENCY_MARKERS: Final[dict[str, str]] = {
    "database": "needs the database (SMOKE_TEST_DATABASE_URL); any failure means rollback",
    "redis": "needs Redis, the event bus (SMOKE_TEST_REDIS_URL)",
    "service": "calls the deployed service over HTTP (GATEWAY_URL)",
    "azure": "talks to Azure (AZURE_* settings)",
    "secrets": "checks Azure Key Vault secrets (AZURE_KEYVAULT_NAME or AZURE_KEYVAULT_URL)",
    "metrics": "checks Azure Monitor metrics (VM_RESOURCE_ID)",
}

#: Every marker with the line `pytest --markers` shows for it.
MARKER_HELP: Final[dict[str, str]] = {
    SMOKE: "post-deployment smoke test; counted by the smoke gate",
    CRITICAL: "smoke test whose failure means ROLLBACK; --smoke-quick runs only these",
    **DEPENDENCY_MARKERS,
}

#: The markers that put a test under the gate.
GATED_MARKERS: Final = frozenset({SMOKE, CRITICAL})

#: Every marker name the plugin owns, for recording on test reports.
OWN_MARKERS: Final = frozenset(MARKER_HELP)


def marker_lines() -> list[str]:
    """Return the `name: help` lines to register with pytest's `markers` ini value."""
    return [f"{name}: {text}" for name, text in MARKER_HELP.items()]
