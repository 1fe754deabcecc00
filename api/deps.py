"""Objects the routes share, built once in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import httpx
from fastapi import Header, Request

from bot.delivery import DeliveryWorker
from bot.rasa_client import RasaClient
from bot.runtime import ChannelRuntime
from bot.spool import Spool
from bot.wechat import WeChatCodec
from bot.wechat_api import WeChatAPI
from crm.config import Settings


@dataclass
class Channel:
    """One WeChat account: how its pushes are opened and who answers them."""

    codec: WeChatCodec
    runtime: ChannelRuntime
    api: WeChatAPI
    formats: tuple[str, ...]


@dataclass
class AppContext:
    """Everything a request may need beyond its own input."""

    settings: Settings
    http: httpx.AsyncClient
    rasa: RasaClient
    oa: Channel
    mp: Channel
    worker: DeliveryWorker
    spool: Spool  # pushes that could not be stored, shared by both channels and the recovery


def context_of(request: Request) -> AppContext:
    """The app's context."""
    context: AppContext = request.app.state.context
    return context


async def get_context(request: Request) -> AppContext:
    """The app's context (a FastAPI dependency; async, so no worker thread per request)."""
    return context_of(request)


def bearer(authorization: Annotated[str, Header()] = "") -> str:
    """The token of an `Authorization: Bearer …` header ('' when absent)."""
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
