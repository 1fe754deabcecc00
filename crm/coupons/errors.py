"""Why a coupon cannot be redeemed; each leaves the coupon as it was."""

from __future__ import annotations

from crm.errors import Conflict, Forbidden, InvalidInput, NotFound


class CouponNotFound(NotFound):
    """No coupon has this code."""


class CouponAlreadyUsed(Conflict):
    """The coupon was redeemed before (one coupon, one use)."""


class CouponExpired(Conflict):
    """The coupon is not usable today: past its validity, void, or not yet valid."""


class NotYourCoupon(Forbidden):
    """The coupon belongs to another member (coupons are bound to the account, CPN-GEN-005)."""


class ThresholdNotMet(InvalidInput):
    """The order amount is below the coupon's threshold."""


class StackingNotAllowed(Conflict):
    """The order already carries a coupon it cannot be combined with (CPN-GEN-001)."""
