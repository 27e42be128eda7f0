"""Reading a checks file: TOML, ``${VAR}`` from the profile, validation, defaults."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pytest_smoke.checks.model import Checks, ChecksError

if TYPE_CHECKING:
    from collections.abc import Mapping

_VARIABLE: Final = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: Values a ``${VAR}`` puts under these sections are secrets (the login body's password).
_SECRET_SECTIONS: Final = frozenset({"auth"})
#: ... and under a ``headers`` table of these (an API key for one endpoint or workflow step).
_SECRET_HEADER_SECTIONS: Final = frozenset({"endpoints", "workflows"})


def load_checks(path: str | Path, variables: Mapping[str, str]) -> Checks:
    """Read, expand, validate and complete a checks file.

    ``variables`` are the env profile's values and the environment, for ``${VAR}``. Raises
    :class:`ChecksError` (one line naming the file, the key and what is expected) for anything
    wrong with the file.
    """
    from pytest_smoke.checks.defaults import apply_defaults
    from pytest_smoke.checks.validation import check_version, validate

    location = Path(path)
    raw = _read(location)
    check_version(raw, location)
    secrets: set[str] = set()
    document = _expand(raw, variables, location, [], secrets)
    validate(document, raw, location)
    return Checks(apply_defaults(document), location, frozenset(secrets))


def _read(location: Path) -> dict[str, Any]:
    try:
        with location.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ChecksError(f"checks file {location}: cannot read it: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ChecksError(f"checks file {location}: not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ChecksError(f"checks file {location}: not valid TOML: not UTF-8 text") from None


def _expand(
    value: Any,
    variables: Mapping[str, str],
    location: Path,
    where: list[str | int],
    secrets: set[str],
) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in variables:
                from pytest_smoke.checks.validation import dotted

                raise ChecksError(
                    f"checks file {location}: {dotted(where)}: uses ${{{name}}}, which the env "
                    "profile does not set; add it to the profile or the environment"
                )
            if _secret_at(where) and variables[name]:
                secrets.add(variables[name])
            return variables[name]

        return _VARIABLE.sub(substitute, value)
    if isinstance(value, list):
        return [
            _expand(item, variables, location, [*where, index], secrets)
            for index, item in enumerate(value)
        ]
    if isinstance(value, dict):
        return {
            key: _expand(item, variables, location, [*where, key], secrets)
            for key, item in value.items()
        }
    return value


def _secret_at(where: list[str | int]) -> bool:
    """Whether a ``${VAR}`` value at ``where`` is a secret, to be masked in every output."""
    if not where:
        return False
    return where[0] in _SECRET_SECTIONS or (
        where[0] in _SECRET_HEADER_SECTIONS and "headers" in where[1:-1]
    )
