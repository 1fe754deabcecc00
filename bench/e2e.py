"""`make bench`: end-to-end load through WeChat on PostgreSQL, Redis and the real Rasa model.

1. Baselines: a bare FastAPI route; Rasa's REST webhook called directly with the scenario's
   words (its throughput is the saturation point).
2. End to end: virtual users (bench/load.py, bench/scenario.yml) at 0.5x, 1x, 2x and 4x that
   saturation, through the signed, safe-mode OA callback; replies passive or through the
   customer-service API, which a sandbox process records.
3. Scaling: 1 and 2 Rasa replicas x 1 and 2 api workers at one overload level.
4. A profile of the api's hot path (bench/profile.py).
Results: bench/results/e2e.json, e2e.md, latency.png; a table on the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import subprocess
import sys
import time
from typing import Any

import httpx
import redis

from bench import report
from bench.callback import DB_URL, REDIS_URL, fast_path_bodies, load, prepare_database
from bench.load import Customers, Mailbox, Scenario, percentile, summarise
from bench.procs import Usage
from bot import replies
from bot.rasa_client import RasaClient
from bot.stack import ROOT, Stack, free_port

LEVELS = (0.5, 1.0, 2.0, 4.0)
SCALING = ((2, 1), (1, 2), (2, 2))  # (Rasa replicas, api workers); (1, 1) is the main run
SCALING_LEVEL = 2.0
RESULTS = ROOT / "bench" / "results"
WARM_UP_SECONDS = 10.0
DIRECT_SECONDS = 7.0
# The bench's figures would be distorted by a per-user limit meant for abusers.
APP_ENV = {
    "DATABASE_URL": DB_URL,
    "REDIS_URL": REDIS_URL,
    "APP_ENV": "development",
    "OPENID_MESSAGES_PER_MINUTE": "1000",
    "SCHEDULED_JOBS": "false",
}


def say(text: str) -> None:
    print(f"bench [{time.strftime('%H:%M:%S')}] {text}", flush=True)


async def direct_rasa(
    urls: list[str], scenario: Scenario, seconds: float, senders: int
) -> dict[str, Any]:
    """Rasa's REST webhook with the scenario's words, `senders` conversations at a time, drawn
    with the scenario's weights as the virtual users draw them."""
    latencies: list[float] = []
    rng = random.Random(senders)
    async with httpx.AsyncClient(timeout=60) as http:
        rasa = RasaClient(",".join(urls), http)
        deadline = time.monotonic() + seconds

        async def sender(number: int) -> None:
            turn = 0
            while time.monotonic() < deadline:
                _, steps = scenario.pick(rng)
                name = f"direct-{number}-{turn}-{time.monotonic_ns()}"
                turn += 1
                for text in (step.words for step in steps if step.nlu):
                    if time.monotonic() >= deadline:
                        return
                    started = time.perf_counter()
                    await rasa.send(name, text, {})
                    latencies.append(time.perf_counter() - started)

        started = time.monotonic()
        await asyncio.gather(*(sender(i) for i in range(senders)))
        elapsed = time.monotonic() - started
    return {
        "rasa_servers": len(urls),
        "senders": senders,
        "turns": len(latencies),
        "per_second": round(len(latencies) / elapsed, 2),
        "p50_ms": round(1000 * percentile(latencies, 0.5), 1),
        "p95_ms": round(1000 * percentile(latencies, 0.95), 1),
        "p99_ms": round(1000 * percentile(latencies, 0.99), 1),
    }


async def scrape(http: httpx.AsyncClient, api_url: str) -> dict[str, float]:
    """/metrics as {name{labels}: value}."""
    from prometheus_client.parser import text_string_to_metric_families

    text = (await http.get(f"{api_url}/metrics", timeout=10)).text
    return {
        s.name + json.dumps(s.labels, sort_keys=True): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def metric_figures(
    before: dict[str, float], after: dict[str, float], backlog_max: float
) -> dict[str, Any]:
    """What the api's /metrics said about a level (differences of its counters)."""

    def total(prefix: str, **labels: str) -> float:
        return sum(
            after[k] - before.get(k, 0.0)
            for k in after
            if k.startswith(prefix + "{") and all(f'"{n}": "{v}"' in k for n, v in labels.items())
        )

    rasa_count = total("jiangxin_rasa_seconds_count")
    return {
        "messages_in": total("jiangxin_messages_in_total"),
        "messages_out_passive": total("jiangxin_messages_out_total", via="passive"),
        "messages_out_api": total("jiangxin_messages_out_total", via="custom"),
        "callbacks": total("jiangxin_callback_seconds_count"),
        "callbacks_within_1_s": total("jiangxin_callback_seconds_bucket", le="1.0"),
        "callbacks_within_4_5_s": total("jiangxin_callback_seconds_bucket", le="4.5"),
        "deferred_busy": total("jiangxin_replies_deferred_total", why="busy"),
        "deferred_late": total("jiangxin_replies_deferred_total", why="late"),
        "rasa_calls": rasa_count,
        "rasa_mean_ms": round(1000 * total("jiangxin_rasa_seconds_sum") / rasa_count, 1)
        if rasa_count
        else 0.0,
        "outbox_backlog_max": backlog_max,
        "outbox_backlog_end": after.get("jiangxin_outbox_backlog{}", 0.0),
        "handoff_queue_end": after.get("jiangxin_handoff_queue_length{}", 0.0),
    }


async def run_level(
    api: Stack, sandbox_url: str, scenario: Scenario, users: int, seconds: float, usage: Usage
) -> dict[str, Any]:
    """One load level: play, drain the replies, summarise, read /metrics and the processes."""
    async with httpx.AsyncClient(timeout=30) as http:  # the mailbox and /metrics
        mailbox = Mailbox(http, sandbox_url)
        await mailbox.skip_old()
        poller = asyncio.create_task(mailbox.poll_forever())
        before = await scrape(http, api.api_url)
        customers = Customers(f"{api.api_url}/wechat/oa", scenario, mailbox, seed=users)
        backlog = [0.0]

        async def watch() -> None:
            while True:
                await asyncio.sleep(2)
                usage.sample()
                with contextlib.suppress(httpx.HTTPError):
                    backlog.append((await scrape(http, api.api_url))["jiangxin_outbox_backlog{}"])

        watcher = asyncio.create_task(watch())
        usage.start()
        elapsed = await customers.run(users, seconds)
        cpu = usage.stop()
        drain_started = time.monotonic()
        while time.monotonic() - drain_started < 60:  # replies still on their way
            after = await scrape(http, api.api_url)
            if after["jiangxin_outbox_backlog{}"] == 0:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)
        watcher.cancel()
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        after = await scrape(http, api.api_url)
    customers.attribute()
    figures = summarise(customers.sent, elapsed, replies.BUSY, scenario.ramp_seconds)
    figures["users"] = users
    figures["drain_seconds"] = round(time.monotonic() - drain_started, 1)
    figures["metrics"] = metric_figures(before, after, max(backlog))
    figures["cpu_ms_per_push"] = {
        k: round(v / max(1, figures["pushes"]), 2) for k, v in cpu.items()
    }
    figures["rss_mb"] = usage.rss_mb()
    figures["machine"] = usage.machine
    figures["busiest_thread"] = usage.busiest
    return figures


def users_for(level: float, saturation: float, scenario: Scenario, base_seconds: float) -> int:
    """Virtual users whose Rasa-bound messages arrive at `level` x saturation when unqueued."""
    cycle = scenario.think_mean + base_seconds
    return max(1, math.ceil(level * saturation * cycle / scenario.nlu_fraction))


def start_api(backend: Stack, rasa_replicas: int, workers: int) -> Stack:
    api = Stack(
        port=free_port(),
        rasa_port=backend.rasa_port,
        more_rasa_ports=backend.more_rasa_ports[: rasa_replicas - 1],
        actions_port=backend.actions_port,
        sandbox_port=backend.sandbox_port,
        with_rasa=False,
        api_workers=workers,
        env=APP_ENV,
    )
    api.start(None)
    api.wait_ready(120)
    return api


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each load level")
    parser.add_argument(
        "--scaling-seconds", type=float, default=12.0, help="length of each scaling run"
    )
    parser.add_argument("--no-scaling", action="store_true", help="only 1 Rasa x 1 api worker")
    args = parser.parse_args(argv)
    wall = time.monotonic()
    scenario = Scenario.load()
    say("preparing PostgreSQL database jiangxin_bench and Redis db 14 ...")
    prepare_database()
    redis.Redis.from_url(REDIS_URL).flushdb()
    backend = Stack(
        rasa_port=free_port(),
        more_rasa_ports=(free_port(),),
        actions_port=free_port(),
        sandbox_port=free_port(),
        with_api=False,
        with_sandbox=True,
        endpoints="bench/endpoints.yml",
        env=APP_ENV,
    )
    bare_port = free_port()
    bare = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bare:app",
            "--port",
            str(bare_port),
        ],
        cwd=ROOT,
        # Served like the api (same uvicorn settings, access log included), output discarded.
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    say("starting 2 Rasa servers, the action server and the WeChat sandbox (about a minute) ...")
    backend.start(None)
    results: dict[str, Any] = {
        "scenario": {
            "think_seconds": scenario.think,
            "nlu_fraction": round(scenario.nlu_fraction, 3),
        }
    }
    api: Stack | None = None
    try:
        results["startup_seconds"] = round(backend.wait_ready(400), 1)
        assert backend.sandbox_url is not None
        say("warming Rasa up (its first few hundred turns are slower than the rest) ...")
        asyncio.run(direct_rasa(backend.rasa_urls[:1], scenario, WARM_UP_SECONDS, 8))
        say("baseline: Rasa's REST webhook directly, 1 server, then 2 ...")
        # One conversation at a time: the unqueued turn time, which sizes the load levels.
        results["rasa_unloaded"] = asyncio.run(direct_rasa(backend.rasa_urls[:1], scenario, 6, 1))
        results["rasa_direct_2"] = _direct(backend, 2, scenario, 10, 16)
        # Rasa alone again after every main level: each level is compared with the mean of the
        # measurements just before and just after it (the machine's speed drifts in minutes).
        series = [_direct(backend, 1, scenario, DIRECT_SECONDS, 8)]
        results["rasa_direct"], results["rasa_direct_series"] = series[0], series
        saturation = series[0]["per_second"]
        base = results["rasa_unloaded"]["p50_ms"] / 1000
        say(f"  Rasa saturates at {saturation} turns/s (p50 {base * 1000:.0f} ms)")
        configs = [(1, 1)] + ([] if args.no_scaling else list(SCALING))
        results["runs"] = []
        for replicas, workers in configs:
            say(f"api with {workers} worker(s) over {replicas} Rasa server(s) ...")
            main_run = (replicas, workers) == (1, 1)
            api = start_api(backend, replicas, workers)
            usage = Usage(
                {
                    "api": api.processes["api"].pid,
                    **{n: p.pid for n, p in backend.processes.items()},
                }
            )
            if main_run:
                results.update(fast_path(api, bare_port))
                say(
                    f"  fast path {results['callback_fast_path']['per_second']} req/s = "
                    f"{results['fast_path_ratio']:.2f} x bare route"
                )
            levels = LEVELS if main_run else (SCALING_LEVEL,)
            seconds = args.seconds if main_run else args.scaling_seconds
            for level in levels:
                users = users_for(level, saturation, scenario, base)
                say(f"  {level}x saturation: {users} users for {seconds:.0f} s ...")
                figures = asyncio.run(
                    run_level(api, backend.sandbox_url, scenario, users, seconds, usage)
                )
                figures.update(level=level, rasa_servers=replicas, api_workers=workers)
                if main_run:
                    series.append(_direct(backend, 1, scenario, DIRECT_SECONDS, 8))
                    reference = (series[-2]["per_second"] + series[-1]["per_second"]) / 2
                elif replicas == 2:
                    reference = results["rasa_direct_2"]["per_second"]
                else:
                    reference = sum(d["per_second"] for d in series) / len(series)
                figures["rasa_reference"] = round(reference, 2)
                figures["x_rasa"] = round(figures["nlu_answered_per_second"] / reference, 3)
                results["runs"].append(figures)
                say("    " + report.brief(figures))
            if main_run:
                say("profiling the api's hot path (bench/profile.py) ...")
                results["profile"] = profile(backend)
            api.stop()
            api = None
    finally:
        if api is not None:
            api.stop()
        backend.stop()
        bare.terminate()
        bare.wait()
    results["wall_seconds"] = round(time.monotonic() - wall, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    report.write(results, RESULTS)
    print(report.table(results))
    say(f"bench/results/e2e.json, e2e.md, latency.png written; {results['wall_seconds']:.0f} s")
    return 0


def fast_path(api: Stack, bare_port: int) -> dict[str, Any]:
    """Pushes needing no NLU (signature, AES, dedup, store, `success`) against the bare route."""
    callback = f"{api.api_url}/wechat/oa"
    bare = f"http://127.0.0.1:{bare_port}/wechat/oa"
    asyncio.run(load(callback, fast_path_bodies(200), 10))  # warm-up
    asyncio.run(load(bare, fast_path_bodies(200), 10))
    # Alternating rounds, so that other work on the machine weighs on both alike.
    rounds: dict[str, list[dict[str, Any]]] = {"bare_route": [], "callback_fast_path": []}
    for _ in range(2):
        for name, url in (("bare_route", bare), ("callback_fast_path", callback)):
            rounds[name].append(asyncio.run(load(url, fast_path_bodies(500), 20)))
    out: dict[str, Any] = {name: _combined(runs) for name, runs in rounds.items()}
    out["fast_path_ratio"] = round(
        out["callback_fast_path"]["per_second"] / out["bare_route"]["per_second"], 3
    )
    return out


def _direct(
    backend: Stack, servers: int, scenario: Scenario, seconds: float, senders: int
) -> dict[str, Any]:
    """direct_rasa, with how busy the machine was meanwhile."""
    usage = Usage({name: proc.pid for name, proc in backend.processes.items()})
    usage.start()
    figures = asyncio.run(direct_rasa(backend.rasa_urls[:servers], scenario, seconds, senders))
    usage.stop()
    figures["machine"] = usage.machine
    figures["busiest_thread"] = usage.busiest
    return figures


def _combined(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several rounds of bench.callback.load as one: total rate, median percentiles."""
    requests = sum(r["requests"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    out: dict[str, Any] = {
        "requests": requests,
        "seconds": round(seconds, 2),
        "per_second": round(requests / seconds, 1),
        "errors": sum(r["errors"] for r in runs),
        "rounds_per_second": [r["per_second"] for r in runs],
    }
    for key in ("p50_ms", "p95_ms", "p99_ms"):
        out[key] = sorted(r[key] for r in runs)[len(runs) // 2]
    return out


def profile(backend: Stack) -> dict[str, Any]:
    """bench/profile.py in its own process (it builds the api in-process)."""
    env = {
        **os.environ,
        **APP_ENV,
        "PYTHONPATH": str(ROOT),
        "WECHAT_API_BASE": backend.sandbox_url or "",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench.profile"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        say(f"  profile failed: {done.stderr[-500:]}")
        return {"error": done.stderr[-2000:]}
    return dict(json.loads((RESULTS / "profile.json").read_text()))


if __name__ == "__main__":
    sys.exit(main())
