"""Helpers of `make bench` (bench/e2e.py, bench/ledger.py): the benchmark database, and the
no-NLU fast path (signed pushes that need only signature check, dedup claim, store and
`success`) fired at a callback or at the bare FastAPI route with the same client."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

from bench.load import percentile
from bot.simulator import WeChatSimulator
from bot.stack import ROOT
from crm.config import Settings
from crm.db import recreate_database

DB_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/jiangxin_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


async def load(
    url: str, bodies: list[tuple[dict[str, str], bytes]], concurrency: int
) -> dict[str, Any]:
    """Send every request, `concurrency` at a time; latency and throughput."""
    latencies: list[float] = []
    errors = 0
    queue = list(reversed(bodies))
    async with httpx.AsyncClient(
        timeout=30, limits=httpx.Limits(max_connections=concurrency)
    ) as http:

        async def worker() -> None:
            nonlocal errors
            while queue:
                params, body = queue.pop()
                started = time.perf_counter()
                try:
                    response = await http.post(url, params=params, content=body)
                    errors += response.status_code != 200
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "requests": len(bodies),
        "seconds": round(elapsed, 2),
        "per_second": round(len(bodies) / elapsed, 1),
        "errors": errors,
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p95_ms": round(1000 * percentile(latencies, 0.95), 1),
        "p99_ms": round(1000 * percentile(latencies, 0.99), 1),
        "max_ms": round(1000 * max(latencies), 1),
    }


def user(openid: str) -> WeChatSimulator:
    """A safe-mode official-account user, signing as WeChat does."""
    s = Settings()
    return WeChatSimulator(
        "", s.wechat_oa_token, s.wechat_oa_aes_key, s.wechat_oa_appid, openid=openid
    )


def fast_path_bodies(n: int) -> list[tuple[dict[str, str], bytes]]:
    """Menu-link events from 50 users: signature, decryption, dedup, storage, `success`."""
    return [
        (sim := user(f"o-bench-{i % 50}")).envelope(
            sim.event_xml("VIEW", f"https://m.example.com/{i}")
        )
        for i in range(n)
    ]


def prepare_database() -> None:
    env = {**os.environ, "DATABASE_URL": DB_URL, "PYTHONPATH": str(ROOT)}
    recreate_database(DB_URL)
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [sys.executable, "-m", "crm.knowledge", "load"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
