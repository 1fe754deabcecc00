"""Why an integration request was refused before it did anything."""

from __future__ import annotations

from crm.errors import Conflict, DomainError


class IdempotencyKeyRequired(DomainError):
    """A write came without a usable Idempotency-Key header (400)."""


class IdempotencyKeyReused(Conflict):
    """The Idempotency-Key was used before for a request with another body or path."""
