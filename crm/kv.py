"""A small key-value store: Redis when REDIS_URL is set, an in-process dict otherwise."""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import redis

from crm.config import get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateDecision:
    """One hit on a fixed-window counter: allowed, hits left, seconds until the window ends."""

    allowed: bool
    remaining: int
    retry_after: int


def _decision(count: int, limit: int, ttl_seconds: float) -> RateDecision:
    return RateDecision(count <= limit, max(0, limit - count), max(1, math.ceil(ttl_seconds)))


# INCRBY and the window's expiry in one atomic step; cost 0 only reads (a peek creates nothing).
_HIT = """
local cost = tonumber(ARGV[1])
if cost == 0 then
  return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('PTTL', KEYS[1])}
end
local count = redis.call('INCRBY', KEYS[1], cost)
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {count, ttl}
"""


class KeyValueStore(Protocol):
    """What the runtime needs from Redis: atomic claims and short-lived values."""

    def claim(self, key: str, ttl_seconds: int) -> bool:
        """Set `key` only if absent; True when this caller won the claim."""
        ...

    def release(self, key: str) -> None:
        """Give up a claim (the work it guarded failed and may be retried)."""
        ...

    def get(self, key: str) -> str | None:
        """The value of `key`, or None."""
        ...

    def set(self, key: str, value: str, ttl_seconds: int) -> None:
        """Set `key` to `value` for `ttl_seconds`."""
        ...

    def ping(self) -> bool:
        """True when the store answers."""
        ...

    def hit(self, key: str, limit: int, window_seconds: int, cost: int = 1) -> RateDecision:
        """Count `cost` hits on `key`'s window (0: only look)."""
        ...


class RedisStore:
    """KeyValueStore over a Redis server; its errors (redis.RedisError) are the caller's."""

    def __init__(self, client: redis.Redis, prefix: str = "jx:") -> None:
        self.client = client
        self.prefix = prefix
        self._hit = client.register_script(_HIT)

    def claim(self, key: str, ttl_seconds: int) -> bool:
        return bool(self.client.set(self.prefix + key, "1", nx=True, ex=ttl_seconds))

    def release(self, key: str) -> None:
        self.client.delete(self.prefix + key)

    def get(self, key: str) -> str | None:
        value = self.client.get(self.prefix + key)
        return value.decode() if isinstance(value, bytes) else value

    def set(self, key: str, value: str, ttl_seconds: int) -> None:
        self.client.set(self.prefix + key, value, ex=ttl_seconds)

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    def hit(self, key: str, limit: int, window_seconds: int, cost: int = 1) -> RateDecision:
        count, ttl_ms = self._hit(keys=[self.prefix + key], args=[cost, window_seconds * 1000])
        ttl = ttl_ms / 1000 if ttl_ms > 0 else window_seconds
        return _decision(int(count), limit, ttl)


class MemoryStore:
    """KeyValueStore in this process: the embedded default for a single api process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, tuple[str, float]] = {}

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None or item[1] < time.monotonic():
            self._data.pop(key, None)
            return None
        return item[0]

    def claim(self, key: str, ttl_seconds: int) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._data[key] = ("1", time.monotonic() + ttl_seconds)
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._live(key)

    def set(self, key: str, value: str, ttl_seconds: int) -> None:
        with self._lock:
            self._data[key] = (value, time.monotonic() + ttl_seconds)

    def ping(self) -> bool:
        return True

    def hit(self, key: str, limit: int, window_seconds: int, cost: int = 1) -> RateDecision:
        key = f"hits:{key}"  # apart from claim/get/set values
        now = time.monotonic()
        with self._lock:
            value = self._live(key)
            count = int(value) + cost if value is not None else cost
            expires = self._data[key][1] if value is not None else now + window_seconds
            if cost or value is not None:
                self._data[key] = (str(count), expires)
        return _decision(count, limit, expires - now)


class ResilientStore:
    """Redis, with this process's memory standing in while Redis is down.

    A failed call switches to the stand-in for `retry_seconds` (so only one request pays a
    timeout), then Redis is tried again: recovery needs no restart. While Redis is away,
    delivery claims and rate limits are only per process; the database's unique delivery key
    still refuses a second copy of a push, and tokens and sessions are fetched or made again as
    needed. No call raises a Redis error: a limiter never holds a callback.
    """

    def __init__(self, primary: RedisStore, retry_seconds: float = 5.0) -> None:
        self.primary = primary
        self.standin = MemoryStore()
        self.retry_seconds = retry_seconds
        self._down_until = 0.0
        self._lock = threading.Lock()

    @property
    def degraded(self) -> bool:
        """True while the stand-in answers."""
        return self._down_until > 0.0

    def _store(self) -> KeyValueStore:
        return self.primary if time.monotonic() >= self._down_until else self.standin

    def _run(self, name: str, *args: object) -> object:
        store = self._store()
        if store is self.primary:
            try:
                result = getattr(self.primary, name)(*args)
            except redis.RedisError as exc:
                with self._lock:
                    if not self.degraded:
                        log.error("Redis unavailable (%s): running on process memory", exc)
                    self._down_until = time.monotonic() + self.retry_seconds
            else:
                if self.degraded:
                    with self._lock:
                        self._down_until = 0.0
                    log.warning("Redis answers again: back on Redis")
                return result
        return getattr(self.standin, name)(*args)

    def claim(self, key: str, ttl_seconds: int) -> bool:
        return bool(self._run("claim", key, ttl_seconds))

    def release(self, key: str) -> None:
        self._run("release", key)

    def get(self, key: str) -> str | None:
        value = self._run("get", key)
        return None if value is None else str(value)

    def set(self, key: str, value: str, ttl_seconds: int) -> None:
        self._run("set", key, value, ttl_seconds)

    def ping(self) -> bool:
        return self.primary.ping()

    def hit(self, key: str, limit: int, window_seconds: int, cost: int = 1) -> RateDecision:
        decision = self._run("hit", key, limit, window_seconds, cost)
        assert isinstance(decision, RateDecision)
        return decision


def redis_client(url: str) -> redis.Redis:
    """A Redis client with short timeouts: a slow Redis must not hold a WeChat callback."""
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


@lru_cache
def get_store() -> KeyValueStore:
    """The process-wide store for the configured REDIS_URL."""
    url = get_settings().redis_url
    return ResilientStore(RedisStore(redis_client(url))) if url else MemoryStore()
