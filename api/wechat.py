"""WeChat callbacks: thin; the protocol lives in bot.wechat and the routing in bot.runtime."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from api.deps import AppContext, get_context
from bot.wechat import ForgedRequest, MalformedPush, query_from_mapping

log = logging.getLogger(__name__)
router = APIRouter(prefix="/wechat", tags=["wechat"])
Context = Annotated[AppContext, Depends(get_context)]

SUCCESS = PlainTextResponse("success")
FORBIDDEN = PlainTextResponse("invalid signature", status_code=403)


@router.get("/oa")
def verify_oa(request: Request, context: Context) -> Response:
    """URL verification: echo `echostr` when the signature is WeChat's."""
    query = query_from_mapping(request.query_params)
    try:
        context.oa_codec.verify(query)
    except ForgedRequest:
        return FORBIDDEN
    return PlainTextResponse(query.echostr)


@router.post("/oa")
async def receive_oa(request: Request, context: Context) -> Response:
    """A push from the official account: answered passively within the budget, else `success`."""
    query = query_from_mapping(request.query_params)
    try:
        push = context.oa_codec.open(query, await request.body())
    except ForgedRequest as exc:
        log.warning("rejected OA push: %s", exc)
        return FORBIDDEN
    except MalformedPush as exc:
        log.warning("malformed OA push ignored: %s", exc)
        return SUCCESS
    try:
        reply = await context.oa_runtime.handle(push)
    except Exception:
        log.exception("OA push %s could not be stored", push.dedup_key)
        return PlainTextResponse("temporarily unavailable", status_code=503)
    if reply is None:
        return SUCCESS
    return Response(context.oa_codec.reply(push, reply, query), media_type="application/xml")
