"""Order import for the POS and the mini-program mall, behind the integration token."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.deps import AppContext, bearer, get_context
from crm.db import session_scope
from crm.errors import Unauthorized
from crm.purchases.schemas import ImportReport
from crm.purchases.service import import_purchases

MAX_ORDERS = 10_000  # per request; larger exports go in several requests (or the CLI)


def integration_caller(
    context: Annotated[AppContext, Depends(get_context)], token: Annotated[str, Depends(bearer)]
) -> None:
    """Let only callers with INTEGRATION_API_TOKEN through (a FastAPI dependency)."""
    expected = context.settings.integration_api_token
    if not (token and expected and secrets.compare_digest(token.encode(), expected.encode())):
        raise Unauthorized("missing or wrong integration token")


router = APIRouter(
    prefix="/api/purchases", tags=["purchases"], dependencies=[Depends(integration_caller)]
)


class ImportRequest(BaseModel):
    """The orders to import; each is checked by the service so errors name row and order_no."""

    orders: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_ORDERS)


@router.post("/import")
def import_orders(body: ImportRequest) -> ImportReport:
    """All orders imported, identical re-imports unchanged; 422 InvalidImport writes nothing."""
    with session_scope() as session:
        return import_purchases(session, body.orders)
