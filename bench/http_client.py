"""`python -m bench.http_client`: CPU per request of the api's outbound client against httpx's own.

Both send the same POST (the size of a customer-service message) to the bare route (bench/bare.py,
its own process) with 1, 16 and 64 requests at once, alternating, `--requests` each; printed:
this process's CPU ms per request, requests per second, and outbound's CPU as a fraction of
httpx's (httpcore's pool) in the same round. No figure is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Callable

import httpx

from bot import outbound
from bot.stack import ROOT, free_port, http_ok

BODY = b'{"touser": "o-bench", "msgtype": "text", "text": {"content": "' + 60 * b"x" + b'"}}'


def _httpx() -> httpx.AsyncClient:
    connections = outbound.CONNECTIONS
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(limits=limits)


async def measure(
    make: Callable[[], httpx.AsyncClient], url: str, requests: int, at_once: int
) -> tuple[float, float]:
    """(CPU ms per request, requests per second) of `requests` POSTs, `at_once` at a time."""
    async with make() as http:
        await http.post(url, content=BODY)  # the first connection is not what is measured
        gate = asyncio.Semaphore(at_once)

        async def one() -> None:
            async with gate:
                response = await http.post(
                    url, params={"access_token": "T"}, content=BODY, timeout=10
                )
                response.raise_for_status()

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return 1000 * cpu / requests, requests / wall


def _row(at_once: int, name: str, figures: tuple[float, float], ratio: str) -> None:
    cpu, rate = figures
    print(f"{at_once:7d}  {name:22s}  {cpu:14.2f}  {rate:10.0f}  {ratio}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_client", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args(argv)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.bare:app", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/wechat/oa"
    try:
        deadline = time.monotonic() + 30
        while not http_ok(f"http://127.0.0.1:{port}/docs"):
            if time.monotonic() > deadline:
                raise SystemExit("the bare route did not start")
            time.sleep(0.2)
        print("at once  client                  CPU ms/request  requests/s  CPU vs httpx")
        for at_once in (1, 16, 64):
            plain = asyncio.run(measure(_httpx, url, args.requests, at_once))
            ours = asyncio.run(measure(outbound.client, url, args.requests, at_once))
            _row(at_once, "httpx (httpcore pool)", plain, "baseline")
            _row(at_once, "outbound (aiohttp)", ours, f"{ours[0] / plain[0]:.2f}x")
    finally:
        server.terminate()
        server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
