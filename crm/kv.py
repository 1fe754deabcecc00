"""A small key-value store: Redis when REDIS_URL is set, an in-process dict otherwise."""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Protocol

import redis

from crm.config import get_settings


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


class RedisStore:
    """KeyValueStore over a Redis server."""

    def __init__(self, client: redis.Redis, prefix: str = "jx:") -> None:
        self.client = client
        self.prefix = prefix

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


def redis_client(url: str) -> redis.Redis:
    """A Redis client with short timeouts: a slow Redis must not hold a WeChat callback."""
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


@lru_cache
def get_store() -> KeyValueStore:
    """The process-wide store for the configured REDIS_URL."""
    url = get_settings().redis_url
    return RedisStore(redis_client(url)) if url else MemoryStore()
