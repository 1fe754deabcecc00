"""The delivery worker: sends due outbox items through the WeChat API, in order per user."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from bot.wechat_api import WeChatAPI, WeChatAPIError
from crm.db import session_scope
from crm.metrics import MESSAGES_OUT
from crm.outbox import service as outbox
from crm.outbox.models import OutboxItem

log = logging.getLogger(__name__)


class DeliveryWorker:
    """Drains the outbox; `wake()` makes it look at once instead of at the next poll."""

    def __init__(
        self, clients: dict[str, WeChatAPI], miniprogram_appids: set[str], poll_seconds: float = 1.0
    ) -> None:
        self.clients = clients
        self.miniprogram_appids = miniprogram_appids
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was enqueued."""
        self._wake.set()

    async def run_forever(self) -> None:
        """Deliver until cancelled."""
        await asyncio.to_thread(self._recover)
        while True:
            try:
                sent = await self.run_once()
            except Exception:  # a database hiccup must not stop delivery for good
                log.exception("delivery round failed")
                sent = 0
            if sent:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def run_once(self) -> int:
        """Send every item that is due now; returns how many were attempted."""
        items = await asyncio.to_thread(self._claim)
        for item in items:
            await self._send(item)
        return len(items)

    def _recover(self) -> None:
        with session_scope() as session:
            if count := outbox.recover_expired_leases(session):
                log.warning("recovered %d outbox items left mid-send", count)

    def _claim(self) -> list[OutboxItem]:
        with session_scope() as session:
            return outbox.claim_due(session)

    async def _send(self, item: OutboxItem) -> None:
        client = self.clients.get(item.appid)
        if client is None:
            await asyncio.to_thread(self._failed, item.id, None, "no client for appid", "fail")
            return
        try:
            result = await self._dispatch(client, item)
        except WeChatAPIError as exc:
            if exc.maybe_delivered and item.kind not in outbox.IDEMPOTENT_KINDS:
                # WeChat may have it: a second send could be a duplicate the customer sees.
                log.error("outbox %d to %s: %s; not repeated", item.id, item.openid, exc)
                await asyncio.to_thread(self._unknown, item.id, str(exc))
                return
            log.warning("outbox %d to %s: %s (%s)", item.id, item.openid, exc, exc.decision)
            if exc.decision == "alert":
                log.error("WeChat quota exhausted for %s: %s", item.appid, exc)
            await asyncio.to_thread(self._failed, item.id, exc.errcode, str(exc), exc.decision)
            if exc.decision == "fallback":
                self.wake()
            return
        msgid = result.get("msgid")
        await asyncio.to_thread(self._sent, item.id, int(msgid) if msgid else None)
        channel = "mp" if item.appid in self.miniprogram_appids else "oa"
        MESSAGES_OUT.labels(channel, item.kind).inc()

    async def _dispatch(self, client: WeChatAPI, item: OutboxItem) -> dict[str, Any]:
        if item.kind == "custom":
            return await client.send_custom(item.payload)
        if item.kind == "template":
            return await client.send_template(item.payload)
        if item.kind == "subscribe":
            return await client.send_subscribe(item.payload, item.appid in self.miniprogram_appids)
        raise WeChatAPIError(0, f"unknown outbox kind {item.kind}")

    def _sent(self, item_id: int, msgid: int | None) -> None:
        with session_scope() as session:
            outbox.mark_sent(session, item_id, msgid)

    def _unknown(self, item_id: int, error: str) -> None:
        with session_scope() as session:
            outbox.mark_unknown(session, item_id, error)

    def _failed(self, item_id: int, errcode: int | None, error: str, decision: str) -> None:
        with session_scope() as session:
            outbox.mark_failed(session, item_id, errcode, error, retry=decision == "retry")
            if decision == "fallback":  # outside the window: send the notification instead
                outbox.enqueue_fallback(session, item_id)
