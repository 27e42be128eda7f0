"""Answers of ``GET /runs`` kept encoded, so that many dashboards and gates polling the history
cost one query per page and change, not one per request.

A page is keyed by the store's :attr:`~.store.RunStore.changes` (bumped by every write of this
service process) and the query, so a write makes every older page unreachable at once. A page
also expires ``seconds`` after it was made: the bound on how stale a page can be when another
service process writes the same PostgreSQL history. Requests for a page being made wait for
that one query instead of each starting its own.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from cachetools import TTLCache

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Hashable

#: Pages kept at most (the least recently used go first).
MAX_PAGES: Final = 256


class PageCache:
    """Encoded pages by key, each kept ``seconds`` at most; 0 keeps none."""

    def __init__(self, seconds: float, size: int = MAX_PAGES) -> None:
        """Keep up to ``size`` pages, each for ``seconds`` (0: make every page anew)."""
        self._seconds = seconds
        self._pages: TTLCache[Hashable, asyncio.Future[bytes]] = TTLCache(size, seconds or 1)

    async def page(self, key: Hashable, make: Callable[[], Awaitable[bytes]]) -> bytes:
        """The page kept for ``key``, or the one ``make()`` gives (kept unless it fails).

        A caller that gives up (its client went away) does not stop the page being made for
        the others; a failure reaches every caller waiting and is not kept.
        """
        if not self._seconds:
            return await make()
        pending = self._pages.get(key)
        if pending is None:
            pending = asyncio.ensure_future(make())
            self._pages[key] = pending
            pending.add_done_callback(lambda done: self._forget_failed(key, done))
        return await asyncio.shield(pending)

    def _forget_failed(self, key: Hashable, done: asyncio.Future[bytes]) -> None:
        if (done.cancelled() or done.exception() is not None) and self._pages.get(key) is done:
            del self._pages[key]
