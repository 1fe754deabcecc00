"""What the domain knows of Rasa's memory: which server holds a sender, and forgetting one.

Emptying a tracker through Rasa's API (`PUT …/tracker/events` with no events) is enough for the
in-memory and Redis tracker stores; Rasa takes the sender's lock first, so a turn still being
saved lands before it. The SQL tracker store of the embedded default (endpoints.yml) only ever
appends, so its rows for the sender are deleted afterwards as well.
"""

from __future__ import annotations

import logging
import sqlite3
import zlib
from pathlib import Path

import httpx

from crm.config import get_settings

log = logging.getLogger(__name__)


def server_for(base_urls: list[str], sender: str) -> str:
    """Which of the Rasa servers handles `sender`: by a hash of the sender id, so one user's
    turns always go to the same server."""
    return base_urls[zlib.crc32(sender.encode()) % len(base_urls)]


def base_urls(rasa_url: str) -> list[str]:
    """The Rasa servers RASA_URL lists (comma-separated)."""
    return [url.strip().rstrip("/") for url in rasa_url.split(",") if url.strip()]


def forget(senders: list[str]) -> int:
    """Forget each Rasa sender ("appid:openid"); returns how many stored events were deleted.
    Best effort: what cannot be reached now is logged (our side is unlinkable already)."""
    settings = get_settings()
    urls = base_urls(settings.rasa_url)
    deleted = 0
    for sender in senders:
        url = f"{server_for(urls, sender)}/conversations/{sender}/tracker/events"
        try:
            httpx.put(url, json=[], timeout=30).raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("Rasa's tracker of an erased customer not emptied: %s", exc)
        deleted += _delete_rows(Path(settings.rasa_tracker_db), sender)
    return deleted


def _delete_rows(path: Path, sender: str) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=10) as conn:
            return conn.execute("DELETE FROM events WHERE sender_id = ?", (sender,)).rowcount
    except sqlite3.Error as exc:
        log.error("erased customer's events left in %s: %s", path, exc)
        return 0
