"""Routes one inbound push: dedup, store, decide, ask Rasa within the budget, deliver replies."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from bot import replies, routing
from bot.plans import Plan, apply_effects, plan_for
from bot.rasa_client import BotTurn, RasaClient, RasaUnavailable
from bot.spool import Spool
from bot.wechat import Push
from crm.conversations import service as conversations
from crm.conversations.schemas import InboundMessage
from crm.conversations.service import Received
from crm.customers import service as customers
from crm.customers.models import WechatIdentity
from crm.db import session_scope
from crm.handoff import events
from crm.kv import KeyValueStore, RateDecision
from crm.metrics import REPLIES_DEFERRED

log = logging.getLogger(__name__)


# Seconds kept back from the budget to store and seal a passive reply once Rasa has answered.
REPLY_RESERVE = 0.5
# The window of the per-openid message limit.
LIMIT_WINDOW_SECONDS = 60
# A person's unionid is looked up once a day at most (over every process); a process that
# finds the lookup claimed by another asks the store again after a while, not at every push.
UNIONID_LOOKUP_SECONDS = 86400
UNIONID_ASK_AGAIN_SECONDS = 600
# People whose claim this process remembers (all forgotten at once beyond this).
UNIONID_CLAIMS_KEPT = 100_000


@dataclass(frozen=True)
class Stored:
    """A stored inbound message and what to do about it."""

    message: Received
    plan: Plan
    needs_unionid: bool
    # A handoff ended since the bot last spoke: Rasa's tracker must be resumed first.
    resume: bool = False


@dataclass(frozen=True)
class Arrival:
    """A push claimed and stored: whether its sender is over the limit, and whether their
    unionid is to be looked up now."""

    stored: Stored
    over: RateDecision | None
    link_unionid: bool


class ChannelRuntime:
    """The bot side of one WeChat account (appid)."""

    def __init__(
        self,
        *,
        appid: str,
        channel: str,
        store: KeyValueStore,
        rasa: RasaClient,
        wake_delivery: Callable[[], None],
        budget_seconds: float,
        passive_replies: bool = True,
        dedup_ttl_seconds: int = 600,
        messages_per_minute: int = 20,
        lookup_unionid: Callable[[str], Awaitable[str | None]] | None = None,
        typing: Callable[[str], Awaitable[None]] | None = None,
        spool: Spool | None = None,
    ) -> None:
        self.appid = appid
        self.channel = channel
        self.store = store
        self.rasa = rasa
        self.wake_delivery = wake_delivery
        self.budget = budget_seconds
        self.passive_replies = passive_replies
        self.dedup_ttl = dedup_ttl_seconds
        self.messages_per_minute = messages_per_minute
        self.lookup_unionid = lookup_unionid
        self.typing = typing
        self.spool = spool
        # One lock per user while any of their messages is in flight (weak: no leak).
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._background: set[asyncio.Task[None]] = set()
        # Stored messages this process is asking Rasa about right now.
        self._in_flight: set[int] = set()
        # Identity id → until when its unionid lookup is known to be claimed (no store call).
        self._unionid_claimed: dict[int, float] = {}

    async def handle(self, push: Push, received_at: float | None = None) -> str | None:
        """The passive reply text for `push`, or None to answer `success`.

        `received_at` (time.monotonic()) is when the request arrived: the budget counts from it.
        """
        started = received_at or time.monotonic()
        claim = f"wx:{self.appid}:{push.dedup_key}"
        try:
            arrival = await asyncio.wait_for(
                asyncio.to_thread(self._arrive, push, claim), self._store_budget(started)
            )
        except Exception as exc:  # the database is down or too slow: keep the push on disk
            return await self._spool(push, claim, exc)
        if arrival is None:
            return None
        stored, over = arrival.stored, arrival.over
        if arrival.link_unionid:
            self._keep(self._link_unionid(stored.message.identity_id, push.openid))
        if over is not None:
            await asyncio.to_thread(self._set_status, stored.message.id, "limited")
            return await self._slow_down(stored, push.openid, over)
        if stored.plan.say:
            return await self._deliver(stored.message, [stored.plan.say], passive_allowed=True)
        if not (stored.plan.ask or stored.plan.intent):
            return None
        # The budget counts from the push's arrival, not from when Rasa is asked; a channel
        # without passive replies (mini-program) answers at once and replies through the API.
        remaining = max(0.0, self.budget - REPLY_RESERVE - (time.monotonic() - started))
        if not self.passive_replies:
            remaining = 0.0
        return await self._converse(push, stored, remaining)

    def _arrive(self, push: Push, claim: str) -> Arrival | None:
        """Claim the push's delivery key, store it and count it (one worker thread: the event
        loop makes no blocking call to Redis or the database); None for a repeated delivery."""
        if not self.store.claim(claim, self.dedup_ttl):
            log.info("duplicate delivery %s ignored", push.dedup_key)
            return None
        stored = self._store_inbound(push)
        if stored is None:
            return None
        link = stored.needs_unionid and self._unionid_due(stored.message.identity_id)
        return Arrival(stored, self._over_limit(push, stored), link)

    def _store_budget(self, started: float) -> float:
        """Seconds storing may take before the push is spooled instead (the reply must fit)."""
        return max(0.5, self.budget - 1.0 - (time.monotonic() - started))

    async def _spool(self, push: Push, claim: str, exc: BaseException) -> str | None:
        """Keep a push that could not be stored; it is replayed once the database is back."""
        if self.spool is None:
            self.store.release(claim)  # not stored: WeChat's retry must get through
            raise exc
        try:
            await asyncio.to_thread(self.spool.keep, self.appid, push)
        except OSError:
            self.store.release(claim)
            log.exception("push %s neither stored nor spooled", push.dedup_key)
            raise exc from None
        log.error("push %s spooled: cannot store it (%s)", push.dedup_key, type(exc).__name__)
        # A customer's words get a holding reply; the bot answers them after the replay.
        if self.passive_replies and push.msg_type != "event":
            return replies.BUSY
        return None

    async def replay(self, push: Push) -> None:
        """Store a spooled push now that the database answers; the pending sweep answers it."""
        stored = await asyncio.to_thread(self._store_inbound, push)
        if stored is None:  # stored after all (the slow write went through) or a duplicate
            return
        if stored.plan.say:
            await self._deliver(stored.message, [stored.plan.say], passive_allowed=False)
            return
        if self.passive_replies and push.msg_type != "event":  # what the callback said
            await self._deliver(stored.message, [replies.BUSY], True, answered=False)
        # Nobody is asking the bot about it: the sweep may at once.
        await asyncio.to_thread(self._set_status, stored.message.id, "retry")

    def _over_limit(self, push: Push, stored: Stored) -> RateDecision | None:
        """Count a user's message bound for the bot; the decision when it is over the limit."""
        plan = stored.plan
        if push.msg_type == "event" or not (plan.say or plan.ask or plan.intent):
            return None  # events (location reports…) and messages for a human agent are free
        key = f"rl:openid:{self.appid}:{push.openid}"
        decision = self.store.hit(key, self.messages_per_minute, LIMIT_WINDOW_SECONDS)
        return None if decision.allowed else decision

    async def _slow_down(self, stored: Stored, openid: str, over: RateDecision) -> str | None:
        """Ask the user once per window to slow down; the message itself stays stored."""
        if not self.store.claim(f"rl:told:{self.appid}:{openid}", over.retry_after):
            return None
        log.warning("%s is over %d messages a minute", openid, self.messages_per_minute)
        return await self._deliver(stored.message, [replies.SLOW_DOWN], passive_allowed=True)

    async def _converse(self, push: Push, stored: Stored, budget: float) -> str | None:
        task = asyncio.create_task(
            self._answer(stored.message.id, push.openid, stored.plan, stored.resume)
        )
        if budget <= 0:  # the mini-program (no passive replies), or no time left
            return await self._defer(task, push, stored, "late")
        if self.rasa.expected_seconds(f"{self.appid}:{push.openid}") > budget:
            # Admission: the turns already queued on Rasa say the answer cannot come in time.
            # Saying so at once keeps the callback short and spares this process the wait.
            return await self._defer(task, push, stored, "busy")
        try:
            texts = await asyncio.wait_for(asyncio.shield(task), budget)
        except TimeoutError:
            log.warning("no answer within %.1f s for %s: replying later", budget, push.openid)
            return await self._defer(task, push, stored, "late")
        if texts is None:
            return await self._unavailable(stored)
        return await self._deliver(stored.message, texts, passive_allowed=True)

    async def _defer(
        self, task: asyncio.Task[list[str] | None], push: Push, stored: Stored, why: str
    ) -> str | None:
        """The answer goes through the customer-service API once Rasa gives it; on a channel
        with passive replies the customer hears at once that it is coming."""
        holding = replies.HOLDING if self.passive_replies else None
        self._keep(self._deliver_later(task, stored, holding))
        if holding is None:
            return None
        REPLIES_DEFERRED.labels(self.channel, why).inc()
        # 'Typing…' while a late answer is prepared; not when Rasa is swamped (one call fewer).
        if self.typing is not None and why == "late":
            self._keep(self._show_typing(push.openid))
        return holding

    async def _unavailable(self, stored: Stored) -> str | None:
        """Rasa could not be reached. A fixed answer stands in for the bot's where the plan has
        one (a photo kept, the nearest store); otherwise the customer hears that the answer will
        come, and the message stays owed to them."""
        said = stored.plan.unavailable
        if said:
            return await self._deliver(stored.message, [said], passive_allowed=True)
        return await self._deliver(stored.message, [replies.BUSY], True, answered=False)

    async def answer_pending(
        self, message: Received, openid: str, plan: Plan, resume: bool
    ) -> bool:
        """Ask the bot again about a stored message it never answered (Rasa was down, or a
        process died mid-turn); the replies go through the customer-service API."""
        if message.id in self._in_flight:
            return False
        texts = await self._answer(message.id, openid, plan, resume)
        if texts is None:
            return False
        await self._deliver(message, texts, passive_allowed=False)
        return True

    async def send_later(self, message: Received, texts: list[str]) -> None:
        """Reply to a stored message through the customer-service API."""
        await self._deliver(message, texts, passive_allowed=False)

    async def _answer(
        self, message_id: int, openid: str, plan: Plan, resume: bool
    ) -> list[str] | None:
        """The bot's replies, or None when Rasa cannot be reached (the message stays pending)."""
        self._in_flight.add(message_id)
        try:
            texts = await self._ask_in_order(openid, plan, resume)
        finally:
            self._in_flight.discard(message_id)
        if texts is None:
            await asyncio.to_thread(self._set_status, message_id, "retry")
        return texts

    async def _ask_in_order(
        self, openid: str, plan: Plan, resume: bool = False
    ) -> list[str] | None:
        """Ask Rasa; one user's messages go one at a time, in arrival order."""
        # Rasa reads a leading «/» as an intent: only the bot itself may send those. The text
        # was normalised when the push was routed.
        text = f"/{plan.intent}" if plan.intent else (plan.ask or "").lstrip("/")
        lock = self._locks.get(openid)
        if lock is None:
            lock = self._locks[openid] = asyncio.Lock()
        sender = f"{self.appid}:{openid}"
        async with lock:
            try:
                if resume:
                    await self.rasa.resume(sender)
                    await asyncio.to_thread(self._in_session, routing.resumed, openid)
                turn = await self.rasa.send(
                    sender, text, {"appid": self.appid, "channel": self.channel, "openid": openid}
                )
            except RasaUnavailable as exc:
                log.error("Rasa unavailable: %s", exc)
                return None
            texts = _texts(turn)
            # An action asked for a human, or failed (a customer's words got no answer at all).
            reason = turn.handoff or ("action_failed" if plan.ask and not texts else None)
            if reason:
                said = await asyncio.to_thread(self._in_session, routing.open_for, openid, reason)
                texts.append(said)
                events.publish("queued", appid=self.appid, openid=openid)
        return texts

    def _in_session(self, step: Callable[..., Any], openid: str, *args: Any) -> Any:
        with session_scope() as session:
            return step(session, self.appid, openid, *args)

    async def _show_typing(self, openid: str) -> None:
        """Let the user see 'typing…' while the late answer is prepared (best effort)."""
        assert self.typing is not None
        try:
            await self.typing(openid)
        except Exception as exc:
            log.info("typing status not shown to %s: %s", openid, exc)

    async def _deliver_later(
        self, task: asyncio.Task[list[str] | None], stored: Stored, holding: str | None
    ) -> None:
        """Deliver the bot's replies once Rasa gives them. `holding` is the passive reply the
        callback gave (the answer is coming): it is stored with them, in one transaction (under
        overload most answers are deferred, and a transaction of its own cost each of them a
        round of work on the database)."""
        texts = await task
        if texts is not None:
            said = [holding] if holding else []
            await self._deliver(stored.message, [*said, *texts], passive_allowed=bool(holding))
        elif holding is None:  # nothing was said yet (a channel without passive replies)
            await self._unavailable(stored)
        else:  # the customer was told the answer is coming: the plan's fixed one, or it stays owed
            fixed = [stored.plan.unavailable] if stored.plan.unavailable else []
            await self._deliver(stored.message, [holding, *fixed], True, answered=bool(fixed))

    async def _deliver(
        self, message: Received, texts: list[str], passive_allowed: bool, answered: bool = True
    ) -> str | None:
        """Store the replies (the message is `answered` by them, unless they only ask the
        customer to wait); the first is the passive reply when allowed, the rest go out in
        order through the customer-service API."""
        passive = passive_allowed and self.passive_replies
        await asyncio.to_thread(self._store_replies, message, texts, passive, answered)
        if not texts:
            return None
        if not passive or len(texts) > 1:
            self.wake_delivery()
        return texts[0] if passive else None

    def _unionid_due(self, identity_id: int) -> bool:
        """True for one push per person a day, over every process (a claim in the store); the
        person's other pushes mostly need no call to the store."""
        if self.lookup_unionid is None:
            return False
        now = time.monotonic()
        if self._unionid_claimed.get(identity_id, 0.0) > now:
            return False
        due = self.store.claim(f"unionid:{identity_id}", UNIONID_LOOKUP_SECONDS)
        if len(self._unionid_claimed) >= UNIONID_CLAIMS_KEPT:
            self._unionid_claimed.clear()
        wait = UNIONID_LOOKUP_SECONDS if due else UNIONID_ASK_AGAIN_SECONDS
        self._unionid_claimed[identity_id] = now + wait
        return due

    async def _link_unionid(self, identity_id: int, openid: str) -> None:
        """Learn the unionid, to join this person's OA and MP identities."""
        if self.lookup_unionid is None:
            return
        try:
            unionid = await self.lookup_unionid(openid)
        except Exception as exc:  # best effort: the conversation goes on without it
            log.warning("unionid lookup for %s failed: %s", openid, exc)
            return
        if unionid:
            await asyncio.to_thread(_save_unionid, identity_id, unionid)

    def _keep(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for replies still being prepared (shutdown, tests)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    def _store_inbound(self, push: Push) -> Stored | None:
        inbound = InboundMessage(
            appid=self.appid,
            channel=self.channel,
            openid=push.openid,
            msg_type=push.msg_type,
            content=push.summary,
            dedup_key=f"{self.appid}:{push.dedup_key}",
            wechat_msg_id=push.wechat_msg_id,
            raw=push.raw,
            media_id=push.get("MediaId") or None,
            media_url=push.get("PicUrl") or None,
        )
        try:
            with session_scope() as session:
                identity, conversation = conversations.open_conversation(session, inbound)
                apply_effects(session, identity, push)
                plan, event = routing.route(session, conversation, push, plan_for(session, push))
                # Owed an answer by the bot: "pending" until its replies are stored. A second
                # delivery stops here, and the transaction's work is rolled back.
                status = "pending" if plan.ask or plan.intent else None
                message_id = conversations.add_inbound(session, conversation, inbound, status)
                stored = Stored(
                    Received(message_id, conversation.id, identity.id),
                    plan,
                    identity.unionid is None and identity.subscribed is not False,
                    resume=conversation.bot_paused and conversation.state == "bot",
                )
        except conversations.DuplicateDelivery:
            log.info("push %s already stored", push.dedup_key)
            return None
        if event:  # after the commit: the back office reads what it is told about
            events.publish(
                event, appid=self.appid, openid=push.openid, message_id=stored.message.id
            )
        return stored

    def _store_replies(
        self, reply_to: Received, texts: list[str], passive: bool, answered: bool
    ) -> None:
        with session_scope() as session:
            if answered:
                conversations.settle(session, reply_to.id, "answered")
            for index, text in enumerate(texts):
                if passive and index == 0:
                    conversations.record_outbound(session, reply_to, text, "passive", "sent")
                else:
                    identity = session.get(WechatIdentity, reply_to.identity_id)  # loaded once
                    assert identity is not None
                    conversations.reply_through_api(session, reply_to, text, identity)

    def _set_status(self, message_id: int, status: str) -> None:
        with session_scope() as session:
            conversations.settle(session, message_id, status)


def _save_unionid(identity_id: int, unionid: str) -> None:
    with session_scope() as session:
        identity = session.get(WechatIdentity, identity_id)
        if identity is not None:
            customers.link_unionid(session, identity, unionid)


def _texts(turn: BotTurn) -> list[str]:
    return [t.strip() for t in turn.texts if t.strip()]
