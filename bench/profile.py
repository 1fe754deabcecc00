"""The api's hot path under pyinstrument: what one push costs the api itself.

The real app (PostgreSQL, Redis, signature, AES, routing, storage, outbox) is driven in-process
through ASGI, one push at a time; Rasa and the WeChat API answer at once from an
httpx.MockTransport, and `asyncio.to_thread` runs inline, so every cost shows on one thread.
Writes bench/results/profile.json (summary, top functions) and profile.txt (the call tree).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pyinstrument import Profiler
from pyinstrument.frame import Frame
from sqlalchemy import event

import bot.routing
from api.main import create_app
from bench.load import Scenario
from bot.simulator import WeChatSimulator
from crm.config import Settings
from crm.db import get_engine

RESULTS = Path(__file__).resolve().parent / "results"
PUSHES = 120
REAL_CLIENT = httpx.AsyncClient
ANSWER = [{"recipient_id": "x", "text": "电池保修两年，凭购买记录即可。"}]


def _mock(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path.endswith("/webhooks/rest/webhook"):
        return httpx.Response(200, json=ANSWER)
    if path.endswith("/status"):
        return httpx.Response(200, json={"model_file": "mock"})
    if "token" in path:
        return httpx.Response(200, json={"access_token": "mock-token", "expires_in": 7200})
    if path.endswith("/user/info"):
        return httpx.Response(200, json={"subscribe": 1})
    return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})


def _mocked_client(*args: Any, **kwargs: Any) -> httpx.AsyncClient:
    """The app's outbound client: Rasa and the WeChat API answer at once."""
    return REAL_CLIENT(*args, **{**kwargs, "transport": httpx.MockTransport(_mock)})


async def _inline(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


APP = ("bot/", "api/", "crm/")


def _steps(root: Frame | None, count: int = 14) -> str:
    """The app's own functions by inclusive time (outermost call only), as % of the total."""
    spent: dict[str, float] = defaultdict(float)
    total = root.time if root else 0.0
    todo: list[tuple[Frame, frozenset[str]]] = [(root, frozenset())] if root else []
    while todo:
        frame, outer = todo.pop()
        name = f"{frame.class_name + '.' if frame.class_name else ''}{frame.function}"
        mine = frame.file_path_short or ""
        if mine.startswith(APP) and name not in outer:
            spent[f"{name}  {mine}"] += frame.time
            outer = outer | {name}
        todo.extend((child, outer) for child in frame.children)
    rows = sorted(spent.items(), key=lambda kv: -kv[1])[:count]
    return "\n".join(f"{100 * t / total:5.1f}%  {name}" for name, t in rows) if total else ""


def _top(root: Frame | None, count: int = 25) -> tuple[str, float]:
    """Functions by their own time (summed over call sites), and the total."""
    own: dict[str, float] = defaultdict(float)
    todo = [root] if root else []
    while todo:
        frame = todo.pop()
        todo.extend(frame.children)
        if frame.is_synthetic:
            continue
        own[f"{frame.function}  {frame.file_path_short}:{frame.line_no}"] += frame.total_self_time
    total = sum(own.values())
    rows = sorted(own.items(), key=lambda kv: -kv[1])[:count]
    text = "\n".join(f"{100 * t / total:5.1f}%  {name}" for name, t in rows)
    return text, total


async def drive(kind: str, pushes: list[tuple[dict[str, str], bytes]]) -> float:
    """Send the pushes one at a time through the app; wall ms per push."""
    settings = Settings()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with REAL_CLIENT(transport=transport, base_url="http://api") as client:
            started = time.perf_counter()
            for params, body in pushes:
                response = await client.post("/wechat/oa", params=params, content=body)
                assert response.status_code == 200, response.text
            elapsed = time.perf_counter() - started
            await asyncio.sleep(0.2)  # the delivery worker's last round
    return 1000 * elapsed / len(pushes)


def main() -> int:
    settings = Settings()
    keys = (settings.wechat_oa_token, settings.wechat_oa_aes_key, settings.wechat_oa_appid)
    words = [w for conversation in Scenario.load().words() for w in conversation]
    texts, events = [], []
    run = secrets.token_hex(4)  # a fresh set of customers per run, each sending 3 pushes
    for i in range(PUSHES):
        sim = WeChatSimulator("", *keys, openid=f"o-prof-{run}-{i // 3}")
        texts.append(sim.envelope(sim.text_xml(words[i % len(words)])))
        events.append(sim.envelope(sim.event_xml("VIEW", f"https://m.example.com/{i}")))
    calls = {"normalize": 0, "sql": 0, "commit": 0}

    def statement(*_: Any) -> None:
        calls["sql"] += 1

    def commit(*_: Any) -> None:
        calls["commit"] += 1

    event.listen(get_engine(), "before_cursor_execute", statement)
    event.listen(get_engine(), "commit", commit)
    original = bot.routing.normalize  # type: ignore[attr-defined]

    def counting(text: str, *args: Any) -> str:
        calls["normalize"] += 1
        return original(text, *args)

    bot.routing.normalize = counting  # type: ignore[attr-defined,assignment]
    httpx.AsyncClient = _mocked_client  # type: ignore[misc,assignment]
    asyncio.to_thread = _inline
    asyncio.run(drive("warm-up", texts[:20]))
    out: dict[str, Any] = {"pushes": PUSHES, "summary": []}
    trees = []
    for kind, pushes in (("text (Rasa mocked)", texts[20:]), ("fast path (VIEW event)", events)):
        calls.update(normalize=0, sql=0, commit=0)
        profiler = Profiler(interval=0.0005, async_mode="disabled")
        cpu = time.process_time()
        profiler.start()
        per_push = asyncio.run(drive(kind, pushes))
        profiler.stop()
        cpu_per_push = 1000 * (time.process_time() - cpu) / len(pushes)
        root = profiler.last_session.root_frame() if profiler.last_session else None
        top, _ = _top(root)
        per_normalize = calls["normalize"] / len(pushes)
        sql, commits = calls["sql"] / len(pushes), calls["commit"] / len(pushes)
        out["summary"].append(
            f"- {kind}: {per_push:.1f} ms per push one at a time in-process, of which "
            f"{cpu_per_push:.1f} ms CPU (the rest waits on PostgreSQL and Redis); "
            f"{sql:.1f} SQL statements and {commits:.1f} commits; normalize() called "
            f"{per_normalize:.2f} times per push"
        )
        out[kind] = {
            "ms_per_push": round(per_push, 2),
            "cpu_ms_per_push": round(cpu_per_push, 2),
            "normalize_calls_per_push": per_normalize,
            "sql_statements_per_push": round(sql, 1),
            "commits_per_push": round(commits, 2),
        }
        out["top" if kind.startswith("text") else "top_fast"] = top
        out["steps" if kind.startswith("text") else "steps_fast"] = _steps(root)
        trees.append(f"=== {kind} ===\n" + profiler.output_text(unicode=True, show_all=False))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "profile.json").write_text(json.dumps(out, ensure_ascii=False, indent=2))
    (RESULTS / "profile.txt").write_text("\n".join(trees))
    print("\n".join(out["summary"]))
    print(out["top"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
