"""Runs the daily jobs once a day inside a long-running process (the api in the embedded
default); with Redis, one replica runs them, the others see the day's claim and skip. The
handoff clock runs every 30 seconds (rows are locked, so replicas never act twice)."""

from __future__ import annotations

import asyncio
import logging

from crm.db import session_scope
from crm.handoff import events
from crm.handoff.sweep import SweepReport, sweep
from crm.jobs.daily import run_daily
from crm.kv import KeyValueStore
from crm.tickets.lifecycle import today

log = logging.getLogger(__name__)
CHECK_SECONDS = 600.0
SWEEP_SECONDS = 30.0
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


async def sweep_handoffs_forever(check_seconds: float = SWEEP_SECONDS) -> None:
    """Apply the handoff timeouts (queue wait, idle conversations) every `check_seconds`."""
    while True:
        try:
            report = await asyncio.to_thread(_sweep_once)
            if report.offered_message or report.back_to_bot:
                events.publish("swept")
        except Exception:  # a database hiccup must not stop the clock for good
            log.exception("handoff sweep failed")
        await asyncio.sleep(check_seconds)


def _sweep_once() -> SweepReport:
    with session_scope() as session:
        return sweep(session)
