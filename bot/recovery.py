"""After a fault: replay spooled pushes, and answer what the bot still owes.

A message the bot owes an answer stays `pending` (or `retry`) in the database: Rasa was down,
or the process asking about it died. Every few seconds, once Rasa answers its status, each is
asked again in arrival order and the replies go out through the customer-service API. While
Rasa stays away longer than `handoff_after`, the conversation goes to a human instead.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from bot import routing
from bot.plans import Plan, plan_for
from bot.rasa_client import RasaClient
from bot.runtime import ChannelRuntime
from bot.spool import Spool
from bot.wechat import MalformedPush, Push, push_from_raw
from crm.conversations import service as conversations
from crm.conversations.models import Conversation, Message
from crm.conversations.service import Received
from crm.db import as_utc, session_scope, utcnow
from crm.handoff import events
from crm.handoff import service as handoffs
from crm.kv import KeyValueStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Owed:
    """A stored message the bot must still answer, and how to ask about it."""

    message: Received
    appid: str
    openid: str
    plan: Plan | None  # None: nothing to ask any more (a human owns the conversation)
    resume: bool
    waited: float | None  # seconds since it arrived (None: a human owns the conversation)


class Recovery:
    """The sweep of one api process over both channels."""

    def __init__(
        self,
        runtimes: list[ChannelRuntime],
        rasa: RasaClient,
        store: KeyValueStore,
        spool: Spool,
        *,
        interval: float,
        stale_after: float,
        handoff_after: float,
    ) -> None:
        self.runtimes = {runtime.appid: runtime for runtime in runtimes}
        self.rasa = rasa
        self.store = store
        self.spool = spool
        self.interval = interval
        self.stale_after = stale_after
        self.handoff_after = handoff_after

    async def run_forever(self) -> None:
        """Sweep until cancelled; a failing sweep (the database away) is logged once."""
        failing = False
        while True:
            try:
                await self.run_once()
            except Exception:
                if not failing:
                    log.exception("recovery sweep failed; retrying every %.1f s", self.interval)
                failing = True
            else:
                if failing:
                    log.warning("recovery sweep works again")
                failing = False
            await asyncio.sleep(self.interval)

    async def run_once(self) -> tuple[int, int]:
        """One sweep: (pushes replayed, messages answered or handed to a human)."""
        replayed = await self.spool.replay(self._replay)
        return replayed, await self._answer_owed()

    async def _replay(self, appid: str, push: Push) -> None:
        runtime = self.runtimes.get(appid)
        if runtime is None:
            raise MalformedPush(f"no channel for appid {appid}")
        await runtime.replay(push)

    async def _answer_owed(self) -> int:
        owed = await asyncio.to_thread(self._find_owed)
        if not owed:
            return 0
        if not await self.rasa.ready():
            overdue = [i for i in owed if i.waited is not None and i.waited > self.handoff_after]
            return await self._hand_over(overdue)
        by_user: dict[tuple[str, str], list[Owed]] = {}
        for item in owed:
            by_user.setdefault((item.appid, item.openid), []).append(item)
        done = await asyncio.gather(*(self._answer_in_order(items) for items in by_user.values()))
        return sum(done)

    async def _answer_in_order(self, items: list[Owed]) -> int:
        done = 0
        for item in items:
            # Several api processes sweep: one of them answers a message.
            if not self.store.claim(f"owed:{item.message.id}", 120):
                return done
            runtime = self.runtimes[item.appid]
            if item.plan is None:
                await asyncio.to_thread(_settle, item.message.id, "answered")
                continue
            if not await runtime.answer_pending(item.message, item.openid, item.plan, item.resume):
                self.store.release(f"owed:{item.message.id}")
                return done  # Rasa went away again: the rest wait, in order
            done += 1
        return done

    async def _hand_over(self, overdue: list[Owed]) -> int:
        """Rasa has been away too long for these customers: a human answers them."""
        latest = {(item.appid, item.openid): item.message for item in overdue}
        for (appid, openid), message in latest.items():
            said = await asyncio.to_thread(_hand_to_human, appid, openid)
            if said is not None:
                log.warning("Rasa still away: %s handed to a human", openid)
                await self.runtimes[appid].send_later(message, [said])
                events.publish("queued", appid=appid, openid=openid)
        return len(overdue)

    def _find_owed(self) -> list[Owed]:
        stale_before = utcnow() - timedelta(seconds=self.stale_after)
        with session_scope() as session:
            rows = conversations.awaiting_bot(session, list(self.runtimes), stale_before)
            return [
                _owed(session, message, conversation, identity.appid, identity.openid)
                for message, conversation, identity in rows
            ]


def _owed(
    session: Session, message: Message, conversation: Conversation, appid: str, openid: str
) -> Owed:
    human = conversation.state in handoffs.OPEN
    return Owed(
        message=Received(message.id, conversation.id, conversation.identity_id),
        appid=appid,
        openid=openid,
        plan=None if human else _plan_again(session, message),
        resume=conversation.bot_paused and conversation.state == "bot",
        waited=None if human else (utcnow() - as_utc(message.created_at)).total_seconds(),
    )


def _plan_again(session: Session, message: Message) -> Plan | None:
    """What the bot is asked about a stored message, as when it arrived."""
    try:
        push = push_from_raw(message.raw) if message.raw else None
    except MalformedPush:
        push = None
    if push is None:
        return routing.for_the_bot(Plan(ask=message.content)) if message.content else None
    plan = routing.for_the_bot(plan_for(session, push))
    return plan if (plan.ask or plan.intent) else None


def _hand_to_human(appid: str, openid: str) -> str | None:
    """Queue the conversation for an agent; its owed messages are theirs now."""
    with session_scope() as session:
        conversation = conversations.conversation_of(session, appid, openid)
        if conversation is None or conversation.state in handoffs.OPEN:
            return None
        said = routing.open_for(session, appid, openid, "bot_unavailable")
        for message in conversations.owed_in(session, conversation.id):
            message.status = "handed"
        return said


def _settle(message_id: int, status: str) -> None:
    with session_scope() as session:
        conversations.settle(session, message_id, status)
