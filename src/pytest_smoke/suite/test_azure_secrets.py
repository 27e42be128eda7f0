"""Azure Key Vault: every secret the deployment needs exists, is enabled and is not about to
expire. Values are never shown: only presence, the enabled flag and the expiry are checked."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ._support import ASYNC

if TYPE_CHECKING:
    from collections.abc import Callable

    from azure.keyvault.secrets.aio import SecretClient

    from pytest_smoke.checks import Checks
    from pytest_smoke.masking import Masker
    from pytest_smoke.settings import Settings

pytestmark = [pytest.mark.smoke, pytest.mark.azure, pytest.mark.secrets, ASYNC]


@pytest.mark.critical
@pytest.mark.needs_checks("azure.secrets")  # or AZURE_SECRET_LIST in the profile
async def test_required_secrets_are_usable(
    keyvault_client: SecretClient,
    smoke_settings: Settings,
    smoke_checks: Checks,
    smoke_masker: Masker,
    smoke_warning: Callable[[str], None],
) -> None:
    """Each secret of AZURE_SECRET_LIST is FOUND; one EXPIRING soon passes with a warning.

    Impact: the deployment cannot reach what those secrets unlock (databases, APIs); roll back.
    The answers are FOUND, MISSING, DISABLED, EXPIRING, EXPIRED or FORBIDDEN (a 403 names the
    RBAC role the identity lacks, "Key Vault Secrets User").
    """
    from pytest_smoke.clients.azure import SecretState, check_secrets

    names = list(smoke_settings.azure_secret_list) or list(smoke_checks.get("azure.secrets", []))
    if not names:
        pytest.skip("AZURE_SECRET_LIST is not set in the env profile")
    fetched: list[str] = []
    try:
        statuses = await check_secrets(
            keyvault_client,
            names,
            expiry_days=smoke_settings.secret_expiry_days,
            fetched_values=fetched,
        )
    finally:
        for value in fetched:  # read only when listing was refused; never shown
            smoke_masker.add(value)
    for status in statuses:
        if status.state is SecretState.EXPIRING:
            smoke_warning(str(status))
    broken = [
        str(status)
        for status in statuses
        if status.state not in (SecretState.FOUND, SecretState.EXPIRING)
    ]
    assert not broken, "; ".join(broken)
