"""Client keys: shown once, stored as a hash, refused when unknown or revoked, scoped."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.errors import Conflict, Forbidden, InvalidInput, Unauthorized
from crm.integration import service
from crm.integration.models import IntegrationClient
from crm.integration.service import (
    DEMO_CLIENT_KEY,
    DEMO_CLIENT_NAME,
    authenticate,
    create_client,
    ensure_demo_client,
    revoke,
)
from tests.crm.integration.conftest import SCOPES, client_name


def test_a_new_client_gets_a_key_shown_once_and_stored_only_as_its_hash(db: Session) -> None:
    client, key = create_client(db, client_name(), ["purchases:write", "refunds:write"])
    assert key.startswith("jx_") and len(key) >= 45
    assert client.key_prefix == key[:8]
    assert client.key_hash == hashlib.sha256(key.encode()).hexdigest()
    row = db.execute(select(IntegrationClient.__table__).where(IntegrationClient.id == client.id))
    assert all(key not in str(value) for value in row.one())
    assert client.scopes == ["purchases:write", "refunds:write"]
    assert authenticate(db, key, "refunds:write").id == client.id
    assert authenticate(db, key).id == client.id
    _, other = create_client(db, client_name(), ["points:redeem"])
    assert other != key


@pytest.mark.parametrize("wrong", ["", "jx_nope", "the key with one more character"])
def test_an_unknown_or_wrong_key_is_unauthorized(db: Session, wrong: str) -> None:
    _, key = create_client(db, client_name(), SCOPES)
    presented = key + "x" if wrong.startswith("the key") else wrong  # same prefix, other hash
    with pytest.raises(Unauthorized):
        authenticate(db, presented, "purchases:write")


def test_a_revoked_key_is_unauthorized_and_revoking_again_changes_nothing(db: Session) -> None:
    client, key = create_client(db, client_name(), SCOPES)
    first = revoke(db, client.name).revoked_at
    assert first is not None
    with pytest.raises(Unauthorized) as caught:
        authenticate(db, key, "purchases:write")
    assert "吊销" in caught.value.detail
    assert revoke(db, client.name).revoked_at == first


def test_a_missing_scope_is_forbidden(db: Session) -> None:
    client, key = create_client(db, client_name(), ["purchases:write"])
    with pytest.raises(Forbidden) as caught:
        authenticate(db, key, "points:redeem")
    assert caught.value.detail == f"接入方 {client.name} 没有 points:redeem 权限"


@pytest.mark.parametrize(
    ("name", "scopes"),
    [
        ("Has Spaces", ["purchases:write"]),
        ("", ["purchases:write"]),
        ("x" * 41, ["purchases:write"]),
        ("ok-name", []),
        ("ok-name", ["purchases:write", "admin"]),
    ],
)
def test_names_and_scopes_are_checked(db: Session, name: str, scopes: list[str]) -> None:
    with pytest.raises(InvalidInput):
        create_client(db, name, scopes)


def test_a_name_is_taken_once(db: Session) -> None:
    name = client_name()
    create_client(db, name, ["purchases:write"])
    with pytest.raises(Conflict):
        create_client(db, name, ["refunds:write"])


def test_the_demo_client_is_created_once_with_every_scope(db: Session) -> None:
    existing = db.scalars(select(IntegrationClient).where(IntegrationClient.name == "demo-pos"))
    assert ensure_demo_client(db) is (existing.one_or_none() is None)
    assert ensure_demo_client(db) is False
    client = authenticate(db, DEMO_CLIENT_KEY, "points:redeem")
    assert client.name == DEMO_CLIENT_NAME and client.scopes == sorted(SCOPES)


def test_the_demo_key_is_refused_in_production(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_demo_client(db)
    monkeypatch.setattr(service, "get_settings", lambda: SimpleNamespace(app_env="production"))
    with pytest.raises(Unauthorized):
        authenticate(db, DEMO_CLIENT_KEY, "purchases:write")
    with pytest.raises(Forbidden):
        ensure_demo_client(db)
