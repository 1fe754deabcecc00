"""Mini-program REST: login with a wx.login code, and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.deps import AppContext, bearer, get_context
from bot.mp_login import current_session, login
from crm.kv import get_store

router = APIRouter(prefix="/api/mp", tags=["mini-program"])
Context = Annotated[AppContext, Depends(get_context)]


class LoginRequest(BaseModel):
    """The code from wx.login()."""

    code: str = Field(min_length=1, max_length=128)


class LoginResponse(BaseModel):
    """Our own session token (WeChat's session_key never leaves the server)."""

    token: str
    expires_in: int


class MeResponse(BaseModel):
    """The logged-in mini-program user."""

    customer_id: int
    linked_to_official_account: bool


@router.post("/login")
async def mp_login(body: LoginRequest, context: Context) -> LoginResponse:
    """Exchange a wx.login code for a session token."""
    ttl = context.settings.mp_session_ttl_seconds
    token, _ = await login(context.mp.api, get_store(), body.code, ttl)
    return LoginResponse(token=token, expires_in=ttl)


@router.get("/me")
def mp_me(token: Annotated[str, Depends(bearer)]) -> MeResponse:
    """Who the token belongs to."""
    session = current_session(get_store(), token)
    return MeResponse(
        customer_id=session.customer_id,
        linked_to_official_account=session.linked_to_official_account,
    )
