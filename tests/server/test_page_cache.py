"""GET /runs pages kept encoded (pytest_smoke.server.page_cache): one query per page and
change, shared by the requests that wait for it, never a failure kept."""

from __future__ import annotations

import asyncio

import pytest

from pytest_smoke.server.page_cache import PageCache

pytestmark = pytest.mark.asyncio


class Maker:
    """A page maker that counts its calls and can be held back or made to fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.release.set()
        self.fail = False

    async def __call__(self) -> bytes:
        self.calls += 1
        await self.release.wait()
        if self.fail:
            raise RuntimeError("the history is down")
        return f"page {self.calls}".encode()


async def test_a_page_is_made_once_per_key() -> None:
    pages, make = PageCache(60), Maker()
    assert await pages.page((1, "staging"), make) == b"page 1"
    assert await pages.page((1, "staging"), make) == b"page 1"
    assert await pages.page((2, "staging"), make) == b"page 2"  # the history changed
    assert await pages.page((2, "prod"), make) == b"page 3"
    assert make.calls == 3


async def test_concurrent_requests_share_one_query() -> None:
    pages, make = PageCache(60), Maker()
    make.release.clear()
    waiting = [asyncio.create_task(pages.page("key", make)) for _ in range(50)]
    await asyncio.sleep(0.01)
    make.release.set()
    assert set(await asyncio.gather(*waiting)) == {b"page 1"}
    assert make.calls == 1


async def test_a_failure_reaches_the_waiting_and_is_not_kept() -> None:
    pages, make = PageCache(60), Maker()
    make.fail = True
    make.release.clear()
    waiting = [asyncio.create_task(pages.page("key", make)) for _ in range(3)]
    await asyncio.sleep(0.01)
    make.release.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)
    make.fail = False
    assert await pages.page("key", make) == b"page 2"


async def test_a_caller_that_gives_up_does_not_stop_the_page_for_others() -> None:
    pages, make = PageCache(60), Maker()
    make.release.clear()
    leaving = asyncio.create_task(pages.page("key", make))
    staying = asyncio.create_task(pages.page("key", make))
    await asyncio.sleep(0.01)
    leaving.cancel()
    make.release.set()
    assert await staying == b"page 1"
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert await pages.page("key", make) == b"page 1"


async def test_a_page_expires_after_its_seconds() -> None:
    pages, make = PageCache(0.05), Maker()
    assert await pages.page("key", make) == b"page 1"
    await asyncio.sleep(0.1)
    assert await pages.page("key", make) == b"page 2"


async def test_zero_seconds_keeps_nothing() -> None:
    pages, make = PageCache(0), Maker()
    assert await pages.page("key", make) == b"page 1"
    assert await pages.page("key", make) == b"page 2"
