"""The lock store and the shared rate limits on a real Redis (Debian's redis-server)."""

from __future__ import annotations

import asyncio
import time

import pytest
from rasa.core.lock_store import InMemoryLockStore, RedisLockStore

from rasa_addons.lock_store import KEY_PREFIX, NeedlewiseLockStore, NeedlewiseRedisLockStore, redis_lock_store
from rasa_addons.rate_limits import RateLimits
from servers.stack import free_port

LIFETIME = 2.0


def test_the_lock_store_is_redis_when_a_url_is_set_and_in_memory_otherwise(monkeypatch, redis_url):
    from needlewise import settings

    assert isinstance(NeedlewiseLockStore(), InMemoryLockStore)
    monkeypatch.setenv("LOCK_STORE_URL", redis_url)
    settings.current.cache_clear()
    store = NeedlewiseLockStore()
    assert isinstance(store, NeedlewiseRedisLockStore) and store.red.ping()


async def _wait_behind_a_dead_holder(waiting: RedisLockStore, dead: RedisLockStore, conversation: str) -> float:
    dead.issue_ticket(conversation, LIFETIME)  # a turn whose Rasa server died: never released
    started = time.monotonic()
    ticket = waiting.issue_ticket(conversation, LIFETIME)  # queued in the same second
    await asyncio.wait_for(waiting._acquire_lock(conversation, ticket, 0.2), timeout=4 * LIFETIME)
    waiting.cleanup(conversation, ticket)
    return time.monotonic() - started


async def test_a_turn_behind_a_dead_servers_turn_goes_on_when_that_lock_runs_out(redis_url):
    ours, other = redis_lock_store(redis_url), redis_lock_store(redis_url)
    waited = await _wait_behind_a_dead_holder(ours, other, "behind-dead")
    assert LIFETIME * 0.8 <= waited < LIFETIME * 2
    assert ours.get_lock("behind-dead") is None  # nothing left behind


async def test_rasas_own_redis_lock_store_waits_for_ever_there(redis_url):
    """The flaw the Needlewise lock store mends (so the test above can tell)."""
    from redis.connection import parse_url

    options = parse_url(redis_url)
    stock = RedisLockStore(host=options["host"], port=options["port"], db=options["db"], key_prefix=KEY_PREFIX)
    with pytest.raises(asyncio.TimeoutError):
        await _wait_behind_a_dead_holder(stock, redis_lock_store(redis_url), "stock-behind-dead")


async def test_two_turns_of_one_conversation_on_two_servers_take_turns(redis_url):
    first, second = redis_lock_store(redis_url), redis_lock_store(redis_url)
    order = []

    async def turn(store: RedisLockStore, name: str) -> None:
        async with store.lock("two-servers", lock_lifetime=10, wait_time_in_seconds=0.05):
            order.append(f"{name} starts")
            await asyncio.sleep(0.3)
            order.append(f"{name} ends")

    await asyncio.gather(turn(first, "a"), turn(second, "b"))
    assert order in (["a starts", "a ends", "b starts", "b ends"], ["b starts", "b ends", "a starts", "a ends"])


async def test_rate_limits_are_shared_by_the_servers(redis_url):
    one, two = RateLimits(3, 100, redis_url), RateLimits(3, 100, redis_url)
    allowed = [await (one if n % 2 else two).allow("shared-sender", "198.51.100.1") for n in range(5)]
    assert allowed == [True, True, True, False, False]
    assert await one.allow("another-sender", "198.51.100.1")


async def test_without_redis_each_server_counts_on_its_own():
    down = RateLimits(2, 100, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    assert [await down.allow("lonely", "") for _ in range(3)] == [True, True, False]
