"""The delivery worker: sends due outbox items through the WeChat API, in order per user."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from bot.wechat_api import WeChatAPI, WeChatAPIError
from crm.db import session_scope
from crm.metrics import MESSAGES_OUT
from crm.outbox import service as outbox
from crm.outbox.models import OutboxItem

log = logging.getLogger(__name__)

# How long a round waits, once woken, for more answers to go out with the first.
GATHER_SECONDS = 0.05


@dataclass(frozen=True)
class Outcome:
    """What became of one send: sent, unknown (WeChat may have it) or failed."""

    item: OutboxItem
    status: str
    errcode: int | None = None
    error: str = ""
    decision: str = ""
    msgid: int | None = None


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
        """Deliver until cancelled.

        A round starts when something is enqueued (or at the next poll), a moment later than
        that (GATHER_SECONDS), so that answers coming in one after the other go out together;
        a round after a full one starts at once. Under overload a round per answer, and the
        empty claim that followed it, were three transactions for every deferred answer."""
        await asyncio.to_thread(self._recover)
        while True:
            # Cleared before the claim: what is enqueued from now on is seen after this round.
            self._wake.clear()
            try:
                sent = await self.run_once()
            except Exception:  # a database hiccup must not stop delivery for good
                log.exception("delivery round failed")
                sent = 0
            if sent >= outbox.CLAIM_LIMIT:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            await asyncio.sleep(GATHER_SECONDS)

    async def run_once(self) -> int:
        """Send every item that is due now; returns how many were attempted.

        A round holds at most one item per recipient (claim_due gives each recipient's oldest
        unfinished item only), so its items go out side by side without breaking anyone's
        order, and what became of them is recorded in one transaction."""
        items = await asyncio.to_thread(self._claim)
        if not items:
            return 0
        outcomes = await asyncio.gather(*(self._send(item) for item in items))
        await asyncio.to_thread(self._record, outcomes)
        for outcome in outcomes:
            if outcome.status == "sent":
                channel = "mp" if outcome.item.appid in self.miniprogram_appids else "oa"
                MESSAGES_OUT.labels(channel, outcome.item.kind).inc()
            elif outcome.decision == "fallback":
                self.wake()
        return len(items)

    def _recover(self) -> None:
        with session_scope() as session:
            if count := outbox.recover_expired_leases(session):
                log.warning("recovered %d outbox items left mid-send", count)

    def _claim(self) -> list[OutboxItem]:
        with session_scope() as session:
            return outbox.claim_due(session)

    async def _send(self, item: OutboxItem) -> Outcome:
        client = self.clients.get(item.appid)
        if client is None:
            return Outcome(item, "failed", error="no client for appid", decision="fail")
        try:
            result = await self._dispatch(client, item)
        except WeChatAPIError as exc:
            if exc.maybe_delivered and item.kind not in outbox.IDEMPOTENT_KINDS:
                # WeChat may have it: a second send could be a duplicate the customer sees.
                log.error("outbox %d to %s: %s; not repeated", item.id, item.openid, exc)
                return Outcome(item, "unknown", error=str(exc))
            log.warning("outbox %d to %s: %s (%s)", item.id, item.openid, exc, exc.decision)
            if exc.decision == "alert":
                log.error("WeChat quota exhausted for %s: %s", item.appid, exc)
            return Outcome(item, "failed", exc.errcode, str(exc), exc.decision)
        msgid = result.get("msgid")
        return Outcome(item, "sent", msgid=int(msgid) if msgid else None)

    async def _dispatch(self, client: WeChatAPI, item: OutboxItem) -> dict[str, Any]:
        if item.kind == "custom":
            return await client.send_custom(item.payload)
        if item.kind == "template":
            return await client.send_template(item.payload)
        if item.kind == "subscribe":
            return await client.send_subscribe(item.payload, item.appid in self.miniprogram_appids)
        raise WeChatAPIError(0, f"unknown outbox kind {item.kind}")

    def _record(self, outcomes: list[Outcome]) -> None:
        with session_scope() as session:
            outbox.preload(session, [o.item.id for o in outcomes])
            for o in outcomes:
                if o.status == "sent":
                    outbox.mark_sent(session, o.item.id, o.msgid)
                elif o.status == "unknown":
                    outbox.mark_unknown(session, o.item.id, o.error)
                else:
                    retry = o.decision == "retry"
                    outbox.mark_failed(session, o.item.id, o.errcode, o.error, retry=retry)
                    if o.decision == "fallback":  # outside the window: send the notification
                        outbox.enqueue_fallback(session, o.item.id)
