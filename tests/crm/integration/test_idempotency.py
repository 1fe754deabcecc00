"""One response per (client, Idempotency-Key): replayed on a retry, 409 for another request."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from crm.db import session_scope, utcnow
from crm.errors import InvalidInput
from crm.integration.errors import IdempotencyKeyRequired, IdempotencyKeyReused
from crm.integration.models import IdempotencyRecord, IntegrationClient
from crm.integration.service import (
    checked_idempotency_key,
    create_client,
    purge_idempotency_records,
    remember,
    replay,
    request_hash,
)
from tests.crm.integration.conftest import SCOPES, client_name


class Answer(BaseModel):
    value: int


class Counter:
    """An operation that counts its runs and answers the count."""

    def __init__(self, pause: float = 0) -> None:
        self.runs = 0
        self.pause = pause

    def __call__(self) -> Answer:
        self.runs += 1
        time.sleep(self.pause)
        return Answer(value=self.runs)


HASH = request_hash("POST", "/x", {"a": 1})


def test_a_repeated_key_replays_the_first_response_without_running_again(db: Session) -> None:
    client, _ = create_client(db, client_name(), SCOPES)
    operation = Counter()
    first = remember(db, client.id, "k-1", HASH, operation)
    again = remember(db, client.id, "k-1", HASH, operation)
    assert (first.status_code, first.body, first.replayed) == (200, {"value": 1}, False)
    assert (again.status_code, again.body, again.replayed) == (200, {"value": 1}, True)
    assert operation.runs == 1


def test_the_same_key_for_another_request_is_409(db: Session) -> None:
    client, _ = create_client(db, client_name(), SCOPES)
    operation = Counter()
    remember(db, client.id, "k-1", HASH, operation)
    for other in (request_hash("POST", "/x", {"a": 2}), request_hash("POST", "/y", {"a": 1})):
        with pytest.raises(IdempotencyKeyReused) as caught:
            remember(db, client.id, "k-1", other, operation)
        assert caught.value.status_code == 409
        assert caught.value.detail == "Idempotency-Key 已用于另一个请求"
    assert operation.runs == 1


def test_keys_belong_to_their_client(db: Session) -> None:
    one, _ = create_client(db, client_name(), SCOPES)
    two, _ = create_client(db, client_name(), SCOPES)
    operation = Counter()
    remember(db, one.id, "shared", HASH, operation)
    assert remember(db, two.id, "shared", HASH, operation).body == {"value": 2}


def test_the_hash_ignores_key_order_and_spacing_but_not_values() -> None:
    assert request_hash("post", "/x", {"a": 1, "b": [1, 2]}) == request_hash(
        "POST", "/x", {"b": [1, 2], "a": 1}
    )
    assert request_hash("POST", "/x", {"a": 1}) != request_hash("POST", "/x", {"a": "1"})


@pytest.mark.parametrize("raw", [None, "", "   ", "x" * 81, "has space", "键"])
def test_an_unusable_idempotency_key_is_400(raw: str | None) -> None:
    with pytest.raises(IdempotencyKeyRequired) as caught:
        checked_idempotency_key(raw)
    assert caught.value.status_code == 400 and "Idempotency-Key" in caught.value.detail


def test_a_usable_idempotency_key_is_kept_as_sent() -> None:
    assert checked_idempotency_key(" 2026-11-23:POS-7:0001 ") == "2026-11-23:POS-7:0001"
    assert checked_idempotency_key("x" * 80) == "x" * 80


def test_records_older_than_seven_days_are_purged(db: Session) -> None:
    client, _ = create_client(db, client_name(), SCOPES)
    now = utcnow()
    for key, age in (("old", timedelta(days=7, minutes=1)), ("new", timedelta(days=6))):
        db.add(
            IdempotencyRecord(
                client_id=client.id,
                key=key,
                request_hash=HASH,
                status_code=200,
                response={},
                created_at=now - age,
            )
        )
    db.flush()
    assert purge_idempotency_records(db, now=now) >= 1
    mine = select(IdempotencyRecord.key).where(IdempotencyRecord.client_id == client.id)
    assert list(db.scalars(mine)) == ["new"]


@pytest.fixture
def committed_client(engine: Engine) -> Iterator[int]:
    """A committed client, removed with its records afterwards."""
    with session_scope() as session:
        client, _ = create_client(session, client_name(), SCOPES)
        client_id = client.id
    yield client_id
    with session_scope() as session:
        session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.client_id == client_id))
        session.execute(delete(IntegrationClient).where(IntegrationClient.id == client_id))


def test_a_failed_request_is_not_remembered_and_may_be_sent_again(committed_client: int) -> None:
    def refused() -> Answer:
        raise InvalidInput("bad order")

    with pytest.raises(InvalidInput), session_scope() as session:
        remember(session, committed_client, "k-fail", HASH, refused)
    with session_scope() as session:
        assert replay(session, committed_client, "k-fail", HASH) is None
        assert remember(session, committed_client, "k-fail", HASH, Counter()).body == {"value": 1}


def test_simultaneous_retries_run_the_operation_once(committed_client: int) -> None:
    operation = Counter(pause=0.3)
    start = threading.Barrier(4)
    outcomes = []

    def send() -> None:
        start.wait()
        with session_scope() as session:
            outcomes.append(remember(session, committed_client, "k-race", HASH, operation))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert operation.runs == 1
    assert [o.body for o in outcomes] == [{"value": 1}] * 4
    assert sorted(o.replayed for o in outcomes) == [False, True, True, True]
