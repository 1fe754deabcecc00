"""Talks to the Rasa server over its REST channel."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from crm.metrics import RASA_SECONDS
from crm.rasa import base_urls, server_for

# Weight of the newest turn in a server's running turn time.
TURN_WEIGHT = 0.1
# Turns sent to one Rasa server at a time; the others wait here, in order. Rasa works on one
# turn at a time anyway, and a queue of hundreds in httpx's connection pool costs the event loop
# a scan of every connection per request.
TURNS_AT_ONCE = 16


@dataclass
class ServerLoad:
    """What this process knows of one Rasa server's load: the turns it has asked and not yet
    had answered, and how long the server takes per turn while busy (a running average)."""

    in_flight: int = 0
    turn_seconds: float = 0.0
    last_done: float = 0.0

    def done(self, started: float, now: float) -> None:
        """A turn asked at `started` was answered: while the server stayed busy, the time since
        its previous answer is one turn's worth of its work; after idling, this turn's time."""
        sample = now - max(self.last_done, started)
        if self.turn_seconds == 0.0:
            self.turn_seconds = sample
        else:
            self.turn_seconds += TURN_WEIGHT * (sample - self.turn_seconds)
        self.last_done = now


class RasaUnavailable(Exception):
    """Rasa did not answer or answered with an error."""


@dataclass(frozen=True)
class BotTurn:
    """What Rasa said in one turn."""

    texts: list[str] = field(default_factory=list)
    # Set when an action asked for a human (`json_message={"handoff": reason}`).
    handoff: str | None = None


class RasaClient:
    """Async client for `POST /webhooks/rest/webhook` and the status endpoint.

    `base_url` may list several Rasa servers separated by commas (replicas sharing a tracker
    store): each sender always goes to the same one, chosen by a hash of the sender id, so one
    user's turns are handled in order by one server.
    """

    def __init__(self, base_url: str, http: httpx.AsyncClient) -> None:
        self.base_urls = base_urls(base_url)
        self.base_url = self.base_urls[0]
        self.http = http
        self.load = {url: ServerLoad() for url in self.base_urls}
        self._gates = {url: asyncio.Semaphore(TURNS_AT_ONCE) for url in self.base_urls}

    def url_for(self, sender: str) -> str:
        """The Rasa server that handles `sender` (stable across processes and restarts)."""
        return server_for(self.base_urls, sender)

    def expected_seconds(self, sender: str) -> float:
        """How long a turn asked now for `sender` should take, from the turns this process has
        in flight on that server and the server's recent time per turn; 0 when none is in
        flight: with no queue there is nothing to predict (one slow turn after idling, Rasa's
        first after a start, says nothing about the next), and the caller just waits."""
        load = self.load[self.url_for(sender)]
        if load.in_flight == 0:
            return 0.0
        return (load.in_flight + 1) * load.turn_seconds

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> BotTurn:
        """Send one customer message; return the bot's replies."""
        payload = {"sender": sender, "message": text, "metadata": metadata}
        url = self.url_for(sender)
        load = self.load[url]
        started = time.monotonic()
        load.in_flight += 1  # queued here or sent
        try:
            async with self._gates[url]:
                response = await self.http.post(
                    f"{url}/webhooks/rest/webhook", json=payload, timeout=60
                )
            response.raise_for_status()
            items = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            RASA_SECONDS.labels("error").observe(time.monotonic() - started)
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        finally:
            load.in_flight -= 1
        now = time.monotonic()
        load.done(started, now)
        RASA_SECONDS.labels("ok").observe(now - started)
        texts: list[str] = []
        handoff = None
        for item in items if isinstance(items, list) else []:
            if item.get("text"):
                texts.append(str(item["text"]))
            custom = item.get("custom")
            if isinstance(custom, dict) and custom.get("handoff"):
                handoff = str(custom["handoff"])
        return BotTurn(texts, handoff)

    async def resume(self, sender: str) -> None:
        """Un-pause the sender's conversation after a human handoff (resume, then listen)."""
        events = [{"event": "resume"}, {"event": "action", "name": "action_listen"}]
        try:
            response = await self.http.post(
                f"{self.url_for(sender)}/conversations/{sender}/tracker/events",
                json=events,
                timeout=10,
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"resume failed: {type(exc).__name__}: {exc}") from exc

    async def ready(self) -> bool:
        """True when every server is up with a model loaded."""
        return all([await self._ready(url) for url in self.base_urls])

    async def _ready(self, base_url: str) -> bool:
        try:
            response = await self.http.get(f"{base_url}/status", timeout=2)
            return response.status_code == 200 and bool(response.json().get("model_file"))
        except (httpx.HTTPError, ValueError):
            return False
