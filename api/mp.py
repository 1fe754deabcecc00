"""Mini-program REST: login with a wx.login code, phone binding, and the member's own account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.deps import AppContext, bearer, get_context
from api.limits import per_ip
from bot.mp_login import current_session, login
from bot.mp_phone import bind_phone_number
from crm.db import session_scope
from crm.kv import get_store
from crm.members import account
from crm.members.schemas import MemberCoupons, MemberOverview, MemberPoints
from crm.points.rules import today

router = APIRouter(
    prefix="/api/mp",
    tags=["mini-program"],
    dependencies=[Depends(per_ip("mp", "mp_api_requests_per_ip_per_minute"))],
)
Context = Annotated[AppContext, Depends(get_context)]
Token = Annotated[str, Depends(bearer)]


def identity_id(token: Token) -> int:
    """The WeChat identity behind the bearer token (a FastAPI dependency); 401 without one."""
    return current_session(get_store(), token).identity_id


Identity = Annotated[int, Depends(identity_id)]


class LoginRequest(BaseModel):
    """The code from wx.login()."""

    code: str = Field(min_length=1, max_length=128)


class LoginResponse(BaseModel):
    """Our own session token (WeChat's session_key never leaves the server)."""

    token: str
    expires_in: int


class BindPhoneRequest(BaseModel):
    """The code of a getPhoneNumber button (open-type="getPhoneNumber")."""

    code: str = Field(min_length=1, max_length=128)


@router.post("/login")
async def mp_login(body: LoginRequest, context: Context) -> LoginResponse:
    """Exchange a wx.login code for a session token."""
    ttl = context.settings.mp_session_ttl_seconds
    token, _ = await login(context.mp.api, get_store(), body.code, ttl)
    return LoginResponse(token=token, expires_in=ttl)


@router.post("/bind-phone")
async def mp_bind_phone(body: BindPhoneRequest, context: Context, token: Token) -> MemberOverview:
    """Bind the phone WeChat verified; a till-registered member with it takes this WeChat in."""
    return await bind_phone_number(context.mp.api, get_store(), token, body.code)


@router.get("/me")
def mp_me(identity: Identity) -> MemberOverview:
    """Who the token belongs to: bound or not, tier, points and tier progress."""
    with session_scope() as session:
        return account.overview(session, identity, today())


@router.get("/me/points")
def mp_points(
    identity: Identity,
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> MemberPoints:
    """The member's points ledger, newest first."""
    with session_scope() as session:
        return account.points_page(session, identity, page, size)


@router.get("/me/coupons")
def mp_coupons(identity: Identity) -> MemberCoupons:
    """The member's valid coupons with the code to show at the till."""
    with session_scope() as session:
        return account.valid_coupons(session, identity, today())
