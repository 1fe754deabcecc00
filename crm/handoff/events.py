"""Back-office live updates: Redis pub/sub between processes, an in-process bus without Redis."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any

import redis
import redis.asyncio as aredis

from crm.config import get_settings
from crm.kv import redis_client

log = logging.getLogger(__name__)
CHANNEL = "jx:backoffice"

# Without Redis (the embedded default) everything runs in one api process: local subscribers.
_local: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]] = set()
_local_lock = threading.Lock()


def publish(kind: str, **fields: Any) -> None:
    """Tell every open back-office page that something changed (best effort, never raises)."""
    event = {"kind": kind, **fields}
    url = get_settings().redis_url
    if url:
        try:
            _publisher(url).publish(CHANNEL, json.dumps(event, ensure_ascii=False))
        except redis.RedisError as exc:  # pages also refresh on their own; losing one is fine
            log.warning("back-office event %s not published: %s", kind, exc)
        return
    with _local_lock:
        targets = list(_local)
    for loop, queue in targets:
        loop.call_soon_threadsafe(queue.put_nowait, event)


@lru_cache
def _publisher(url: str) -> redis.Redis:
    return redis_client(url)


async def subscribe(heartbeat_seconds: float = 15.0) -> AsyncIterator[dict[str, Any] | None]:
    """Events as they are published; None every `heartbeat_seconds` of silence (keep-alive)."""
    url = get_settings().redis_url
    if url:
        async for event in _redis_events(url, heartbeat_seconds):
            yield event
        return
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    entry = (asyncio.get_running_loop(), queue)
    with _local_lock:
        _local.add(entry)
    try:
        while True:
            try:
                yield await asyncio.wait_for(queue.get(), heartbeat_seconds)
            except TimeoutError:
                yield None
    finally:
        with _local_lock:
            _local.discard(entry)


async def _redis_events(url: str, heartbeat_seconds: float) -> AsyncIterator[dict[str, Any] | None]:
    client = aredis.Redis.from_url(url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(CHANNEL)
        while True:
            message = await pubsub.get_message(timeout=heartbeat_seconds)
            if message is None:
                yield None
                continue
            try:
                yield json.loads(message["data"])
            except (TypeError, ValueError):
                log.warning("malformed back-office event ignored")
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await client.aclose()
