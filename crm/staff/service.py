"""Staff accounts: create, authenticate (with lockout), browser sessions, and role checks."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from functools import cache
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crm.config import get_settings
from crm.db import SHANGHAI, as_utc, utcnow
from crm.errors import Conflict, Forbidden, InvalidInput, Locked, NotFound, Unauthorized
from crm.knowledge.models import Store
from crm.staff.models import ROLES, StaffSession, StaffUser

ROLE_LABELS = {"agent": "客服", "supervisor": "主管", "admin": "管理员"}
SUPERVISORS = ("supervisor", "admin")
MIN_PASSWORD_LENGTH = 8
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
BAD_CREDENTIALS = "用户名或密码不正确"
USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,49}$")

_hasher = PasswordHasher()


class StaffLike(Protocol):
    """Anything that carries a role and a store: a StaffUser or a web StaffContext."""

    @property
    def role(self) -> str: ...

    @property
    def store_id(self) -> str | None: ...


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (the password itself is never stored)."""
    return _hasher.hash(password)


def token_hash(token: str) -> str:
    """What the sessions table keeps of a cookie token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    session: Session,
    username: str,
    display_name: str,
    password: str,
    role: str,
    store_id: str | None = None,
) -> StaffUser:
    """A new active staff account; the username is unique, the password ≥ 8 characters."""
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise InvalidInput("用户名须为 2–50 位小写字母、数字或 _ . -，并以字母或数字开头")
    if not display_name.strip() or len(display_name.strip()) > 50:
        raise InvalidInput("显示名称不能为空，且不超过 50 个字")
    if role not in ROLES:
        raise InvalidInput(f"角色须为 {', '.join(ROLES)} 之一")
    _check_password(password)
    if store_id is not None and session.get(Store, store_id) is None:
        raise InvalidInput(f"门店 {store_id} 不存在")
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise Conflict(f"用户名 {username} 已被使用")
    user = StaffUser(
        username=username,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        role=role,
        store_id=store_id,
        active=True,
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, username: str) -> StaffUser:
    """The account named `username`."""
    user = _find(session, username)
    if user is None:
        raise NotFound(f"没有用户 {username}")
    return user


def list_users(session: Session) -> list[StaffUser]:
    """Every account, by username."""
    return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))


def set_password(session: Session, user: StaffUser, password: str) -> None:
    """Replace the password; every open session of the account is closed."""
    _check_password(password)
    user.password_hash = hash_password(password)
    session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    session.flush()


def unlock(session: Session, user: StaffUser) -> None:
    """Lift a lockout and forget the failed attempts."""
    user.failed_logins = 0
    user.locked_until = None
    session.flush()


def authenticate(session: Session, username: str, password: str, ip: str | None) -> StaffUser:
    """The account if the password is right; failures are flushed before raising (commit them)."""
    user = _find(session, username, for_update=True)
    if user is None:
        _burn_time(password)  # as slow as a real check: timing does not reveal the username
        raise Unauthorized(BAD_CREDENTIALS)
    now = utcnow()
    if user.locked_until is not None:
        if as_utc(user.locked_until) > now:
            raise _locked(user.locked_until)
        user.failed_logins, user.locked_until = 0, None  # the lock ran out: a fresh start
    if not _verify(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
        session.flush()
        if user.locked_until is not None:
            raise _locked(user.locked_until)
        raise Unauthorized(BAD_CREDENTIALS)
    if not user.active:
        raise Forbidden("该账号已停用，请联系管理员")
    user.failed_logins = 0
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.flush()
    return user


def open_session(session: Session, user: StaffUser, ip: str | None) -> tuple[str, StaffSession]:
    """A new browser session: (the cookie token, the row that keeps only its hash)."""
    now = utcnow()
    session.execute(  # the user's stale sessions go when they log in again
        delete(StaffSession).where(StaffSession.user_id == user.id, StaffSession.expires_at <= now)
    )
    token = secrets.token_urlsafe(32)
    staff_session = StaffSession(
        token_hash=token_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=now + _lifetime(),
        last_seen_at=now,
        ip=(ip or "")[:64] or None,
    )
    session.add(staff_session)
    session.flush()
    return token, staff_session


def session_for(session: Session, token: str | None) -> StaffSession | None:
    """The live session of a cookie token, its expiry pushed back; None if unknown or expired."""
    if not token:
        return None
    found = session.scalars(
        select(StaffSession).where(StaffSession.token_hash == token_hash(token))
    ).first()
    now = utcnow()
    if found is None or as_utc(found.expires_at) <= now or not found.user.active:
        return None
    found.expires_at = now + _lifetime()
    found.last_seen_at = now
    session.flush()
    return found


def close_session(session: Session, token: str | None) -> None:
    """Log the browser out: its session row is deleted."""
    if token:
        session.execute(delete(StaffSession).where(StaffSession.token_hash == token_hash(token)))
        session.flush()


def has_role(user: StaffLike, *roles: str) -> bool:
    """True when the user's role is one of `roles`."""
    return user.role in roles


def can_see_store(user: StaffLike, store_id: str | None) -> bool:
    """Agents of a store see its customers and those of no store; everyone else sees all."""
    return user.role in SUPERVISORS or user.store_id is None or store_id in (None, user.store_id)


def _find(session: Session, username: str, for_update: bool = False) -> StaffUser | None:
    stmt = select(StaffUser).where(StaffUser.username == username.strip().lower())
    return session.scalars(stmt.with_for_update() if for_update else stmt).first()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"密码至少 {MIN_PASSWORD_LENGTH} 位")
    if len(password) > 256:
        raise InvalidInput("密码不超过 256 位")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _burn_time(password: str) -> None:
    _verify(_dummy_hash(), password)


def _locked(until: datetime) -> Locked:
    local = as_utc(until).astimezone(SHANGHAI).strftime("%H:%M")
    return Locked(
        f"密码连续输错 {MAX_FAILED_LOGINS} 次，账号已锁定，请于 {local} 后再试，或联系管理员解锁",
        until=as_utc(until),
    )


def _lifetime() -> timedelta:
    return timedelta(minutes=get_settings().staff_session_minutes)
