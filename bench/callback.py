"""`make bench`: the WeChat callback on PostgreSQL, Redis and the real Rasa model.

1. Fast path: signed pushes that need no NLU (signature check, dedup claim, store, `success`),
   as a ratio to a bare FastAPI route in the same run, same uvicorn settings, same client.
2. Saturation: many users asking FAQ questions at once, more than Rasa can answer in time: the
   callback's latency percentiles must stay within the reply budget; late answers go through
   the customer-service API.
Results: bench/results/callback.json and a table on the terminal.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

from bot.simulator import WeChatSimulator
from bot.stack import ROOT, Stack
from crm.config import Settings

DB_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/jiangxin_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
QUESTIONS = [
    "电池保修多久",
    "退货要几天内",
    "积分怎么查",
    "你好",
    "发票怎么开",
    "维修进度怎么查",
    "电锤和冲击钻有啥区别",
    "谢谢",
    "明天天气怎么样",
    "寄修运费谁出",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


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


def question_bodies(users: int, per_user: int) -> list[tuple[dict[str, str], bytes]]:
    """FAQ-style questions from `users` new users, `per_user` each."""
    out = []
    for turn in range(per_user):
        for number in range(users):
            sim = user(f"o-load-{number}-{secrets.token_hex(3)}")
            out.append(sim.envelope(sim.text_xml(QUESTIONS[(number + turn) % len(QUESTIONS)])))
    return out


def prepare_database() -> None:
    env = {**os.environ, "DATABASE_URL": DB_URL, "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-q",
            "-c",
            "DROP DATABASE IF EXISTS jiangxin_bench",
            "-c",
            "CREATE DATABASE jiangxin_bench",
        ],
        check=True,
        capture_output=True,
    )
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


def main() -> int:
    """Run both parts and print the figures."""
    print("bench: preparing PostgreSQL database jiangxin_bench ...", flush=True)
    prepare_database()
    env = {"DATABASE_URL": DB_URL, "REDIS_URL": REDIS_URL, "APP_ENV": "development"}
    stack = Stack(port=8791, rasa_port=5791, actions_port=5792, env=env)
    bare = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bare:app",
            "--port",
            "8792",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
    )
    print("bench: starting api, Rasa and the action server ...", flush=True)
    stack.start(None)
    results: dict[str, Any] = {}
    try:
        stack.wait_ready(300)
        callback = f"{stack.api_url}/wechat/oa"
        asyncio.run(load(callback, fast_path_bodies(200), 10))  # warm-up
        asyncio.run(load("http://127.0.0.1:8792/wechat/oa", fast_path_bodies(200), 10))
        results["bare_route"] = asyncio.run(
            load("http://127.0.0.1:8792/wechat/oa", fast_path_bodies(2000), 20)
        )
        results["callback_fast_path"] = asyncio.run(load(callback, fast_path_bodies(2000), 20))
        results["fast_path_ratio"] = round(
            results["callback_fast_path"]["per_second"] / results["bare_route"]["per_second"], 3
        )
        results["callback_under_nlu_saturation"] = asyncio.run(
            load(callback, question_bodies(users=60, per_user=5), 60)
        )
        budget = Settings().reply_budget_seconds
        results["reply_budget_ms"] = budget * 1000
        time.sleep(5)  # let the late answers go out through the outbox
        sent = httpx.get(f"{stack.api_url}/sandbox/messages").json()
        results["answers_sent_through_api"] = sum(m["kind"] == "custom" for m in sent)
        results["typing_shown"] = sum(m["kind"] == "typing" for m in sent)
    finally:
        stack.stop()
        bare.terminate()
        bare.wait()
    out = ROOT / "bench" / "results" / "callback.json"
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2))
    _print(results)
    print(f"bench: written to {out.relative_to(ROOT)}")
    return 0


def _print(results: dict[str, Any]) -> None:
    print(
        f"\n{'run':<32}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'errors':>8}"
    )
    for name in ("bare_route", "callback_fast_path", "callback_under_nlu_saturation"):
        r = results[name]
        print(
            f"{name:<32}{r['per_second']:>8}{r['p50_ms']:>9}{r['p95_ms']:>9}{r['p99_ms']:>9}"
            f"{r['max_ms']:>9}{r['errors']:>8}"
        )
    print(f"\nfast path / bare route throughput: {results['fast_path_ratio']:.2f}")
    print(
        f"reply budget {results['reply_budget_ms']:.0f} ms; answers delivered later through the "
        f"customer-service API: {results['answers_sent_through_api']}"
    )


if __name__ == "__main__":
    sys.exit(main())
