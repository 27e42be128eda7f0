"""redis_client / event_bus against the real Redis on this machine."""

from __future__ import annotations

import socket
import time
import uuid

import pytest

# Imported before any pytester run: pytester drops modules first imported during a test.
import redis
import redis.asyncio

from .conftest import run

REDIS_URL = "redis://127.0.0.1:6379/0"


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


needs_redis = pytest.mark.skipif(not _listening(6379), reason="needs Redis on 127.0.0.1:6379")


def keys_with_prefix(prefix: str) -> list[str]:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        return list(client.scan_iter(match=f"{prefix}*"))
    finally:
        client.close()


def project(
    pytester: pytest.Pytester, *, mode: str = "strict", loop: str = "function", profile: str = ""
) -> str:
    prefix = f"smoke-fixture-test-{uuid.uuid4().hex[:8]}"
    pytester.makeini(
        "[pytest]\n"
        f"asyncio_mode = {mode}\n"
        "asyncio_default_fixture_loop_scope = function\n"
        f"asyncio_default_test_loop_scope = {loop}\n"
    )
    pytester.makefile(
        ".bus",
        **{
            ".env": profile
            or (f"SMOKE_TEST_REDIS_URL={REDIS_URL}\nSMOKE_TEST_REDIS_PREFIX={prefix}\n")
        },
    )
    return prefix


EVENT_FLOWS = """
    import asyncio
    import pytest

    pytestmark = [pytest.mark.smoke, pytest.mark.redis{marker}]

    async def test_publish_subscribe(event_bus):
        async with event_bus.subscribe("orders") as first, event_bus.subscribe("orders") as second:
            await event_bus.publish("orders", {{"id": 1}})
            assert await first.next(timeout=2) == {{"id": 1}}
            assert await second.next(timeout=2) == {{"id": 1}}

    async def test_persisted_event_has_a_ttl(event_bus):
        await event_bus.store("last-order", {{"id": 2}})
        assert await event_bus.load("last-order") == {{"id": 2}}
        assert 0 < await event_bus.ttl("last-order") <= 300

    async def test_queue_leaves_keys_then_fails(event_bus):
        await event_bus.ensure_group("jobs", "workers")
        await event_bus.enqueue("jobs", {{"job": 1}})
        assert await event_bus.keys()
        raise AssertionError("a failing test must not leave its keys behind")

    async def test_client_pings(redis_client):
        assert await redis_client.ping()
"""


@needs_redis
@pytest.mark.parametrize("mode", ["strict", "auto"])
@pytest.mark.parametrize("loop", ["function", "session"])
def test_event_flows_leave_no_keys(pytester: pytest.Pytester, mode: str, loop: str) -> None:
    prefix = project(pytester, mode=mode, loop=loop)
    marker = ", pytest.mark.asyncio" if mode == "strict" else ""
    pytester.makepyfile(EVENT_FLOWS.format(marker=marker))
    result = pytester.runpytest("--smoke-env", "bus", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)
    assert keys_with_prefix(prefix) == []


@needs_redis
def test_event_flows_under_xdist(pytester: pytest.Pytester) -> None:
    prefix = project(pytester, loop="session")
    pytester.makepyfile(EVENT_FLOWS.format(marker=", pytest.mark.asyncio"))
    result = run(pytester, ("-n", "2"), "--smoke-env", "bus")
    result.assert_outcomes(passed=3, failed=1)
    assert keys_with_prefix(prefix) == []


@needs_redis
def test_no_keys_left_after_a_pytest_timeout_interrupt(pytester: pytest.Pytester) -> None:
    prefix = project(pytester)
    pytester.makepyfile("""
        import asyncio
        import pytest

        @pytest.mark.asyncio
        @pytest.mark.timeout(1, method="signal")
        async def test_stuck(event_bus):
            await event_bus.store("half-done", {"step": 1})
            await asyncio.sleep(30)
    """)
    result = pytester.runpytest_subprocess("--smoke-env", "bus")
    result.assert_outcomes(failed=1)
    assert keys_with_prefix(prefix) == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_redis_fails_fast_once_under_one_cause(pytester: pytest.Pytester) -> None:
    port = closed_port()
    project(pytester, profile=f"SMOKE_TEST_REDIS_URL=redis://:pw-planted-2@127.0.0.1:{port}/0\n")
    pytester.makepyfile("""
        import pytest
        pytestmark = [pytest.mark.smoke, pytest.mark.redis, pytest.mark.asyncio]
        @pytest.mark.parametrize("i", range(4))
        async def test_bus(event_bus, i): pass
    """)
    started = time.monotonic()
    result = pytester.runpytest("--smoke-env", "bus", "--smoke-gate")
    assert time.monotonic() - started < 5
    result.assert_outcomes(errors=4)
    assert result.ret == 11
    result.stdout.fnmatch_lines(
        [f"causes:  redis unreachable at 127.0.0.1:{port}: connection refused (4 failed)"]
    )
    assert "pw-planted-2" not in result.stdout.str()


def test_not_configured_skips_naming_the_setting(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        @pytest.mark.asyncio
        async def test_bus(event_bus): pass
    """)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*SMOKE_TEST_REDIS_URL is not set in the env profile"])


def test_fixtures_are_documented(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures")
    for name in ("redis_client", "event_bus"):
        result.stdout.fnmatch_lines([f"{name} -- *"])
