"""Test settings: real PostgreSQL and Redis on 127.0.0.1 (TEST_DATABASE_URL, TEST_REDIS_URL)."""

from __future__ import annotations

import os

TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/jiangxin_test"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Set before anything reads Settings: the tests never touch a developer's own database.
os.environ["DATABASE_URL"] = TEST_DATABASE_URL
os.environ["REDIS_URL"] = TEST_REDIS_URL
os.environ["APP_ENV"] = "test"
os.environ["SCHEDULED_JOBS"] = "false"  # tests run the daily jobs themselves
# Agents answer round the clock, so a run at night behaves as one by day (tests of the
# after-hours path pass their own time).
os.environ["HANDOFF_HOURS"] = "00:00-24:00"
# Test servers share one database: a sweep of one would answer what another test left owed
# (the fault tests switch it on for their own server). Spooled pushes go to a scratch folder.
os.environ["RECOVERY"] = "false"
os.environ.setdefault("SPOOL_DIR", f"/tmp/jiangxin-test-spool-{os.getpid()}")
os.environ.pop("WECHAT_API_BASE", None)

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import redis  # noqa: E402
from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from crm.db import get_engine, session_scope  # noqa: E402
from crm.knowledge.loader import load_knowledge_base  # noqa: E402
from crm.knowledge.service import replace_all  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _ensure_database(url: str) -> None:
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
            )
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()


def alembic_config(url: str) -> Config:
    """Alembic's configuration for the database at `url`."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def migrate(url: str) -> None:
    """Bring the database at `url` to the newest migration, as `make migrate` does."""
    command.upgrade(alembic_config(url), "head")


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """The test database, emptied, migrated to head and loaded with the knowledge base."""
    _ensure_database(TEST_DATABASE_URL)
    engine = get_engine()
    with engine.begin() as conn:
        # Whatever an earlier run (or another checkout) left there, start from nothing.
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    migrate(TEST_DATABASE_URL)
    with session_scope() as session:
        replace_all(session, load_knowledge_base(ROOT / "knowledge_base"))
    yield engine


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test (services only flush)."""
    with engine.connect() as conn:
        trans = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            trans.rollback()


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    """The test Redis database, flushed before and after."""
    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
