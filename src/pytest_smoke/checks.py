"""The checks file: what the bundled suite checks on one deployment, in TOML.

Endpoints, the CRUD resource, the event channel, SQL for scratch rows: what cannot live in one
environment variable. ``${VAR}`` in any string is taken from the env profile (or the
environment); ``{marker}`` is left for the suite, which replaces it with a unique value per test
so that parallel runs never collide. A section the file does not have makes the tests that need
it skip, naming the section.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

_VARIABLE: Final = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ChecksError(ValueError):
    """A checks file that cannot be used; the message is one line naming file and fix."""


@dataclass(frozen=True)
class Checks:
    """A loaded checks file (empty when none is configured)."""

    data: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def get(self, dotted: str, default: Any = None) -> Any:
        """The value at ``section.key.subkey``, or ``default``."""
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node

    def section(self, dotted: str) -> Mapping[str, Any] | None:
        value = self.get(dotted)
        return value if isinstance(value, Mapping) else None


def load_checks(path: str | Path, variables: Mapping[str, str]) -> Checks:
    """Read and expand a checks file; raise :class:`ChecksError` on anything wrong with it."""
    location = Path(path)
    try:
        with location.open("rb") as handle:
            raw = tomllib.load(handle)
    except OSError as error:
        raise ChecksError(f"cannot read checks file {location}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ChecksError(f"checks file {location} is not valid TOML: {error}") from None
    return Checks(_expand(raw, variables, location), location)


def _expand(value: Any, variables: Mapping[str, str], location: Path) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in variables:
                raise ChecksError(
                    f"checks file {location} uses ${{{name}}}, which the env profile does not "
                    "set; add it to the profile or the environment"
                )
            return variables[name]

        return _VARIABLE.sub(substitute, value)
    if isinstance(value, list):
        return [_expand(item, variables, location) for item in value]
    if isinstance(value, dict):
        return {key: _expand(item, variables, location) for key, item in value.items()}
    return value
