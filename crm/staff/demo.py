"""Demo back-office accounts for the embedded default: the same logins on every run."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.config import get_settings
from crm.errors import Forbidden, NotFound
from crm.knowledge.models import Store
from crm.staff.models import StaffUser
from crm.staff.service import create_user

DEMO_STAFF_PASSWORD = "jiangxin-demo"
# (username, display name, role, index of the agent's store among the stores by id, or None).
ACCOUNTS = [
    ("agent1", "小王", "agent", 0),
    ("agent2", "小李", "agent", 1),
    ("super1", "陈主管", "supervisor", None),
    ("admin", "管理员", "admin", None),
]
DEMO_USERNAMES = [a[0] for a in ACCOUNTS]


def demo_accounts(session: Session) -> list[tuple[str, str, str, str | None]]:
    """(username, display name, role, store id) of each demo account."""
    # The repair centre (JX-RC01) has no customers of its own; agents belong to the stores.
    stores = list(
        session.scalars(select(Store.id).where(~Store.id.startswith("JX-RC")).order_by(Store.id))
    )
    if len(stores) < 2:
        raise NotFound("the knowledge base is not loaded: run `make kb` first")
    return [
        (username, name, role, None if index is None else stores[index])
        for username, name, role, index in ACCOUNTS
    ]


def seed_demo_staff(session: Session) -> int:
    """Create the missing demo accounts (password DEMO_STAFF_PASSWORD); how many were created."""
    if get_settings().app_env == "production":
        raise Forbidden("demo accounts are refused when APP_ENV=production")
    accounts = demo_accounts(session)
    present = set(
        session.scalars(select(StaffUser.username).where(StaffUser.username.in_(DEMO_USERNAMES)))
    )
    created = 0
    for username, name, role, store_id in accounts:
        if username not in present:
            create_user(session, username, name, DEMO_STAFF_PASSWORD, role, store_id)
            created += 1
    return created
