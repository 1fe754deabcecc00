"""POST /api/purchases/import: the integration token, an idempotent import, all-or-nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from crm.config import Settings
from crm.db import session_scope
from crm.purchases.service import get_by_order_no
from tests.crm.purchases.conftest import order

URL = "/api/purchases/import"


def _auth(token: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token or Settings().integration_api_token}"}


def _stored(order_no: str) -> bool:
    with session_scope() as session:
        return get_by_order_no(session, order_no) is not None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {Settings().integration_api_token}"},
    ],
)
def test_without_the_integration_token_nothing_is_imported(
    api: str, headers: dict[str, str]
) -> None:
    row = order()
    response = httpx.post(f"{api}{URL}", json={"orders": [row]}, headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "error": "Unauthorized",
        "detail": "missing or wrong integration token",
    }
    assert not _stored(row["order_no"])
    # The token is checked before the body: a stranger learns nothing about the format.
    assert httpx.post(f"{api}{URL}", json={"x": 1}, headers=headers).status_code == 401


def test_import_then_reimport_changes_nothing(api: str) -> None:
    rows: list[dict[str, Any]] = [
        order(),
        order(source="mall", store=None, delivered_at="2025-06-02 18:00:00"),
    ]
    first = httpx.post(f"{api}{URL}", json={"orders": rows}, headers=_auth())
    assert first.status_code == 200
    assert first.json() == {"created": 2, "unchanged": 0, "errors": []}
    assert all(_stored(r["order_no"]) for r in rows)
    again = httpx.post(f"{api}{URL}", json={"orders": rows}, headers=_auth())
    assert (again.status_code, again.json()) == (200, {"created": 0, "unchanged": 2, "errors": []})


def test_invalid_orders_are_422_with_every_error_and_nothing_written(api: str) -> None:
    rows = [order(), order(sku="XX-NOPE-1"), order(paid_at="2999-01-01 00:00:00")]
    response = httpx.post(f"{api}{URL}", json={"orders": rows}, headers=_auth())
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "InvalidImport"
    assert body["detail"] == "2 invalid row(s), nothing was imported"
    assert body["errors"][0] == f"row 2 ({rows[1]['order_no']}): unknown SKU XX-NOPE-1"
    assert body["errors"][1].startswith(f"row 3 ({rows[2]['order_no']}): paid_at: ")
    assert not _stored(rows[0]["order_no"])
    empty = httpx.post(f"{api}{URL}", json={"orders": []}, headers=_auth())
    assert empty.status_code == 422
