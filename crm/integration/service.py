"""Integration clients (create, authenticate, list, revoke) and writes done once per key.

A client's write runs in one unit of work with its idempotency record: the record is claimed
(inserted) first, so a concurrent retry under the same key waits on the unique index and then
replays; the operation runs; its response is stored. An error rolls back the operation and the
claim together, so only successes are remembered and a failed request may be sent again.
Records are kept RETENTION (7 days); `purge_idempotency_records` deletes older ones, after
which the domain's own keys (points ledger, one-use coupons) still stop a late duplicate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.config import get_settings
from crm.db import rowcount, utcnow
from crm.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from crm.integration.errors import IdempotencyKeyRequired, IdempotencyKeyReused
from crm.integration.models import SCOPES, IdempotencyRecord, IntegrationClient

KEY_START = "jx_"
PREFIX_LENGTH = 8
RETENTION = timedelta(days=7)
IDEMPOTENCY_KEY_MAX = 80
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
_IDEMPOTENCY_KEY = re.compile(rf"^[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_MAX}}}$")  # visible ASCII
# The demo till of the embedded default (`make seed`): a published key, refused in production.
DEMO_CLIENT_NAME = "demo-pos"
DEMO_CLIENT_KEY = "jx_demo-pos-development-key-not-for-production"
UNAUTHORIZED = "缺少、未知或已吊销的接入密钥（Authorization: Bearer <key>）"


def hash_key(key: str) -> str:
    """sha256 hex of a client key: what is stored instead of the key."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_client(
    session: Session, name: str, scopes: Iterable[str]
) -> tuple[IntegrationClient, str]:
    """A new client and its key; the key is returned this once and never stored."""
    key = KEY_START + secrets.token_urlsafe(32)
    return _add(session, name, scopes, key), key


def ensure_demo_client(session: Session) -> bool:
    """The demo till with the fixed development key and every scope; True if created now."""
    if get_settings().app_env == "production":
        raise Forbidden("演示接入方在生产环境中不可用")
    stmt = select(IntegrationClient).where(IntegrationClient.name == DEMO_CLIENT_NAME)
    if session.scalars(stmt).one_or_none() is not None:
        return False
    _add(session, DEMO_CLIENT_NAME, SCOPES, DEMO_CLIENT_KEY)
    return True


def _add(session: Session, name: str, scopes: Iterable[str], key: str) -> IntegrationClient:
    wanted = sorted(set(scopes))
    if not _NAME.match(name):
        raise InvalidInput("接入方名称为 1–40 个小写字母、数字、点、下划线或连字符")
    unknown = set(wanted) - set(SCOPES)
    if not wanted or unknown:
        known = ", ".join(SCOPES)
        raise InvalidInput(f"权限必须是 {known} 中的一个或多个；未知：{sorted(unknown) or '无'}")
    client = IntegrationClient(
        name=name, key_prefix=key[:PREFIX_LENGTH], key_hash=hash_key(key), scopes=wanted
    )
    try:
        with session.begin_nested():
            session.add(client)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"接入方 {name} 已存在") from exc
    return client


def authenticate(session: Session, key: str, scope: str | None = None) -> IntegrationClient:
    """The live client with `key`; Unauthorized if unknown or revoked, Forbidden without `scope`."""
    presented = hash_key(key)
    found = None
    stmt = select(IntegrationClient).where(IntegrationClient.key_prefix == key[:PREFIX_LENGTH])
    for candidate in session.scalars(stmt):
        if hmac.compare_digest(candidate.key_hash, presented):
            found = candidate
    demo_in_production = key == DEMO_CLIENT_KEY and get_settings().app_env == "production"
    if not key or found is None or found.revoked_at is not None or demo_in_production:
        raise Unauthorized(UNAUTHORIZED)
    if scope is not None and scope not in found.scopes:
        raise Forbidden(f"接入方 {found.name} 没有 {scope} 权限")
    return found


def list_clients(session: Session) -> list[IntegrationClient]:
    """Every client, revoked ones included, by name."""
    return list(session.scalars(select(IntegrationClient).order_by(IntegrationClient.name)))


def revoke(session: Session, name: str) -> IntegrationClient:
    """Stop the client's key from working (at once, for good); revoking twice changes nothing."""
    client = session.scalars(
        select(IntegrationClient).where(IntegrationClient.name == name)
    ).one_or_none()
    if client is None:
        raise NotFound(f"没有名为 {name} 的接入方")
    if client.revoked_at is None:
        client.revoked_at = utcnow()
        session.flush()
    return client


@dataclass(frozen=True)
class Outcome:
    """A write's response: the status and JSON body, and whether it is a replay."""

    status_code: int
    body: dict[str, Any]
    replayed: bool = False


def checked_idempotency_key(raw: str | None) -> str:
    """The Idempotency-Key header's value; IdempotencyKeyRequired when missing or unusable."""
    key = (raw or "").strip()
    if not _IDEMPOTENCY_KEY.match(key):
        raise IdempotencyKeyRequired(
            f"写请求必须带 Idempotency-Key 请求头：1–{IDEMPOTENCY_KEY_MAX} 个可见 ASCII 字符，"
            "每个新请求一个新值，重试时用原值"
        )
    return key


def request_hash(method: str, path: str, body: Any) -> str:
    """sha256 hex of the request: the same JSON in any key order or spacing hashes the same."""
    canonical = json.dumps(
        {"method": method.upper(), "path": path, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def replay(session: Session, client_id: int, key: str, fingerprint: str) -> Outcome | None:
    """The remembered response of `key`; IdempotencyKeyReused if it was another request."""
    record = session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key
        )
    ).one_or_none()
    if record is None:
        return None
    if not hmac.compare_digest(record.request_hash, fingerprint):
        raise IdempotencyKeyReused("Idempotency-Key 已用于另一个请求")
    return Outcome(record.status_code, record.response, replayed=True)


def remember(
    session: Session,
    client_id: int,
    key: str,
    fingerprint: str,
    operation: Callable[[], BaseModel],
    status_code: int = 200,
) -> Outcome:
    """The remembered response of `key`, or run `operation` once and remember its response."""
    key = checked_idempotency_key(key)
    known = replay(session, client_id, key, fingerprint)
    if known is not None:
        return known
    record = IdempotencyRecord(
        client_id=client_id, key=key, request_hash=fingerprint, status_code=0, response={}
    )
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()  # waits for a concurrent request with this key to finish
    except IntegrityError as exc:
        known = replay(session, client_id, key, fingerprint)
        if known is None:
            raise Conflict("同一 Idempotency-Key 的请求正在处理，请稍后重试") from exc
        return known
    body = operation().model_dump(mode="json")
    record.status_code, record.response = status_code, body
    session.flush()
    return Outcome(status_code, body)


def purge_idempotency_records(
    session: Session, now: datetime | None = None, keep: timedelta = RETENTION
) -> int:
    """Delete the records older than `keep` (default 7 days); how many."""
    cutoff = (now or utcnow()) - keep
    result = session.execute(
        delete(IdempotencyRecord)
        .where(IdempotencyRecord.created_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)
