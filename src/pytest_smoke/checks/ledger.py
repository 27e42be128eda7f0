"""The ledger of what a check created on the deployment, so that nothing is left behind unseen.

A resource goes on the ledger the moment the deployment answered its create, and comes off only
when its delete was answered with a status meaning "deleted" or "already gone". Whatever is
still on it when the check ends was left behind, and is reported by URL with the answer its
delete got::

    https://api.example.com/api/items/42 (DELETE -> 500)
"""

from __future__ import annotations

from typing import Final

#: What a resource still on the ledger shows when no delete of it was attempted.
NOT_DELETED: Final = "not deleted"


class Ledger:
    """The URLs of the resources one check created and has not yet deleted, in creation order."""

    def __init__(self) -> None:
        # URL -> what the last attempt to delete it got, or NOT_DELETED
        self._entries: dict[str, str] = {}

    def created(self, url: str) -> None:
        """Record that the resource at ``url`` now exists because of this check."""
        self._entries.setdefault(url, NOT_DELETED)

    def removed(self, url: str) -> None:
        """Record that the resource at ``url`` was deleted (or was already gone)."""
        self._entries.pop(url, None)

    def not_removed(self, url: str, outcome: str) -> None:
        """Record that deleting ``url`` failed, e.g. ``outcome="DELETE -> 500"``; it stays."""
        self._entries[url] = outcome

    def __contains__(self, url: object) -> bool:
        return url in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def urls(self) -> list[str]:
        """The URLs still on the ledger."""
        return list(self._entries)

    def left_behind(self) -> list[str]:
        """One line per resource still on the ledger: ``"<url> (<outcome>)"``."""
        return [f"{url} ({outcome})" for url, outcome in self._entries.items()]
