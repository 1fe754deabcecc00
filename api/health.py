"""GET /healthz: 200 only when the database, Rasa and the action server are all ready."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import AppContext, get_context
from crm.db import session_scope
from crm.knowledge.service import count_faqs

router = APIRouter(tags=["health"])


def _database_ready() -> bool:
    try:
        with session_scope() as session:
            session.execute(text("SELECT 1"))
            return count_faqs(session) > 0
    except Exception:
        return False


async def _actions_ready(http: httpx.AsyncClient, url: str) -> bool:
    try:
        response = await http.get(f"{url.rstrip('/')}/health", timeout=2)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


@router.get("/healthz")
async def healthz(context: Annotated[AppContext, Depends(get_context)]) -> JSONResponse:
    """Readiness of every part the bot needs to answer a customer."""
    database, rasa, actions = await asyncio.gather(
        asyncio.to_thread(_database_ready),
        context.rasa.ready(),
        _actions_ready(context.http, context.settings.action_server_url),
    )
    checks: dict[str, Any] = {"database": database, "rasa": rasa, "actions": actions}
    ok = all(checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )
