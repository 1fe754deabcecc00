"""One error tree for the domain; the API and the actions each render it in one place."""

from __future__ import annotations

from datetime import datetime
from typing import Any


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def body(self) -> dict[str, Any]:
        """What the API answers: the error's name and its detail."""
        return {"error": type(self).__name__, "detail": self.detail}

    def headers(self) -> dict[str, str]:
        """HTTP headers the API adds to the answer (none by default)."""
        return {}


class NotFound(DomainError):
    """The thing asked for does not exist."""

    status_code = 404


class Conflict(DomainError):
    """The request clashes with the current state (e.g. a duplicate)."""

    status_code = 409


class KnowledgeBaseError(DomainError):
    """A knowledge-base file is invalid: names the file, the entry and what is wrong."""

    status_code = 422

    def __init__(self, file: str, entry: str, problem: str) -> None:
        super().__init__(f"{file}: {entry}: {problem}")
        self.file = file
        self.entry = entry
        self.problem = problem


class InvalidInput(DomainError):
    """Well-formed input that breaks a rule (e.g. not a Chinese mobile number)."""

    status_code = 422


class InvalidImport(InvalidInput):
    """Rows of an import are invalid; none of the import was written."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} invalid row(s), nothing was imported")
        self.errors = errors

    def body(self) -> dict[str, Any]:
        """The usual body plus every row's problem."""
        return {**super().body(), "errors": self.errors}


class Unauthorized(DomainError):
    """Not logged in, or the login is no longer valid."""

    status_code = 401


class Forbidden(DomainError):
    """Logged in, but not allowed."""

    status_code = 403


class TooManyRequests(DomainError):
    """Slow down; `retry_after`, when known, is the seconds to wait (the Retry-After header)."""

    status_code = 429

    def __init__(self, detail: str, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        """Retry-After when the wait is known."""
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}


class Locked(DomainError):
    """The account is locked for a while (too many failed logins); `until` says how long."""

    status_code = 423

    def __init__(self, detail: str, until: datetime) -> None:
        super().__init__(detail)
        self.until = until


class UpstreamUnavailable(DomainError):
    """A service we depend on (WeChat) is not answering; try again later."""

    status_code = 503
