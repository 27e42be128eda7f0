"""The demo deployments the bundled suite is proven on, shipped so ``smoke-gate demo`` works
from the wheel (the ``demo`` extra installs what they need).

- ``launch.py``: starts and stops a demo (``python -m pytest_smoke.demo.launch up|down``).
- ``items/``: the items API (examples/demo/CONTRACT.md) with its Azure stand-in.
- ``articles/``: a RealWorld-style articles API (examples/articles/CONTRACT.md).

The apps are not modules of this package: uvicorn loads them from their directories
(``--app-dir``), in processes of their own. Nothing here is imported by the pytest plugin; this
module holds names only, so that ``smoke-gate`` can check a fault without importing the launcher.
"""

from __future__ import annotations

from typing import Final

APPS: Final = ("items", "articles")

#: The faults the items app itself knows (``DEMO_FAULT``, items/app.py); database-down is the
#: launcher's: it points the app's database URL at a closed port.
ITEMS_APP_FAULTS: Final = (
    "database-down",
    "health-503",
    "endpoint-500",
    "slow",
    "auth-broken",
    "events-off",
    "rate-limit-off",
    "header-missing",
    "schema-break",
)
#: The faults the items demo can be started with (examples/demo/CONTRACT.md).
FAULTS: Final = (
    *ITEMS_APP_FAULTS,
    # Faults of the Azure stand-in (items/azure_standin.py), without the prefix there.
    "azure-forbidden",
    "azure-list-forbidden",
    "azure-not-found",
    "azure-disabled-secret",
    "azure-expired-secret",
    "azure-throttle",
    "azure-server-error",
    "azure-cpu-warning",
    "azure-cpu-critical",
    "azure-logs-partial",
)
#: The faults of the articles app (examples/articles/CONTRACT.md), a subset of the above.
ARTICLES_FAULTS: Final = ("database-down", "endpoint-500", "auth-broken")


def faults_of(app: str) -> tuple[str, ...]:
    """The faults ``app`` can be started with."""
    return ARTICLES_FAULTS if app == "articles" else FAULTS
