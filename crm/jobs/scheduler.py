"""Runs the daily jobs once a day inside a long-running process (the api in the embedded
default); with Redis, one replica runs them, the others see the day's claim and skip."""

from __future__ import annotations

import asyncio
import logging

from crm.jobs.daily import run_daily
from crm.kv import KeyValueStore
from crm.tickets.lifecycle import today

log = logging.getLogger(__name__)
CHECK_SECONDS = 600.0
CLAIM_SECONDS = 2 * 86400


async def run_once(store: KeyValueStore) -> bool:
    """Run today's jobs unless this or another process already did; True when it ran them."""
    day = today()
    key = f"jobs:daily:{day:%Y-%m-%d}"
    if not store.claim(key, CLAIM_SECONDS):
        return False
    report = await asyncio.to_thread(run_daily, day)
    log.info("daily jobs for %s: %s", day, report)
    if report.failed:
        store.release(key)  # let the next check retry the failed steps
    return True


async def run_forever(store: KeyValueStore, check_seconds: float = CHECK_SECONDS) -> None:
    """Check every `check_seconds` whether today's jobs ran; run them if not."""
    while True:
        try:
            await run_once(store)
        except Exception:  # a database hiccup must not stop the schedule for good
            log.exception("daily jobs could not run")
        await asyncio.sleep(check_seconds)
