"""Why binding a phone to a member did not go through."""

from __future__ import annotations

from crm.errors import InvalidInput


class InvalidCode(InvalidInput):
    """A verification code (SMS, or WeChat's phone-number code) is wrong, used up or expired."""
