"""Pushes that could not be stored (database down or too slow), kept on disk until replayed.

One file per push, named by arrival time and delivery key: written to a temporary name, synced
and renamed, so a crash leaves either a whole file or none; the push in it is encrypted with
the personal-data key (PII_KEYS). The replay stores files oldest first and deletes each once
stored; storing is idempotent (the delivery key is unique), so two processes replaying the same
file store it once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.wechat import MalformedPush, Push, push_from_raw
from crm.privacy.crypto import PiiDecryptionError, keyring

log = logging.getLogger(__name__)

SUFFIX = ".push.json"
CONTEXT = "spool.raw"  # bound into the encryption: a value from elsewhere does not open here
# What a database that is down, unreachable or saturated raises.
DATABASE_AWAY = (OperationalError, InterfaceError, PoolTimeout, TimeoutError, ConnectionError)


@dataclass(frozen=True)
class Spooled:
    """One kept push and the app id it came to."""

    path: Path
    appid: str
    push: Push


class Spool:
    """A directory of pushes waiting for the database."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.failed = self.directory / "failed"

    def keep(self, appid: str, push: Push) -> Path:
        """Write `push` durably; the same delivery kept twice is one file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(f"{appid}:{push.dedup_key}".encode()).hexdigest()[:24]
        existing = list(self.directory.glob(f"*-{digest}{SUFFIX}"))
        if existing:
            return existing[0]
        path = self.directory / f"{time.time_ns():020d}-{digest}{SUFFIX}"
        record = {
            "appid": appid,
            "raw": keyring().encrypt(push.raw, CONTEXT),  # the customer's words: never in clear
            "encrypted": push.encrypted,
            "key_index": push.key_index,
        }
        temporary = path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as file:
            json.dump(record, file, ensure_ascii=False)
            file.flush()
            os.fsync(file.fileno())
        temporary.rename(path)
        return path

    def waiting(self) -> list[Path]:
        """Kept pushes, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob(f"*{SUFFIX}"))

    async def replay(self, store: Callable[[str, Push], Awaitable[None]]) -> int:
        """Hand every kept push to `store` in arrival order; stop at the first failure (the
        database is still away) and leave the rest for the next round."""
        done = 0
        for path in self.waiting():
            try:
                spooled = self._read(path)
            except (OSError, ValueError, KeyError, MalformedPush, PiiDecryptionError) as exc:
                self._quarantine(path, exc)
                continue
            try:
                await store(spooled.appid, spooled.push)
            except DATABASE_AWAY as exc:
                log.warning("spool replay paused at %s: %s", path.name, type(exc).__name__)
                break
            except Exception as exc:  # this push itself cannot be stored: keep it aside
                self._quarantine(path, exc)
                continue
            path.unlink(missing_ok=True)
            done += 1
        if done:
            log.warning("replayed %d spooled pushes", done)
        return done

    def _read(self, path: Path) -> Spooled:
        record = json.loads(path.read_text(encoding="utf-8"))
        raw = keyring().decrypt(str(record["raw"]), CONTEXT)
        push = push_from_raw(raw, bool(record["encrypted"]), int(record["key_index"]))
        return Spooled(path, str(record["appid"]), push)

    def _quarantine(self, path: Path, exc: Exception) -> None:
        log.error("spooled push %s unreadable (%s): moved to %s", path.name, exc, self.failed)
        self.failed.mkdir(parents=True, exist_ok=True)
        path.rename(self.failed / path.name)
