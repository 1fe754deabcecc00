"""The fixed-window limiter of crm.kv, on Redis and in process."""

from __future__ import annotations

import time

import pytest
import redis

from crm.kv import KeyValueStore, MemoryStore, RedisStore, ResilientStore, redis_client


@pytest.fixture(params=["redis", "memory"])
def store(request: pytest.FixtureRequest, redis_db: redis.Redis) -> KeyValueStore:
    return RedisStore(redis_db) if request.param == "redis" else MemoryStore()


def test_allows_the_limit_then_refuses_until_the_window_ends(store: KeyValueStore) -> None:
    decisions = [store.hit("rl:test", 3, 60) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0, 0]
    assert all(1 <= d.retry_after <= 60 for d in decisions)
    assert store.hit("rl:other", 3, 60).allowed  # keys are counted apart


def test_a_new_window_starts_afresh(store: KeyValueStore) -> None:
    assert [store.hit("rl:short", 1, 1).allowed for _ in range(2)] == [True, False]
    time.sleep(1.1)
    assert store.hit("rl:short", 1, 1).allowed


def test_cost_zero_looks_without_counting(store: KeyValueStore) -> None:
    assert store.hit("rl:peek", 2, 60, cost=0).remaining == 2
    store.hit("rl:peek", 2, 60)
    store.hit("rl:peek", 2, 60)
    assert store.hit("rl:peek", 2, 60, cost=0).remaining == 0
    assert store.hit("rl:peek", 2, 60, cost=0).allowed  # looking never goes over


def test_the_redis_window_is_one_key_with_an_expiry(redis_db: redis.Redis) -> None:
    store = RedisStore(redis_db)
    store.hit("rl:key", 5, 60)
    store.hit("rl:key", 5, 60)
    assert redis_db.get("jx:rl:key") == b"2"
    assert 0 < redis_db.pttl("jx:rl:key") <= 60_000
    redis_db.delete("jx:rl:key")  # the window rolls over when the key goes
    assert store.hit("rl:key", 5, 60).remaining == 4


def test_a_dead_redis_counts_in_process_quickly() -> None:
    dead = RedisStore(redis_client("redis://127.0.0.1:9/0"))  # nothing listens there
    with pytest.raises(redis.RedisError):  # Redis alone: what to do about it is the caller's
        dead.hit("rl:down", 2, 60)
    store = ResilientStore(dead)
    started = time.monotonic()
    decisions = [store.hit("rl:down", 2, 60) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]  # still limited, in memory
    assert store.degraded
    assert time.monotonic() - started < 3
