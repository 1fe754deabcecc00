"""Routes one inbound push: dedup, store, ask Rasa within the reply budget, deliver the answer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot import replies
from bot.rasa_client import BotTurn, RasaClient, RasaUnavailable
from bot.wechat import Push
from crm.conversations import service as conversations
from crm.conversations.schemas import InboundMessage
from crm.db import session_scope
from crm.kv import KeyValueStore

log = logging.getLogger(__name__)

# Message types a customer sends on purpose: they get a polite answer even when not text.
ANSWERED_TYPES = {"image", "voice", "video", "shortvideo", "location", "link"}

# Sends one customer-service text (openid, text); runs in a worker thread.
SendText = Callable[[str, str], None]


@dataclass(frozen=True)
class Stored:
    """Ids of a stored inbound message."""

    message_id: int
    conversation_id: int


class ChannelRuntime:
    """The bot side of one WeChat account (appid)."""

    def __init__(
        self,
        *,
        appid: str,
        channel: str,
        store: KeyValueStore,
        rasa: RasaClient,
        send_text: SendText,
        budget_seconds: float,
        dedup_ttl_seconds: int = 600,
    ) -> None:
        self.appid = appid
        self.channel = channel
        self.store = store
        self.rasa = rasa
        self.send_text = send_text
        self.budget = budget_seconds
        self.dedup_ttl = dedup_ttl_seconds
        self._background: set[asyncio.Task[None]] = set()

    async def handle(self, push: Push) -> str | None:
        """The passive reply text for `push`, or None to answer `success`."""
        started = time.monotonic()
        claim = f"wx:{self.appid}:{push.dedup_key}"
        if not self.store.claim(claim, self.dedup_ttl):
            log.info("duplicate delivery %s ignored", push.dedup_key)
            return None
        try:
            stored = await asyncio.to_thread(self._store_inbound, push)
        except Exception:
            self.store.release(claim)  # not stored: WeChat's retry must get through
            raise
        if stored is None:
            return None
        text = push.text
        if push.msg_type == "event":
            return (
                await self._reply_now(stored, replies.WELCOME)
                if push.event == "subscribe"
                else None
            )
        if not text:
            if push.msg_type in ANSWERED_TYPES:
                return await self._reply_now(stored, replies.NON_TEXT)
            return None  # unknown types: kept, answered `success`
        # The budget counts from the push's arrival, not from when Rasa is asked.
        remaining = max(0.0, self.budget - (time.monotonic() - started))
        return await self._ask_rasa(push, stored, text, remaining)

    async def _ask_rasa(self, push: Push, stored: Stored, text: str, budget: float) -> str | None:
        sender = f"{self.appid}:{push.openid}"
        metadata = {"appid": self.appid, "channel": self.channel, "openid": push.openid}
        task = asyncio.create_task(self.rasa.send(sender, text, metadata))
        try:
            turn = await asyncio.wait_for(asyncio.shield(task), budget)
        except TimeoutError:
            log.warning("no answer within %.1f s for %s: replying later", self.budget, sender)
            self._keep(self._deliver_later(task, push.openid, stored))
            return None
        except RasaUnavailable as exc:
            log.error("Rasa unavailable: %s", exc)
            return await self._reply_now(stored, replies.BUSY)
        answer = _join(turn)
        return await self._reply_now(stored, answer) if answer else None

    async def _reply_now(self, stored: Stored, text: str) -> str:
        await asyncio.to_thread(self._store_outbound, stored, text, "passive", "sent")
        return text

    async def _deliver_later(self, task: Awaitable[BotTurn], openid: str, stored: Stored) -> None:
        try:
            answer = _join(await task)
        except RasaUnavailable as exc:
            log.error("Rasa unavailable after timeout: %s", exc)
            answer = replies.BUSY
        if not answer:
            return
        out_id = await asyncio.to_thread(self._store_outbound, stored, answer, "custom", "pending")
        try:
            await asyncio.to_thread(self.send_text, openid, answer)
        except Exception as exc:  # a failed send is recorded, never raised into the loop
            log.error("customer-service send failed: %s", exc)
            await asyncio.to_thread(self._set_status, out_id, "failed", str(exc))
        else:
            await asyncio.to_thread(self._set_status, out_id, "sent", None)

    def _keep(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for replies still being delivered (shutdown, tests)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    def _store_inbound(self, push: Push) -> Stored | None:
        inbound = InboundMessage(
            appid=self.appid,
            channel=self.channel,
            openid=push.openid,
            msg_type=push.msg_type,
            content=push.summary,
            dedup_key=push.dedup_key,
            wechat_msg_id=push.wechat_msg_id,
            raw=push.xml,
        )
        try:
            with session_scope() as session:
                message = conversations.record_inbound(session, inbound)
                return Stored(message.id, message.conversation_id)
        except conversations.DuplicateDelivery:
            log.info("push %s already stored", push.dedup_key)
            return None

    def _store_outbound(self, stored: Stored, text: str, delivery: str, status: str) -> int:
        with session_scope() as session:
            reply_to = conversations.get_message(session, stored.message_id)
            return conversations.record_outbound(session, reply_to, text, delivery, status).id

    def _set_status(self, message_id: int, status: str, error: str | None) -> None:
        with session_scope() as session:
            conversations.set_delivery_status(session, message_id, status, error)


def _join(turn: BotTurn) -> str:
    return "\n\n".join(t.strip() for t in turn.texts if t.strip())
