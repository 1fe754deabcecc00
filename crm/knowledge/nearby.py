"""The store nearest to a customer's location (a WeChat location message)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm.knowledge.models import Store
from crm.knowledge.service import nearest_stores

NEARBY_KM = 50.0
NOT_STORES = {"JX-RC01"}  # the repair centre takes no walk-in customers for sales
NEAREST_STORE = (
    "离您最近的门店是{name}（约 {km:.1f} 公里）\n地址：{address}\n电话：{phone}\n营业时间：{hours}"
)
NO_STORE_NEARBY = "".join(
    (
        "您附近 50 公里内暂时没有匠心五金门店。",
        "我们在杭州有 4 家、宁波有 2 家门店，也可以通过小程序下单或寄修。",
    )
)


def nearest_store(
    session: Session, latitude: float, longitude: float
) -> tuple[Store, float] | None:
    """The nearest store within NEARBY_KM, with its distance, or None."""
    ranked = [
        (s, km) for s, km in nearest_stores(session, latitude, longitude) if s.id not in NOT_STORES
    ]
    if not ranked or ranked[0][1] > NEARBY_KM:
        return None
    return ranked[0]


def nearest_store_text(session: Session, latitude: float, longitude: float) -> str:
    """「离您最近的门店是…」 with address, phone and hours, or the no-store-nearby text."""
    found = nearest_store(session, latitude, longitude)
    if found is None:
        return NO_STORE_NEARBY
    store, km = found
    return NEAREST_STORE.format(
        name=store.name,
        km=km,
        address=store.address,
        phone=store.phone,
        hours=store.data.get("opening_hours") or "以门店公告为准",
    )
