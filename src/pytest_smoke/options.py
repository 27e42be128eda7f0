"""Command-line options and ini keys, built from the settings table."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Final

from pytest_smoke.setting_specs import (
    PROFILE_ENV,
    PROFILE_FILE_ENV,
    PROFILE_FILE_OPTION,
    PROFILE_INI,
    PROFILE_OPTION,
    SPECS,
)

if TYPE_CHECKING:
    import pytest

_PROFILE_HELP: Final = (
    "Load the env profile .env.NAME from the rootdir (python-dotenv syntax). "
    "Precedence: command line > environment variable > profile > ini > default."
)
_PROFILE_FILE_HELP: Final = "Load the env profile from PATH instead of .env.NAME."

#: Settings whose presence alone means the user asked for a smoke run.
_RUN_SETTINGS: Final = ("gate", "quick", "report_json")


def _dest(name: str) -> str:
    return f"smoke_{name}"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("smoke", "smoke gate (pytest-smoke-gate)")
    group.addoption(
        PROFILE_OPTION,
        dest=_dest("profile"),
        metavar="NAME",
        default=None,
        help=f"{_PROFILE_HELP} [env {PROFILE_ENV}, ini {PROFILE_INI}]",
    )
    parser.addini(PROFILE_INI, _PROFILE_HELP, type="string", default="")
    group.addoption(
        PROFILE_FILE_OPTION,
        dest=_dest("profile_file"),
        metavar="PATH",
        default=None,
        help=f"{_PROFILE_FILE_HELP} [env {PROFILE_FILE_ENV}]",
    )
    for spec in SPECS:
        sources = ", ".join(
            f"{kind} {name}" for kind, name in (("env", spec.env), ("ini", spec.ini)) if name
        )
        if spec.option and spec.flag:
            group.addoption(
                spec.option,
                dest=_dest(spec.name),
                action="store_true",
                default=None,
                help=f"{spec.help} [{sources}]",
            )
        elif spec.option:
            group.addoption(
                spec.option,
                dest=_dest(spec.name),
                metavar=spec.metavar,
                default=None,
                help=f"{spec.help} [{sources}]",
            )
        if spec.ini:
            parser.addini(spec.ini, f"{spec.help} [env {spec.env}]", type="string", default="")


def cli_values(config: pytest.Config) -> dict[str, Any]:
    """Option values by setting name; ``None`` where the option was not given."""
    names = ["profile", "profile_file", *(spec.name for spec in SPECS if spec.option)]
    return {name: config.getoption(_dest(name)) for name in names}


def ini_values(config: pytest.Config) -> dict[str, str]:
    keys = [PROFILE_INI, *(spec.ini for spec in SPECS if spec.ini)]
    return {key: str(config.getini(key)) for key in keys}


def smoke_run_requested(config: pytest.Config) -> bool:
    """Whether the user explicitly asked for a smoke run (then bad settings stop it at once)."""
    if any(value is not None for value in cli_values(config).values()):
        return True
    specs = {spec.name: spec for spec in SPECS}
    env_names = [PROFILE_ENV, PROFILE_FILE_ENV, *(specs[n].env for n in _RUN_SETTINGS)]
    ini_names = [PROFILE_INI, *(specs[n].ini for n in _RUN_SETTINGS)]
    return any(name and os.environ.get(name) for name in env_names) or any(
        name and str(config.getini(name)).strip() for name in ini_names
    )
