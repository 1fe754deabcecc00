"""Staff accounts: hashed passwords, lockout, sessions, store visibility, demo accounts, CLI."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from crm.db import as_utc, session_scope, utcnow
from crm.errors import Conflict, Forbidden, InvalidInput, Locked, Unauthorized
from crm.staff import service
from crm.staff.__main__ import main
from crm.staff.demo import DEMO_STAFF_PASSWORD, seed_demo_staff
from crm.staff.models import StaffSession, StaffUser

PASSWORD = "correct horse 9"


def name() -> str:
    return f"t{secrets.token_hex(5)}"


def user(db: Session, role: str = "agent", store: str | None = None) -> StaffUser:
    return service.create_user(db, name(), "测试员", PASSWORD, role, store)


def test_password_is_stored_only_as_an_argon2_hash(db: Session) -> None:
    account = user(db)
    assert account.password_hash.startswith("$argon2id$")
    assert PASSWORD not in account.password_hash
    assert service.authenticate(db, account.username, PASSWORD, "127.0.0.1") is account


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("password", "short7!", InvalidInput),
        ("role", "boss", InvalidInput),
        ("store_id", "JX-XX99", InvalidInput),
        ("username", "有空 格", InvalidInput),
        ("display_name", "  ", InvalidInput),
    ],
)
def test_invalid_accounts_are_refused(
    db: Session, field: str, value: str, error: type[Exception]
) -> None:
    fields = {"username": name(), "display_name": "小张", "password": PASSWORD, "role": "agent"}
    with pytest.raises(error):
        service.create_user(db, **{**fields, field: value})


def test_usernames_are_unique_regardless_of_case(db: Session) -> None:
    account = user(db)
    with pytest.raises(Conflict):
        service.create_user(db, account.username.upper(), "另一个", PASSWORD, "agent")


def test_wrong_username_and_wrong_password_read_the_same(db: Session) -> None:
    account = user(db)
    with pytest.raises(Unauthorized) as wrong_password:
        service.authenticate(db, account.username, "not the password", None)
    with pytest.raises(Unauthorized) as wrong_user:
        service.authenticate(db, name(), PASSWORD, None)
    assert wrong_password.value.detail == wrong_user.value.detail == "用户名或密码不正确"
    assert account.failed_logins == 1


def test_five_failures_lock_even_the_right_password_out_until_the_time_passes(
    db: Session,
) -> None:
    account = user(db)
    for _ in range(4):
        with pytest.raises(Unauthorized):
            service.authenticate(db, account.username, "wrong password", None)
    with pytest.raises(Locked) as locked:
        service.authenticate(db, account.username, "wrong password", None)
    assert account.locked_until is not None
    remaining = as_utc(account.locked_until) - utcnow()
    assert timedelta(minutes=14) < remaining <= timedelta(minutes=15)
    assert locked.value.status_code == 423 and "后再试" in locked.value.detail
    with pytest.raises(Locked):
        service.authenticate(db, account.username, PASSWORD, None)

    account.locked_until = utcnow() - timedelta(seconds=1)  # the 15 minutes have passed
    assert service.authenticate(db, account.username, PASSWORD, None) is account
    assert account.failed_logins == 0
    assert account.locked_until is None


def test_success_resets_the_failure_count(db: Session) -> None:
    account = user(db)
    for _ in range(4):
        with pytest.raises(Unauthorized):
            service.authenticate(db, account.username, "wrong password", None)
    service.authenticate(db, account.username, PASSWORD, None)
    assert account.failed_logins == 0
    for _ in range(4):  # four more mistakes do not lock: the count started over
        with pytest.raises(Unauthorized):
            service.authenticate(db, account.username, "wrong password", None)
    assert (account.failed_logins, account.locked_until) == (4, None)


def test_inactive_accounts_are_refused(db: Session) -> None:
    account = user(db)
    account.active = False
    with pytest.raises(Forbidden):
        service.authenticate(db, account.username, PASSWORD, None)


def test_weak_hashes_are_upgraded_on_login(db: Session) -> None:
    account = user(db)
    account.password_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    old = account.password_hash
    service.authenticate(db, account.username, PASSWORD, None)
    assert account.password_hash != old
    assert not PasswordHasher().check_needs_rehash(account.password_hash)
    assert service.authenticate(db, account.username, PASSWORD, None) is account


def test_sessions_keep_only_the_token_hash_and_slide(db: Session) -> None:
    account = user(db)
    token, opened = service.open_session(db, account, "10.0.0.7")
    assert opened.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
    assert len(token) >= 43 and opened.csrf_token and opened.csrf_token != token
    assert as_utc(opened.expires_at) - utcnow() > timedelta(minutes=479)

    opened.expires_at = utcnow() + timedelta(minutes=1)
    found = service.session_for(db, token)
    assert found is opened
    assert as_utc(found.expires_at) - utcnow() > timedelta(minutes=479)
    assert found.last_seen_at is not None

    assert service.session_for(db, "not-a-token") is None
    assert service.session_for(db, None) is None
    opened.expires_at = utcnow() - timedelta(seconds=1)
    assert service.session_for(db, token) is None


def test_closed_and_deactivated_sessions_are_gone(db: Session) -> None:
    account = user(db)
    token, _ = service.open_session(db, account, None)
    other, _ = service.open_session(db, account, None)
    service.close_session(db, token)
    assert service.session_for(db, token) is None
    assert service.session_for(db, other) is not None
    account.active = False
    assert service.session_for(db, other) is None


def test_a_new_password_closes_every_session(db: Session) -> None:
    account = user(db)
    token, _ = service.open_session(db, account, None)
    service.set_password(db, account, "a brand new one")
    assert service.session_for(db, token) is None
    assert service.authenticate(db, account.username, "a brand new one", None) is account


@pytest.mark.parametrize(
    ("role", "own_store", "customer_store", "visible"),
    [
        ("agent", "JX-HZ01", "JX-HZ01", True),
        ("agent", "JX-HZ01", None, True),
        ("agent", "JX-HZ01", "JX-HZ02", False),
        ("agent", None, "JX-HZ02", True),
        ("supervisor", "JX-HZ01", "JX-HZ02", True),
        ("admin", None, "JX-NB01", True),
    ],
)
def test_store_visibility(
    db: Session, role: str, own_store: str | None, customer_store: str | None, visible: bool
) -> None:
    account = user(db, role, own_store)
    assert service.can_see_store(account, customer_store) is visible


def test_has_role(db: Session) -> None:
    account = user(db, "supervisor")
    assert service.has_role(account, "supervisor", "admin")
    assert not service.has_role(account, "admin")


def test_demo_staff_are_seeded_once_and_can_log_in(db: Session) -> None:
    seed_demo_staff(db)
    assert seed_demo_staff(db) == 0
    accounts = {u.username: u for u in db.scalars(select(StaffUser))}
    assert (accounts["agent1"].display_name, accounts["agent1"].store_id) == ("小王", "JX-HZ01")
    assert accounts["agent2"].role == "agent"
    assert accounts["agent2"].store_id not in (None, "JX-HZ01")
    assert (accounts["super1"].role, accounts["super1"].store_id) == ("supervisor", None)
    assert accounts["admin"].role == "admin"
    for username in ("agent1", "agent2", "super1", "admin"):
        assert service.authenticate(db, username, DEMO_STAFF_PASSWORD, None).username == username


@pytest.fixture
def cli_user(engine: Engine) -> Iterator[str]:
    """A username the CLI test commits; deleted afterwards."""
    username = name()
    yield username
    with session_scope() as session:
        ids = select(StaffUser.id).where(StaffUser.username == username)
        session.execute(delete(StaffSession).where(StaffSession.user_id.in_(ids)))
        session.execute(delete(StaffUser).where(StaffUser.username == username))


def test_cli_creates_and_lists_accounts(
    cli_user: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STAFF_PASSWORD", PASSWORD)
    assert (
        main(["create", cli_user, "--name", "小王", "--role", "agent", "--store", "JX-HZ01"]) == 0
    )
    assert main(["create", cli_user, "--name", "小王", "--role", "agent"]) == 1  # taken
    assert "已被使用" in capsys.readouterr().err
    assert main(["list"]) == 0
    assert f"{cli_user}\t小王\tagent\tJX-HZ01\tactive" in capsys.readouterr().out
    with session_scope() as session:
        assert service.authenticate(session, cli_user, PASSWORD, None).store_id == "JX-HZ01"


def test_cli_prompts_twice_and_refuses_a_mismatch(
    cli_user: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("STAFF_PASSWORD", raising=False)
    typed = iter([PASSWORD, "something else"])
    monkeypatch.setattr("getpass.getpass", lambda _prompt: next(typed))
    assert main(["create", cli_user, "--name", "小李", "--role", "supervisor"]) == 1
    assert "不一致" in capsys.readouterr().err
    with session_scope() as session:
        assert session.scalar(select(StaffUser).where(StaffUser.username == cli_user)) is None
