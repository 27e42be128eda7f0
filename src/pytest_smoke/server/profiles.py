"""The env profiles the service runs: the ``.env.NAME`` files of its profiles directory.

A profile is read exactly as ``smoke-gate run --env NAME`` reads it in that directory (the
service's environment included), so ``GET /profiles`` shows what a run would use, masked by
:meth:`pytest_smoke.settings.Settings.describe`; a profile that does not load shows its one-line
error instead (the error names secret settings without their value).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_smoke.server.runs import validate_request
from pytest_smoke.settings import SettingsError, available_profiles, load_settings

if TYPE_CHECKING:
    from pathlib import Path

    from pytest_smoke.server.runs import RunRequest


@dataclass(frozen=True)
class SettingRow:
    """One setting of a profile as it may be shown: name, masked value, where it came from."""

    name: str
    value: str
    source: str


@dataclass(frozen=True)
class ProfileView:
    """A profile: its settings, or the one line saying why it does not load."""

    name: str
    file: str
    settings: tuple[SettingRow, ...] | None
    error: str | None = None


def profile_names(directory: Path) -> list[str]:
    """The names of the profiles in ``directory`` (``.env.NAME`` files, examples excluded)."""
    return available_profiles(directory)


async def check_runnable(request: RunRequest, directory: Path) -> None:
    """Raise :class:`~.runs.RunRequestError` (one line) unless ``request`` can run with the
    profiles of ``directory`` (read in a thread: it lists the directory)."""
    validate_request(request, await asyncio.to_thread(profile_names, directory))


def describe(directory: Path, name: str) -> ProfileView:
    """Profile ``name`` of ``directory``, its settings masked, or its error."""
    file = str(directory / f".env.{name}")
    try:
        settings = load_settings(
            cli={"profile": name}, environ=dict(os.environ), ini={}, rootdir=directory
        )
    except SettingsError as error:  # one line, secrets named but never shown
        return ProfileView(name=name, file=file, settings=None, error=str(error))
    except Exception as error:  # anything else: its kind only, the text might hold a value
        message = f"the profile does not load ({type(error).__name__}); run it to see why"
        return ProfileView(name=name, file=file, settings=None, error=message)
    rows = tuple(SettingRow(*row) for row in settings.describe())
    return ProfileView(name=name, file=file, settings=rows)


def describe_all(directory: Path) -> list[ProfileView]:
    """Every profile of ``directory``, by name."""
    return [describe(directory, name) for name in profile_names(directory)]
