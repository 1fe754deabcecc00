"""WeChat callbacks: thin; the protocol lives in bot.wechat and the routing in bot.runtime."""

from __future__ import annotations

import logging
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from api.deps import AppContext, Channel, get_context
from api.limits import count_forged, forging_blocked
from bot.wechat import ForgedRequest, MalformedPush, query_from_mapping
from crm.metrics import CALLBACK_SECONDS, MESSAGES_IN, MESSAGES_OUT

log = logging.getLogger(__name__)
router = APIRouter(prefix="/wechat", tags=["wechat"])
Context = Annotated[AppContext, Depends(get_context)]


def _success() -> Response:
    return PlainTextResponse("success")


def _forbidden() -> Response:
    return PlainTextResponse("invalid signature", status_code=403)


def _verify(request: Request, channel: Channel) -> Response:
    if forging_blocked(request):
        return _forbidden()
    query = query_from_mapping(request.query_params)
    try:
        channel.codec.verify(query)
    except ForgedRequest:
        count_forged(request)
        return _forbidden()
    return PlainTextResponse(query.echostr)


async def _receive(request: Request, channel: Channel, name: str) -> Response:
    received_at = time.monotonic()
    if forging_blocked(request):  # before any crypto work
        return _forbidden()
    query = query_from_mapping(request.query_params)
    try:
        push = channel.codec.open(query, await request.body(), channel.formats)
    except ForgedRequest as exc:
        log.warning("rejected %s push: %s", name, exc)
        count_forged(request)
        return _forbidden()
    except MalformedPush as exc:
        log.warning("malformed %s push ignored: %s", name, exc)
        return _success()
    channel_name = name.lower()
    MESSAGES_IN.labels(channel_name, push.msg_type).inc()
    try:
        reply = await channel.runtime.handle(push, received_at)
    except Exception:
        log.exception("%s push %s could not be stored", name, push.dedup_key)
        return PlainTextResponse("temporarily unavailable", status_code=503)
    finally:
        CALLBACK_SECONDS.labels(channel_name).observe(time.monotonic() - received_at)
    if reply is None:
        return _success()
    MESSAGES_OUT.labels(channel_name, "passive").inc()
    return Response(channel.codec.reply(push, reply, query), media_type="application/xml")


@router.get("/oa")
def verify_oa(request: Request, context: Context) -> Response:
    """Official-account URL verification: echo `echostr` when the signature is WeChat's."""
    return _verify(request, context.oa)


@router.post("/oa")
async def receive_oa(request: Request, context: Context) -> Response:
    """An official-account push: a passive reply within the budget, else `success`."""
    return await _receive(request, context.oa, "OA")


@router.get("/mp")
def verify_mp(request: Request, context: Context) -> Response:
    """Mini-program message-push URL verification."""
    return _verify(request, context.mp)


@router.post("/mp")
async def receive_mp(request: Request, context: Context) -> Response:
    """A mini-program customer-service push (XML or JSON): `success`, replies via the API."""
    return await _receive(request, context.mp, "MP")
