"""Objects the routes share, built once in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from fastapi import Request

from bot.rasa_client import RasaClient
from bot.runtime import ChannelRuntime
from bot.wechat import OfficialAccountCodec
from crm.config import Settings


@dataclass
class AppContext:
    """Everything a request may need beyond its own input."""

    settings: Settings
    http: httpx.AsyncClient
    rasa: RasaClient
    oa_codec: OfficialAccountCodec
    oa_runtime: ChannelRuntime


def get_context(request: Request) -> AppContext:
    """The app's context (a FastAPI dependency)."""
    context: AppContext = request.app.state.context
    return context
