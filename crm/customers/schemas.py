"""Shapes of customer data: the Chinese mobile number a member is known by."""

from __future__ import annotations

import re

MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalize_mobile(raw: str) -> str:
    """`raw` as 11 digits (spaces, dashes and a +86 prefix dropped); ValueError if not a mobile."""
    digits = re.sub(r"[\s-]", "", raw)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not MOBILE.match(digits):
        raise ValueError(f"{raw!r} is not a Chinese mobile number (11 digits, 1[3-9]…)")
    return digits
