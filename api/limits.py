"""Per-IP abuse limits of the api: who the client is, a router dependency, forged signatures."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import Request

from crm.config import Settings
from crm.errors import TooManyRequests
from crm.kv import RateDecision, get_store

WINDOW_SECONDS = 60
# An address found not blocked for forging is not asked about again for this long (per
# process): the check precedes every WeChat push, and WeChat calls from few addresses.
FORGING_CLEAR_SECONDS = 1.0
_forging_clear: dict[str, float] = {}  # address -> until when it is known not blocked
TOO_FAST = "请求过于频繁，请 {seconds} 秒后再试"


def client_address(request: Request, trusted_proxies: list[str]) -> str:
    """The peer's address; behind a trusted proxy, the last X-Forwarded-For hop it did not add."""
    peer = request.client.host if request.client else "unknown"
    if peer not in trusted_proxies:
        return peer  # anyone can write X-Forwarded-For: only our own proxies are believed
    hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed(hops):
        if hop and hop not in trusted_proxies:
            return hop
    return peer


def _hit(request: Request, name: str, limit_setting: str, cost: int = 1) -> RateDecision:
    settings: Settings = request.app.state.settings
    address = client_address(request, settings.trusted_proxies)
    limit = int(getattr(settings, limit_setting))
    return get_store().hit(f"rl:{name}:{address}", limit, WINDOW_SECONDS, cost)


def per_ip(name: str, limit_setting: str) -> Callable[[Request], None]:
    """A router dependency: TooManyRequests (429, Retry-After) once an IP passes the limit."""

    def limited(request: Request) -> None:
        decision = _hit(request, name, limit_setting)
        if not decision.allowed:
            wait = decision.retry_after
            raise TooManyRequests(TOO_FAST.format(seconds=wait), retry_after=wait)

    return limited


def login_blocked(request: Request) -> RateDecision:
    """Whether the IP already failed too many back-office logins (nothing is counted)."""
    decision = _hit(request, "login", "login_failures_per_ip_per_minute", cost=0)
    return RateDecision(decision.remaining > 0, decision.remaining, decision.retry_after)


def count_login_failure(request: Request) -> None:
    """Count a failed back-office login from the request's IP."""
    _hit(request, "login", "login_failures_per_ip_per_minute")


def forging_blocked(request: Request) -> bool:
    """True when the IP already failed the signature check too often (nothing is counted)."""
    settings: Settings = request.app.state.settings
    address = client_address(request, settings.trusted_proxies)
    now = time.monotonic()
    if _forging_clear.get(address, 0.0) > now:
        return False
    blocked = _hit(request, "forged", "signature_failures_per_ip_per_minute", cost=0).remaining <= 0
    if not blocked:
        if len(_forging_clear) > 10_000:
            _forging_clear.clear()
        _forging_clear[address] = now + FORGING_CLEAR_SECONDS
    return blocked


def count_forged(request: Request) -> None:
    """Count a failed signature check from the request's IP (whose next push is checked)."""
    settings: Settings = request.app.state.settings
    _forging_clear.pop(client_address(request, settings.trusted_proxies), None)
    _hit(request, "forged", "signature_failures_per_ip_per_minute")
