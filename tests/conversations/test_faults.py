"""Faults injected into the real stack: Rasa down or slow, Redis down, PostgreSQL down, the api
killed. Every message sent during a fault is answered once afterwards, none twice.

The api runs as its own process, its database, Redis and Rasa each reached through a proxy
the test cuts, slows and restores. Figures: test-artifacts/faults.json.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from bot import replies
from bot.simulator import WeChatSimulator
from bot.stack import MODEL, ROOT, Stack
from crm.conversations.models import Message
from crm.db import session_scope
from tests.api.conftest import sent_to
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL
from tests.conversations.conftest import content, simulator
from tests.proxy import Proxy
from tests.servers import free_port

pytestmark = pytest.mark.e2e
QUESTION = "电池保修多久"
USERS = 4  # customers writing during each fault
FIGURES: dict[str, dict[str, Any]] = {}


@dataclass
class FaultyApi:
    """The api process and the proxies in front of everything it depends on."""

    rasa: Proxy
    database: Proxy
    redis: Proxy
    spool: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    stack: Stack | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        db = make_url(TEST_DATABASE_URL).set(host="127.0.0.1", port=self.database.port)
        redis = make_url(TEST_REDIS_URL).set(host="127.0.0.1", port=self.redis.port)
        env = {
            **os.environ,
            "PORT": str(self.port),
            "DATABASE_URL": db.render_as_string(hide_password=False),
            "REDIS_URL": str(redis),
            "RASA_URL": f"http://127.0.0.1:{self.rasa.port}",
            "ACTION_SERVER_URL": self.stack.actions_url if self.stack else "",
            "RECOVERY": "true",
            "PENDING_RETRY_SECONDS": "0.5",
            "PENDING_STALE_SECONDS": "3",
            "SPOOL_DIR": str(self.spool),
        }
        command = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory"]
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port), "--log-level", "warning"], cwd=ROOT, env=env
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("the api did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no draining: whatever was in flight is cut off."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def restart_rasa(self) -> None:
        """Rasa and the action server killed and started again (a crash, a deploy)."""
        assert self.stack is not None
        for process in self.stack.processes.values():
            os.killpg(process.pid, signal.SIGKILL)  # with the workers Sanic forked
            process.wait(10)
        self.stack = rasa_for(self.port, self.stack.rasa_port, self.stack.actions_port)


def rasa_for(api_port: int, rasa_port: int, actions_port: int) -> Stack:
    """Rasa and an action server of the faulty api's own: the tests kill them."""
    stack = Stack(rasa_port=rasa_port, actions_port=actions_port, port=api_port, with_api=False)
    stack.start(sys.stderr)
    try:
        stack.wait_ready(timeout=300)
    except BaseException:
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="module")
def faulty(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultyApi]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: `make test` trains it, or run `make train`")
    db, redis = make_url(TEST_DATABASE_URL), make_url(TEST_REDIS_URL)
    rasa_port, actions_port = free_port(), free_port()
    with (
        Proxy("127.0.0.1", rasa_port) as rasa,
        Proxy(db.host or "127.0.0.1", db.port or 5432) as database,
        Proxy(redis.host or "127.0.0.1", redis.port or 6379) as redis_proxy,
    ):
        api = FaultyApi(rasa, database, redis_proxy, tmp_path_factory.mktemp("spool"))
        api.stack = rasa_for(api.port, rasa_port, actions_port)
        try:
            api.start()
            yield api
        finally:
            api.kill()
            api.stack.stop()
    out = ROOT / "test-artifacts" / "faults.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(FIGURES, ensure_ascii=False, indent=2))


@pytest.fixture(scope="module")
def answer(faulty: FaultyApi) -> str:
    """The bot's answer to QUESTION with nothing broken (the first turn of a cold Rasa may
    take longer than the budget: then it comes through the API)."""
    sim = users(faulty)[0]
    reply = sim.say(QUESTION)
    if reply == replies.HOLDING:
        [reply] = answers_later(faulty, sim)
    assert reply and reply != replies.BUSY
    return reply


def users(api: FaultyApi, count: int = 1) -> list[WeChatSimulator]:
    return [simulator(api.url) for _ in range(count)]


def timed_say(sim: WeChatSimulator, text: str) -> tuple[str | None, float]:
    return timed_post(sim, sim.text_xml(text))


def timed_post(sim: WeChatSimulator, xml: str) -> tuple[str | None, float]:
    """The passive reply to one push, and how long the callback took."""
    started = time.monotonic()
    reply = sim.open_reply(sim.post(xml))
    return reply, time.monotonic() - started


def answers_later(api: FaultyApi, sim: WeChatSimulator, wait: float = 60) -> list[str]:
    """Customer-service messages `sim` received, once the first arrived and a moment passed
    (a duplicate would show up in it)."""
    sent_to(api.url, sim.openid, wait=wait)
    time.sleep(1.5)
    return [content(item) for item in sent_to(api.url, sim.openid, wait=0)]


def inbound_count(openid: str) -> int:
    with session_scope() as session:
        stmt = select(func.count()).where(Message.direction == "in", Message.raw.contains(openid))
        return int(session.scalar(stmt) or 0)


def record(name: str, answers: list[list[str]], slowest: float) -> None:
    """Figures of one fault: `answers` holds what each customer received afterwards (one
    answer each is right; more is a duplicate, none a lost message)."""
    FIGURES[name] = {
        "messages_sent_during_fault": len(answers),
        "answered_afterwards": sum(1 for got in answers if got),
        "duplicates": sum(max(0, len(got) - 1) for got in answers),
        "slowest_callback_seconds": round(slowest, 3),
    }


def test_rasa_down_holding_reply_then_answered_when_back(faulty: FaultyApi, answer: str) -> None:
    sims = users(faulty, USERS)
    faulty.rasa.cut()
    try:
        said = [timed_say(sim, QUESTION) for sim in sims]
    finally:
        faulty.rasa.restore()
    assert [reply for reply, _ in said] == [replies.BUSY] * USERS
    slowest = max(took for _, took in said)
    assert slowest < 5  # WeChat's deadline
    later = [answers_later(faulty, sim) for sim in sims]
    assert later == [[answer]] * USERS
    record("rasa_down", later, slowest)


def test_slow_rasa_holding_reply_then_the_answer(faulty: FaultyApi, answer: str) -> None:
    sims = users(faulty, 2)
    faulty.rasa.delay = 6.0  # longer than WeChat waits
    try:
        said = [timed_say(sim, QUESTION) for sim in sims]
        later = [answers_later(faulty, sim) for sim in sims]
    finally:
        faulty.rasa.delay = 0.0
    assert [reply for reply, _ in said] == [replies.HOLDING] * 2
    slowest = max(took for _, took in said)
    assert slowest < 5
    assert later == [[answer]] * 2
    record("rasa_slow_6s", later, slowest)


def test_redis_down_callbacks_answer_and_dedup_falls_back_to_the_database(
    faulty: FaultyApi, answer: str
) -> None:
    sims = users(faulty, USERS)
    pushes = [sim.text_xml(QUESTION) for sim in sims]
    faulty.redis.cut()
    try:
        said = [timed_post(sim, xml) for sim, xml in zip(sims, pushes, strict=True)]
    finally:
        faulty.redis.restore()
    assert [reply for reply, _ in said] == [answer] * USERS
    # WeChat re-sends each push after Redis is back: its claim is gone, the database refuses it.
    again = [sim.open_reply(sim.post(xml)) for sim, xml in zip(sims, pushes, strict=True)]
    assert again == [None] * USERS
    assert [inbound_count(sim.openid) for sim in sims] == [1] * USERS
    time.sleep(1.5)  # anything the redeliveries wrongly caused would have been sent by now
    got = [
        [reply or "", *(content(item) for item in sent_to(faulty.url, sim.openid, wait=0))]
        for sim, (reply, _) in zip(sims, said, strict=True)
    ]
    assert got == [[answer]] * USERS
    assert sims[0].say(QUESTION) == answer  # and on Redis again
    record("redis_down", got, max(took for _, took in said))


def test_database_down_pushes_spooled_then_replayed_and_answered(
    faulty: FaultyApi, answer: str
) -> None:
    sims = users(faulty, USERS)
    pushes = [sim.text_xml(QUESTION) for sim in sims]
    faulty.database.cut()
    try:
        said = [timed_post(sim, xml) for sim, xml in zip(sims, pushes, strict=True)]
        redelivered = sims[0].open_reply(sims[0].post(pushes[0]))  # WeChat's retry
        spooled = len(list(faulty.spool.glob("*.push.json")))
    finally:
        faulty.database.restore()
    assert [reply for reply, _ in said] == [replies.BUSY] * USERS
    assert redelivered is None and spooled == USERS
    later = [answers_later(faulty, sim) for sim in sims]
    assert later == [[answer]] * USERS
    assert [inbound_count(sim.openid) for sim in sims] == [1] * USERS
    assert list(faulty.spool.glob("*.push.json")) == []
    record("database_down", later, max(t for _, t in said))
    FIGURES["database_down"]["redelivered_during_fault"] = 1


def test_api_killed_mid_turn_answers_after_restart(faulty: FaultyApi, answer: str) -> None:
    sim = users(faulty)[0]
    xml = sim.text_xml(QUESTION)
    faulty.rasa.delay = 2.0  # the api is still waiting for Rasa when it dies
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(sim.post, xml)
        time.sleep(1.0)
        faulty.kill()
        with pytest.raises(httpx.HTTPError):
            first.result()
    faulty.rasa.delay = 0.0
    faulty.start()
    assert inbound_count(sim.openid) == 1  # stored before Rasa was asked
    assert sim.open_reply(sim.post(xml)) is None  # WeChat's retry: already being handled
    later = answers_later(faulty, sim)
    assert later == [answer]
    record("api_killed_mid_turn", [later], 0.0)


def test_killed_between_turns_the_form_goes_on(faulty: FaultyApi) -> None:
    sim = users(faulty)[0]
    assert "哪" in (sim.say("我要报修") or "")  # the repair form asks which product
    faulty.kill()
    faulty.start()
    follow = sim.say("RG-RH-800") or ""
    assert "故障" in follow  # the form goes on: next it asks what is wrong


def test_rasa_killed_mid_form_the_form_goes_on(faulty: FaultyApi) -> None:
    sim = users(faulty)[0]
    assert "哪" in (sim.say("我要报修") or "")
    faulty.restart_rasa()  # the conversation lives in Rasa's tracker store, not its memory
    assert "故障" in (sim.say("RG-RH-800") or "")
