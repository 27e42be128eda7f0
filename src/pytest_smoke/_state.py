"""Per-run state kept in ``config.stash``, and the one way to read the settings from it.

Settings are resolved on first use, not in every pytest run: a project whose tests are not
smoke tests never imports the settings machinery, and a stray bad ``GATEWAY_URL`` in its
environment does not break it.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Final

import pytest

from pytest_smoke import plugin

# The keys every run reads are defined by the module with the hooks; the others here. Imported
# "as" themselves: re-exported for the modules that read them from here.
from pytest_smoke.plugin import masker_key as masker_key  # noqa: PLC0414
from pytest_smoke.plugin import recording_key as recording_key  # noqa: PLC0414
from pytest_smoke.plugin import settings_key as settings_key  # noqa: PLC0414
from pytest_smoke.plugin import started_key as started_key  # noqa: PLC0414

if TYPE_CHECKING:
    from pytest_smoke.checks import Checks
    from pytest_smoke.dependencies import DependencyStatus
    from pytest_smoke.masking import Masker
    from pytest_smoke.settings import Settings

# Keys are typed by their annotation, not by subscripting StashKey (typing machinery at import).
checks_key: Final[pytest.StashKey[Checks]] = pytest.StashKey()
dependency_status_key: Final[pytest.StashKey[DependencyStatus]] = pytest.StashKey()
#: The http_client latency log of this process, and how many of its entries went on reports.
latency_log_key: Final[pytest.StashKey[Any]] = pytest.StashKey()
latency_reported_key: Final[pytest.StashKey[int]] = pytest.StashKey()
#: Warnings a test recorded with the smoke_warning fixture.
item_warnings_key: Final[pytest.StashKey[list[str]]] = pytest.StashKey()
#: Our marker names on one test item, computed once for its three phases.
item_markers_key: Final[pytest.StashKey[list[str]]] = pytest.StashKey()
#: What a test created and could not remove, one line each: "https://h/api/items/42 (DELETE ->
#: 500)". The ``smoke_resources`` fixture stores them at teardown; the report carries them.
item_left_behind_key: Final[pytest.StashKey[list[str]]] = pytest.StashKey()
#: The summary of the load burst a test ran (``test_load_burst``), for the JSON report's ``load``
#: section and the verdict block; the report carries it at teardown.
item_load_key: Final[pytest.StashKey[dict[str, Any]]] = pytest.StashKey()
#: The smoke tests this process deselected as not applicable: reason -> node ids.
not_applicable_key: Final[pytest.StashKey[dict[str, list[str]]]] = pytest.StashKey()


def run_started(config: pytest.Config) -> tuple[float, float]:
    """When the run started (``time.time()``, ``time.monotonic()``): at configure time."""
    return config.stash.get(started_key, None) or (time.time(), time.monotonic())


def get_settings(config: pytest.Config) -> Settings:
    """The run's settings, resolved once; a one-line usage error if they are bad."""
    settings = config.stash.get(settings_key, None)
    if settings is None:
        from pytest_smoke import setting_specs
        from pytest_smoke.settings import SettingsError, load_settings

        try:
            settings = load_settings(
                cli=setting_specs.cli_values(config),
                environ=os.environ,
                ini=setting_specs.ini_values(config),
                rootdir=config.rootpath,
            )
        except SettingsError as error:
            raise pytest.UsageError(f"smoke: {error}") from None
        config.stash[settings_key] = settings
        register_setting_secrets(get_masker(config), settings)
    return settings


def register_setting_secrets(masker: Masker, settings: Settings) -> None:
    for url in (settings.database_url, settings.redis_url, settings.pushgateway_url):
        masker.add_url(url)
    for secret in (settings.token, settings.password, settings.azure_client_secret):
        masker.add(secret)


def get_masker(config: pytest.Config) -> Masker:
    """The run's masker, created on first use; from then on log records are scrubbed too."""
    masker = config.stash.get(masker_key, None)
    if masker is None:
        from pytest_smoke.masking import Masker, install_log_masking, uninstall_log_masking

        masker = config.stash[masker_key] = Masker()
        factory = install_log_masking(masker)
        config.add_cleanup(lambda: uninstall_log_masking(factory))
        plugin.register_run_hooks(config)  # the reports' scrubbing
    return masker


def existing_masker(config: pytest.Config) -> Masker | None:
    return config.stash.get(masker_key, None)


def resolved_settings(config: pytest.Config) -> Settings | None:
    """The settings if something has already asked for them, else ``None``."""
    return config.stash.get(settings_key, None)


def dependency_status(config: pytest.Config) -> DependencyStatus:
    """Which dependencies this process found down or up."""
    status = config.stash.get(dependency_status_key, None)
    if status is None:
        from pytest_smoke.dependencies import DependencyStatus

        status = config.stash[dependency_status_key] = DependencyStatus()
    return status


def new_request_rows(config: pytest.Config) -> list[tuple[Any, ...]]:
    """The requests ``http_client`` finished since the last call, as plain report rows."""
    log = config.stash.get(latency_log_key, None)
    if log is None:
        return []
    start = config.stash.get(latency_reported_key, 0)
    entries = log.entries[start:]
    config.stash[latency_reported_key] = start + len(entries)
    return [(e.method, e.url, e.status, e.seconds, e.attempts) for e in entries]


def get_checks(config: pytest.Config) -> Checks:
    """The run's checks file, loaded once; empty when none is configured; bad: usage error."""
    checks = config.stash.get(checks_key, None)
    if checks is None:
        from pytest_smoke.checks import Checks, ChecksError, load_checks

        settings = get_settings(config)
        if settings.checks_file is None:
            checks = Checks()
        else:
            variables = {**settings.profile_values, **os.environ}
            try:
                checks = load_checks(settings.checks_file, variables)
            except ChecksError as error:
                raise pytest.UsageError(f"smoke: {error}") from None
            if checks.secret_values:  # the login body's password, from ${VAR}
                masker = get_masker(config)
                for value in checks.secret_values:
                    masker.add(value)
        config.stash[checks_key] = checks
    return checks
