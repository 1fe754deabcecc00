"""The same migrations build PostgreSQL and SQLite, and match the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from crm.db import make_engine, session_scope
from crm.knowledge.loader import load_knowledge_base
from crm.knowledge.service import count_faqs, replace_all
from crm.models import Base
from tests.conftest import ROOT, alembic_config, migrate


def test_postgresql_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    with session_scope() as session:
        assert count_faqs(session) == 90


def test_sqlite_embedded_default_migrates_and_loads(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    migrate(url)
    sqlite = make_engine(url)
    assert {"customers", "wechat_identities", "conversations", "messages", "kb_faqs"} <= set(
        inspect(sqlite).get_table_names()
    )
    with sqlite.begin() as conn, Session(bind=conn) as session:
        replace_all(session, load_knowledge_base(ROOT / "knowledge_base"))
        assert count_faqs(session) == 90
    sqlite.dispose()


def test_sqlite_audit_log_is_append_only_and_downgrades(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    migrate(url)
    sqlite = make_engine(url)
    insert = "INSERT INTO audit_entries (at, staff_username, action, detail, outcome) "
    with sqlite.begin() as conn:
        conn.execute(text(insert + "VALUES ('2026-03-01', 'a', 'login.ok', '{}', 'ok')"))
    for statement in ("UPDATE audit_entries SET outcome = 'refused'", "DELETE FROM audit_entries"):
        with pytest.raises(DBAPIError, match="append-only"), sqlite.begin() as conn:
            conn.execute(text(statement))
    command.downgrade(alembic_config(url), "0009")
    with sqlite.connect() as conn:
        left = conn.scalars(text("SELECT name FROM sqlite_master WHERE name LIKE 'audit%'"))
        assert list(left) == []
    sqlite.dispose()
