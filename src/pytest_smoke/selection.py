"""Which of the collected tests a smoke run keeps.

``--smoke-quick`` keeps the critical tests; a smoke test whose feature the deployment does not
configure is deselected as not applicable (listed by reason in the reports, never counted as
skipped). Imported once smoke tests are collected, never in a plain run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_smoke import _state, markers

if TYPE_CHECKING:
    import pytest

    from pytest_smoke.settings import Settings


def select(config: pytest.Config, items: list[pytest.Item], gated: list[pytest.Item]) -> None:
    """Deselect, in place, what this smoke run does not run of ``items`` (``gated``: the smoke
    and critical ones among them). Bad settings are a usage error here, before any test runs."""
    settings = _state.get_settings(config)
    if settings.quick:
        keep = [item for item in items if item.get_closest_marker(markers.CRITICAL)]
        if len(keep) < len(items):
            config.hook.pytest_deselected(
                items=[item for item in items if not item.get_closest_marker(markers.CRITICAL)]
            )
            items[:] = keep
            gated = [item for item in gated if item.get_closest_marker(markers.CRITICAL)]
    _deselect_not_applicable(config, items, gated, settings)


def _deselect_not_applicable(
    config: pytest.Config, items: list[pytest.Item], gated: list[pytest.Item], settings: Settings
) -> None:
    """Deselect the gated tests the deployment does not configure (never counted as skipped)
    and keep their ids by reason for the reports."""
    from pytest_smoke.features import not_applicable

    groups = not_applicable(gated, settings, lambda: _state.get_checks(config))
    if not groups:
        return
    dropped = {id(item) for group in groups.values() for item in group}
    config.hook.pytest_deselected(items=[item for group in groups.values() for item in group])
    items[:] = [item for item in items if id(item) not in dropped]
    record = {reason: [item.nodeid for item in group] for reason, group in groups.items()}
    config.stash[_state.not_applicable_key] = record
    if hasattr(config, "workeroutput"):  # xdist: only workers collect; tell the controller
        from pytest_smoke.reporter import WORKER_NOT_APPLICABLE

        config.workeroutput[WORKER_NOT_APPLICABLE] = [[r, ids] for r, ids in record.items()]
