"""Virtual WeChat customers for `make bench`: signed, safe-mode pushes from bench/scenario.yml.

Each virtual user plays conversations one after another, each as a new openid, one message at a
time: it sends a push, takes the passive reply or waits for the customer-service message the
sandbox receives, then "types" for a while before the next. One `Mailbox` polls the sandbox for
every user. After a level, each customer-service message is attributed to the last push its
user sent before the sandbox received it, which gives the time until the final reply.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import ssl
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import yaml

from bot import replies
from bot.menu import click_text
from bot.simulator import WeChatSimulator
from crm.config import Settings

SCENARIO = Path(__file__).with_name("scenario.yml")
# A reply that has not come this long after its push counts as lost.
REPLY_TIMEOUT = 60.0
# Passive replies that only say the answer will follow through the customer-service API.
HOLDING = {text for text in (getattr(replies, "HOLDING", None), replies.BUSY) if text}


@dataclass(frozen=True)
class Step:
    """One push of a conversation."""

    text: str = ""
    event: str = ""
    key: str = ""
    url: str = ""
    latitude: float = 0.0
    longitude: float = 0.0
    duplicate: bool = False
    reply: bool = True

    @property
    def nlu(self) -> bool:
        """Whether the bot (Rasa) is asked: texts and menu clicks."""
        return bool(self.text) or self.event == "click"

    @property
    def words(self) -> str:
        """What Rasa is asked (a menu click: the words bot/menu.yml gives it)."""
        return self.text or (click_text(self.key) or "" if self.event == "click" else "")

    def xml(self, sim: WeChatSimulator) -> str:
        if self.text:
            return sim.text_xml(self.text)
        if self.event == "click":
            return sim.event_xml("CLICK", self.key)
        if self.event == "view":
            return sim.event_xml("VIEW", self.url)
        if self.event == "location":
            return sim.event_xml(
                "LOCATION", Latitude=self.latitude, Longitude=self.longitude, Precision=30.0
            )
        return sim.event_xml(self.event)


@dataclass(frozen=True)
class Scenario:
    think: tuple[float, float]
    conversations: list[tuple[str, int, list[Step]]]

    @classmethod
    def load(cls, path: Path = SCENARIO) -> Scenario:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls(
            tuple(data["think_seconds"]),
            [
                (c["name"], int(c["weight"]), [Step(**s) for s in c["steps"]])
                for c in data["conversations"]
            ],
        )

    def pick(self, rng: random.Random) -> tuple[str, list[Step]]:
        name, _, steps = rng.choices(self.conversations, [w for _, w, _ in self.conversations])[0]
        return name, steps

    @property
    def nlu_fraction(self) -> float:
        """Of the messages a user sends after thinking (not redeliveries), those for Rasa."""
        total = sum(w * len(steps) for _, w, steps in self.conversations)
        nlu = sum(w * sum(s.nlu for s in steps) for _, w, steps in self.conversations)
        return nlu / total

    @property
    def think_mean(self) -> float:
        return sum(self.think) / 2

    @property
    def ramp_seconds(self) -> float:
        """Users arrive spread over this long at the start of a level."""
        return self.think_mean * 2

    def words(self) -> list[list[str]]:
        """Each conversation's words for Rasa, for the direct baseline."""
        return [[s.words for s in steps if s.nlu] for _, _, steps in self.conversations]


@dataclass
class Sent:
    """One push and what became of it (times from time.time(), as the sandbox's)."""

    openid: str
    nlu: bool
    expect_reply: bool
    duplicate: bool
    sent_at: float
    callback_seconds: float = 0.0
    status: int = 0
    passive: str | None = None
    replies: list[tuple[float, str]] = field(default_factory=list)

    @property
    def holding(self) -> bool:
        """The passive reply only said that the answer will follow."""
        return self.passive in HOLDING

    @property
    def answered_at(self) -> float | None:
        """When the customer had the final reply (passive: when the callback answered)."""
        times = [t for t, _ in self.replies]
        if self.passive and not self.holding:
            times.append(self.sent_at + self.callback_seconds)
        return max(times) if times else None


class Mailbox:
    """Customer-service messages received by the sandbox, per openid, polled for all users."""

    def __init__(self, http: httpx.AsyncClient, sandbox_url: str) -> None:
        self.http = http
        self.url = f"{sandbox_url}/messages"
        self.seq = 0
        self.received: dict[str, list[tuple[float, str]]] = defaultdict(list)
        self.arrived: dict[str, asyncio.Event] = defaultdict(asyncio.Event)

    async def skip_old(self) -> None:
        items = (await self.http.get(self.url, params={"after": self.seq})).json()
        self.seq = max([self.seq, *(int(m["seq"]) for m in items)])

    async def poll_forever(self, every: float = 0.2) -> None:
        while True:
            try:
                response = await self.http.get(self.url, params={"after": self.seq})
                for m in response.json():
                    self.seq = max(self.seq, int(m["seq"]))
                    if m["kind"] == "custom":
                        text = m.get("text", {}).get("content", "")
                        self.received[m["touser"]].append((float(m["at"]), text))
                        self.arrived[m["touser"]].set()
            except (httpx.HTTPError, ValueError):
                pass
            await asyncio.sleep(every)

    async def wait(self, openid: str, count: int, seconds: float) -> bool:
        """Until `openid` has more than `count` messages; False after `seconds`."""
        deadline = time.monotonic() + seconds
        while len(self.received[openid]) <= count:
            event = self.arrived[openid]
            event.clear()
            try:
                await asyncio.wait_for(event.wait(), max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                return False
        return True


class Customers:
    """Runs `users` virtual users against a callback until `seconds` have passed."""

    def __init__(self, callback: str, scenario: Scenario, mailbox: Mailbox, seed: int) -> None:
        self.callback = callback
        self.scenario = scenario
        self.mailbox = mailbox
        self.rng = random.Random(seed)
        self.sent: list[Sent] = []
        self.errors = 0
        s = Settings()
        self.keys = (s.wechat_oa_token, s.wechat_oa_aes_key, s.wechat_oa_appid)
        # One TLS context for every user's client (building one costs ~15 ms of CPU each).
        self.tls = ssl.create_default_context()

    async def run(self, users: int, seconds: float) -> float:
        """Play until the deadline (messages in flight then finish); the wall time taken."""
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(*(self._user(deadline, i, users) for i in range(users)))
        return time.monotonic() - started

    async def _user(self, deadline: float, index: int, users: int) -> None:
        # Users arrive spread over one thinking time, not all in the same instant.
        await asyncio.sleep(self.scenario.ramp_seconds * index / max(1, users))
        # Each user has its own connection, as WeChat's servers do not queue one customer's
        # push behind another's: one client shared by hundreds of users spent seconds handing
        # out connections (httpx's pool), which the callback times then included. aiohttp, not
        # httpx: the load generator shares the cores with the stack it measures, and httpx's
        # pure-Python HTTP parsing made it the costlier half of its CPU per push.
        connector = aiohttp.TCPConnector(limit=2, ssl=self.tls)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            await self._play(http, deadline)

    async def _play(self, http: aiohttp.ClientSession, deadline: float) -> None:
        while time.monotonic() < deadline:
            _, steps = self.scenario.pick(self.rng)
            sim = WeChatSimulator("", *self.keys, openid=f"o-bench-{secrets.token_hex(8)}")
            for step in steps:
                if time.monotonic() >= deadline:
                    return
                await self._step(http, sim, step)
                await asyncio.sleep(self.rng.uniform(*self.scenario.think))

    async def _step(self, http: aiohttp.ClientSession, sim: WeChatSimulator, step: Step) -> None:
        params, body = sim.envelope(step.xml(sim))
        seen = len(self.mailbox.received[sim.openid])
        record = await self._post(http, sim, params, body, step, duplicate=False)
        if step.duplicate:  # WeChat's redelivery of the same push
            await self._post(http, sim, params, body, step, duplicate=True)
        if record.status == 200 and (record.passive is None or record.holding) and step.reply:
            await self.mailbox.wait(sim.openid, seen, REPLY_TIMEOUT)

    async def _post(
        self,
        http: aiohttp.ClientSession,
        sim: WeChatSimulator,
        params: dict[str, str],
        body: bytes,
        step: Step,
        duplicate: bool,
    ) -> Sent:
        record = Sent(sim.openid, step.nlu and not duplicate, step.reply, duplicate, time.time())
        self.sent.append(record)
        started = time.perf_counter()
        try:
            async with http.post(self.callback, params=params, data=body) as response:
                text = await response.text()
            record.status = response.status
            if response.status == 200 and text not in ("", "success"):
                record.passive = sim.reply_text(response.status, text)
        except (aiohttp.ClientError, TimeoutError, RuntimeError, ValueError):
            record.status = -1
        record.callback_seconds = time.perf_counter() - started
        return record

    def attribute(self) -> None:
        """Give each customer-service message to the last push its user sent before it."""
        by_user: dict[str, list[Sent]] = defaultdict(list)
        for record in self.sent:
            if not record.duplicate:
                by_user[record.openid].append(record)
        for openid, records in by_user.items():
            for at, text in self.mailbox.received.get(openid, []):
                earlier = [r for r in records if r.sent_at <= at]
                if earlier:
                    earlier[-1].replies.append((at, text))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def summarise(
    sent: list[Sent], seconds: float, busy_text: str, ramp_seconds: float = 0.0
) -> dict[str, Any]:
    """Figures of one level (call Customers.attribute first). Throughput counts the answers
    after the users' arrival (`ramp_seconds`), when the level's whole load is on."""
    ok = [r for r in sent if r.status == 200]
    nlu = [r for r in ok if r.nlu]
    fast = [r for r in ok if not r.nlu]
    expected = [r for r in ok if r.expect_reply and not r.duplicate]
    answered = [r for r in expected if r.answered_at is not None]
    finals = [r.answered_at - r.sent_at for r in answered if r.answered_at is not None]
    nlu_done = [r for r in nlu if r.answered_at is not None]
    last = max((r.answered_at for r in nlu_done if r.answered_at), default=0.0)
    steady_from = min((r.sent_at for r in sent), default=0.0) + ramp_seconds
    steady = [r for r in nlu_done if r.answered_at and r.answered_at >= steady_from]
    callbacks = [r.callback_seconds for r in ok]

    def ms(values: list[float], q: float) -> float:
        return round(1000 * percentile(values, q), 1)

    return {
        "seconds": round(seconds, 1),
        "pushes": len(sent),
        "messages_per_second": round(len(sent) / seconds, 1) if seconds else 0.0,
        "nlu_messages": len(nlu),
        "nlu_answered_per_second": (
            round(len(steady) / (last - steady_from), 2) if last > steady_from else 0
        ),
        "callback_p50_ms": ms(callbacks, 0.5),
        "callback_p95_ms": ms(callbacks, 0.95),
        "callback_p99_ms": ms(callbacks, 0.99),
        "callback_max_ms": ms(callbacks, 1.0),
        "fast_path_p50_ms": ms([r.callback_seconds for r in fast], 0.5),
        "fast_path_p99_ms": ms([r.callback_seconds for r in fast], 0.99),
        "final_reply_p50_ms": ms(finals, 0.5),
        "final_reply_p95_ms": ms(finals, 0.95),
        "final_reply_p99_ms": ms(finals, 0.99),
        "passive_replies": sum(r.passive is not None and not r.holding for r in expected),
        "async_replies": sum(r.passive is None or r.holding for r in answered),
        "holding_replies": sum(r.holding for r in sent),
        "busy_replies": sum(busy_text in (r.passive or "") for r in sent)
        + sum(busy_text in text for r in sent for _, text in r.replies),
        "deadline_misses": sum(r.callback_seconds > 5.0 for r in ok),
        "errors": len(sent) - len(ok),
        "lost": len(expected) - len(answered),
    }
