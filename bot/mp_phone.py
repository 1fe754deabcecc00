"""Mini-program phone binding: a getPhoneNumber code -> WeChat's verified number -> membership."""

from __future__ import annotations

import asyncio

from bot.mp_login import current_session
from bot.wechat_api import WeChatAPI, WeChatAPIError
from crm.db import session_scope
from crm.errors import InvalidInput, TooManyRequests, UpstreamUnavailable
from crm.kv import KeyValueStore
from crm.members import account, binding
from crm.members.errors import InvalidCode
from crm.members.schemas import MemberOverview
from crm.points.rules import today


def _map_error(exc: WeChatAPIError) -> Exception:
    if exc.errcode == 40029:
        return InvalidCode("手机号授权已失效，请重新点击「授权手机号」")
    if exc.errcode == 45011:
        return TooManyRequests("操作太频繁，请稍后再试")
    return UpstreamUnavailable("微信手机号服务暂时不可用，请稍后再试")


async def bind_phone_number(
    api: WeChatAPI, store: KeyValueStore, token: str, code: str
) -> MemberOverview:
    """Bind the number the user shared; WeChat verified it, so no SMS code is needed."""
    session = current_session(store, token)
    try:
        info = await api.user_phone_number(code)
    except WeChatAPIError as exc:
        raise _map_error(exc) from exc
    if str(info.get("countryCode", "86")) != "86":
        raise InvalidInput("目前只支持中国大陆手机号绑定会员")
    phone = str(info.get("purePhoneNumber") or "")
    return await asyncio.to_thread(_bind, session.identity_id, phone)


def _bind(identity_id: int, phone: str) -> MemberOverview:
    with session_scope() as db:
        customer = account.customer_of_identity(db, identity_id)
        binding.bind_verified_phone(db, customer.id, phone)
        return account.overview(db, identity_id, today())
