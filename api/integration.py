"""Integration API v1 for the POS tills and the mall: client keys with scopes, idempotent writes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.limits import per_ip
from crm.coupons.schemas import Redemption
from crm.db import session_scope
from crm.integration import flows
from crm.integration.schemas import (
    CouponRedeemIn,
    ErrorBody,
    PointsRedeemed,
    PointsRedeemIn,
    PurchasesIn,
    PurchasesResult,
    ReferralIn,
    RefundIn,
    RefundResult,
    ReviewIn,
    ReviewResult,
)
from crm.integration.service import (
    authenticate,
    checked_idempotency_key,
    remember,
    request_hash,
)
from crm.points.schemas import ReferralReward

router = APIRouter(
    prefix="/api/integration/v1",
    tags=["integration"],
    dependencies=[Depends(per_ip("integration", "integration_requests_per_ip_per_minute"))],
)
client_key = HTTPBearer(
    auto_error=False,
    scheme_name="IntegrationKey",
    description="The client's key (`python -m crm.integration create NAME --scopes ...`).",
)
REPLAYED_HEADER = "Idempotent-Replayed"
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "IdempotencyKeyRequired: the header is missing"},
    401: {"model": ErrorBody, "description": "Unauthorized: no key, an unknown or revoked key"},
    403: {"model": ErrorBody, "description": "Forbidden: the client lacks this endpoint's scope"},
    404: {"model": ErrorBody, "description": "NotFound: no such order, member or coupon"},
    409: {
        "model": ErrorBody,
        "description": "IdempotencyKeyReused (the key was used for another body), or the "
        "domain's refusal: CouponAlreadyUsed, CouponExpired, InsufficientPoints, "
        "ReferralCapReached …",
    },
    429: {"model": ErrorBody, "description": "TooManyRequests: too many requests from this IP"},
}
IDEMPOTENCY_HELP = (
    "Required on every write: a new value per new request, the same value when retrying it. "
    "A retry with the same body gets the first response again (header Idempotent-Replayed: "
    "true) and changes nothing; the same key with another body is 409. Only successful "
    "responses are remembered (7 days): a refused request can be corrected and sent again."
)


@dataclass(frozen=True)
class Call:
    """An authenticated write: who calls, under which Idempotency-Key, to which endpoint."""

    client_id: int
    client_name: str
    idempotency_key: str
    method: str
    path: str

    @property
    def domain_key(self) -> str:
        """The key the ledger records for this request."""
        return flows.domain_key(self.client_name, self.idempotency_key)


def writer(scope: str) -> Callable[..., Call]:
    """A dependency letting through clients with `scope` that name an Idempotency-Key."""

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(client_key)],
        idempotency_key: Annotated[
            str | None, Header(alias="Idempotency-Key", description=IDEMPOTENCY_HELP)
        ] = None,
    ) -> Call:
        with session_scope() as session:
            key = credentials.credentials if credentials else ""
            client = authenticate(session, key, scope)
        checked = checked_idempotency_key(idempotency_key)
        return Call(client.id, client.name, checked, request.method, request.url.path)

    return dependency


def _answer(call: Call, body: BaseModel, operation: Callable[[Session], BaseModel]) -> JSONResponse:
    """The remembered response of the call's key, or the operation's, committed first."""
    fingerprint = request_hash(call.method, call.path, body.model_dump(mode="json"))
    with session_scope() as session:
        outcome = remember(
            session, call.client_id, call.idempotency_key, fingerprint, lambda: operation(session)
        )
    headers = {REPLAYED_HEADER: "true"} if outcome.replayed else None
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


@router.post(
    "/purchases",
    summary="Import paid orders and credit their points",
    description="Scope `purchases:write`. All orders are checked first: any bad row is 422 "
    "`InvalidImport` listing every problem, and nothing is written. Orders already imported with "
    "the same content are `unchanged`. Each new order's member is credited its points once "
    "(however often the order is sent, under any key) and re-rated; orders under a phone no "
    "member has bound earn nothing yet. At most 1000 orders per request.",
    response_model=PurchasesResult,
    responses=ERRORS,
)
def post_purchases(
    body: PurchasesIn, call: Annotated[Call, Depends(writer("purchases:write"))]
) -> JSONResponse:
    """Import the orders, credit and re-rate (once per Idempotency-Key)."""
    return _answer(call, body, lambda session: flows.record_purchases(session, body))


@router.post(
    "/refunds",
    summary="Apply a refund to the order's points",
    description="Scope `refunds:write`. Takes back the order's earned points in proportion to the "
    "amount refunded, gives back points spent on it and re-rates the member (PTS-REF-001, "
    "MEM-TIER-005). What the balance cannot cover is `deduct_from_refund_yuan`, to keep back "
    "from the refund. 404 for an unknown order or an order without a member.",
    response_model=RefundResult,
    responses=ERRORS,
)
def post_refund(
    body: RefundIn, call: Annotated[Call, Depends(writer("refunds:write"))]
) -> JSONResponse:
    """Apply the refund to the points (once per Idempotency-Key)."""
    return _answer(call, body, lambda session: flows.refund(session, call.domain_key, body))


@router.post(
    "/coupons/redeem",
    summary="Use a member's coupon on an order",
    description="Scope `coupons:redeem`. One coupon, one use; refused with the coupon unchanged "
    "when it is another member's (403 NotYourCoupon), used (409 CouponAlreadyUsed), expired or "
    "not yet valid (409 CouponExpired), below its threshold (422 ThresholdNotMet) or not "
    "combinable with the order's other coupon (409 StackingNotAllowed).",
    response_model=Redemption,
    responses=ERRORS,
)
def post_coupon_redemption(
    body: CouponRedeemIn, call: Annotated[Call, Depends(writer("coupons:redeem"))]
) -> JSONResponse:
    """Redeem the coupon (once per Idempotency-Key)."""
    return _answer(call, body, lambda session: flows.redeem_coupon(session, body))


@router.post(
    "/points/redeem",
    summary="Pay part of an order with the member's points",
    description="Scope `points:redeem`. Points in units of 100 (PTS-USE-001), at most 20 % of "
    "the order amount (422 beyond); beyond the balance 409 InsufficientPoints and the ledger is "
    "unchanged.",
    response_model=PointsRedeemed,
    responses=ERRORS,
)
def post_points_redemption(
    body: PointsRedeemIn, call: Annotated[Call, Depends(writer("points:redeem"))]
) -> JSONResponse:
    """Spend the points (once per Idempotency-Key)."""
    return _answer(call, body, lambda session: flows.redeem_points(session, call.domain_key, body))


@router.post(
    "/reviews",
    summary="Credit a member's review of an order line",
    description="Scope `reviews:write`. PTS-EARN-003: a photo review earns the photo points, "
    "else text of at least the minimum length the text points (not both), within the window "
    "after delivery (the purchase day in stores); another member's order, a missing SKU, late "
    "or too short is 422 ReviewNotEligible. One award per order line: a second review of the "
    "line returns the first award with `already_rewarded: true`. Only what is left under the "
    "monthly cap is credited (`points: 0` once it is used up).",
    response_model=ReviewResult,
    responses=ERRORS,
)
def post_review(
    body: ReviewIn, call: Annotated[Call, Depends(writer("reviews:write"))]
) -> JSONResponse:
    """Credit the review (once per Idempotency-Key and per order line)."""
    return _answer(call, body, lambda session: flows.reward_review(session, call.domain_key, body))


@router.post(
    "/referrals",
    summary="Reward the referrer of a friend's first order",
    description="Scope `referrals:write`. PTS-EARN-004: send it once the friend's first order "
    "is delivered 8 days and not refunded. The order must be the friend's first, reach the "
    "minimum amount and be paid within the window after the friend registered, else 422 "
    "ReferralNotEligible; beyond the friends rewarded per calendar month 409 "
    "ReferralCapReached. Credits the points and issues a CPN-TJ coupon together, once per "
    "friend: a repeat returns the same reward.",
    response_model=ReferralReward,
    responses=ERRORS,
)
def post_referral(
    body: ReferralIn, call: Annotated[Call, Depends(writer("referrals:write"))]
) -> JSONResponse:
    """Reward the referral (once per Idempotency-Key and per friend)."""
    return _answer(
        call, body, lambda session: flows.reward_referral(session, call.domain_key, body)
    )
