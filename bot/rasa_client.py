"""Talks to the Rasa server over its REST channel."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx


class RasaUnavailable(Exception):
    """Rasa did not answer or answered with an error."""


@dataclass(frozen=True)
class BotTurn:
    """What Rasa said in one turn."""

    texts: list[str] = field(default_factory=list)
    # Set when an action asked for a human (`json_message={"handoff": reason}`).
    handoff: str | None = None


class RasaClient:
    """Async client for `POST /webhooks/rest/webhook` and the status endpoint."""

    def __init__(self, base_url: str, http: httpx.AsyncClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> BotTurn:
        """Send one customer message; return the bot's replies."""
        payload = {"sender": sender, "message": text, "metadata": metadata}
        try:
            response = await self.http.post(
                f"{self.base_url}/webhooks/rest/webhook", json=payload, timeout=60
            )
            response.raise_for_status()
            items = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
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
                f"{self.base_url}/conversations/{sender}/tracker/events", json=events, timeout=10
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"resume failed: {type(exc).__name__}: {exc}") from exc

    async def ready(self) -> bool:
        """True when the server is up with a model loaded."""
        try:
            response = await self.http.get(f"{self.base_url}/status", timeout=2)
            return response.status_code == 200 and bool(response.json().get("model_file"))
        except (httpx.HTTPError, ValueError):
            return False
