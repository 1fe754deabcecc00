"""`python -m crm.integration`: the key printed once, listed by prefix only, revoked."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete

from crm.db import session_scope
from crm.errors import Unauthorized
from crm.integration.__main__ import main
from crm.integration.models import IntegrationClient
from crm.integration.service import authenticate
from tests.crm.integration.conftest import client_name


@pytest.fixture
def name(engine: Engine) -> Iterator[str]:
    """A fresh client name; the client is removed afterwards."""
    chosen = client_name("cli")
    yield chosen
    with session_scope() as session:
        session.execute(delete(IntegrationClient).where(IntegrationClient.name == chosen))


def test_create_prints_the_key_once_list_shows_its_prefix_revoke_stops_it(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["create", name, "--scopes", "purchases:write, refunds:write"]) == 0
    out = capsys.readouterr().out
    found = re.search(r"(jx_\S+)$", out.strip())
    assert found is not None and "purchases:write,refunds:write" in out
    key = found.group(1)
    with session_scope() as session:
        assert authenticate(session, key, "refunds:write").name == name
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    line = next(row for row in listing.splitlines() if row.startswith(name))
    assert key[:8] in line and key not in listing and "active" in line
    assert main(["revoke", name]) == 0
    assert "revoked" in capsys.readouterr().out
    with pytest.raises(Unauthorized), session_scope() as session:
        authenticate(session, key)
    assert main(["list"]) == 0
    assert "revoked 20" in capsys.readouterr().out


def test_refusals_exit_1_with_the_reason(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create", name, "--scopes", "everything"]) == 1
    assert "未知：['everything']" in capsys.readouterr().err
    assert main(["revoke", name]) == 1
    assert f"没有名为 {name} 的接入方" in capsys.readouterr().err


def test_purge_reports_how_many_records_it_deleted(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["purge", "--days", "7"]) == 0
    assert re.search(r"\d+ idempotency records older than 7 days deleted", capsys.readouterr().out)
