"""The pool pings a connection only after it sat idle, and replaces one the database dropped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from crm import db
from tests.conftest import TEST_DATABASE_URL


@pytest.fixture
def pool(engine: Engine) -> Iterator[Engine]:
    """A small engine of its own (the shared one stays as it is)."""
    own = db.make_engine(TEST_DATABASE_URL)
    yield own
    own.dispose()


@pytest.fixture
def pings(pool: Engine, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []
    real = pool.dialect.do_ping

    def counted(dbapi_conn: Any) -> bool:
        seen.append(dbapi_conn)
        return real(dbapi_conn)

    monkeypatch.setattr(pool.dialect, "do_ping", counted)
    return seen


def _backend_pid(pool: Engine) -> int:
    with pool.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_used_a_moment_ago_is_not_pinged(pool: Engine, pings: list[Any]) -> None:
    first = _backend_pid(pool)
    assert [_backend_pid(pool) for _ in range(5)] == [first] * 5
    assert pings == []


def test_an_idle_connection_is_pinged_once_before_use(
    pool: Engine, pings: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend_pid(pool)
    monkeypatch.setattr(db, "PING_IDLE_SECONDS", 0.0)
    assert _backend_pid(pool) == first
    assert len(pings) == 1


def test_a_connection_the_database_dropped_while_idle_is_replaced(
    pool: Engine, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    lost = _backend_pid(pool)
    with engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": lost})
        admin.commit()
    monkeypatch.setattr(db, "PING_IDLE_SECONDS", 0.0)
    # The work itself goes through, on a new connection.
    assert _backend_pid(pool) != lost
