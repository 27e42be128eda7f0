"""The loaded checks file: an immutable tree of values, read by dotted key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path


class ChecksError(ValueError):
    """A checks file that cannot be used; the message is one line naming file, key and fix."""


@dataclass(frozen=True)
class Checks:
    """A loaded checks file, with every documented default filled in (empty when none is set).

    ``data`` holds the file after ``${VAR}`` expansion, validation and defaults; ``path`` the file
    it came from; ``secret_values`` every value a ``${VAR}`` put into ``auth.*`` (passwords in
    the login body), for masking.
    """

    data: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None
    secret_values: frozenset[str] = frozenset()

    def get(self, dotted: str, default: Any = None) -> Any:
        """The value at ``section.key.subkey``, or ``default``."""
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node

    def section(self, dotted: str) -> Mapping[str, Any] | None:
        """The table at ``dotted``, or None when the file has no such table."""
        value = self.get(dotted)
        return value if isinstance(value, Mapping) else None

    def has(self, dotted: str) -> bool:
        """Whether ``dotted`` is set (defaults included) to something other than empty or false.

        ``0`` counts as set; ``None``, ``false``, ``""``, ``[]`` and ``{}`` do not.
        """
        value = self.get(dotted)
        if value is None or value is False:
            return False
        if isinstance(value, str | list | tuple | Mapping):
            return len(value) > 0
        return True
