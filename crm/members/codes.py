"""One-time binding codes in the key-value store: send limits, hashed codes, bounded attempts.

Every counter is a set of claimable slots (SET NX with a TTL), so limits hold across api and
action-server processes without a read-modify-write race.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import secrets
import time

from crm.errors import TooManyRequests
from crm.kv import KeyValueStore
from crm.members.errors import InvalidCode

CODE_TTL_SECONDS = 300
RESEND_SECONDS = 60  # one code per phone per minute
HOUR_SECONDS = 3600
CODES_PER_HOUR = 5  # per customer
MAX_ATTEMPTS = 5  # per code; the last wrong one burns it
CODE_FORMAT = re.compile(r"^\d{6}$")
PREFIX = "member-bind:"


def _key(*parts: object) -> str:
    return PREFIX + ":".join(str(part) for part in parts)


def reserve_send(store: KeyValueStore, customer_id: int, phone: str) -> None:
    """Take the phone's one-a-minute slot and one of the customer's hourly slots, or refuse."""
    now = time.time()
    if not store.claim(_key("phone", phone), RESEND_SECONDS):
        sent_at = _number(store.get(_key("phone-at", phone)))
        wait = RESEND_SECONDS - (now - sent_at) if sent_at else RESEND_SECONDS
        raise TooManyRequests(f"验证码刚刚发过，请 {max(1, math.ceil(wait))} 秒后再获取。")
    store.set(_key("phone-at", phone), str(now), RESEND_SECONDS)
    for slot in range(CODES_PER_HOUR):
        if store.claim(_key("hour", customer_id, slot), HOUR_SECONDS):
            store.set(_key("hour-at", customer_id, slot), str(now), HOUR_SECONDS)
            return
    store.release(_key("phone", phone))
    taken = [_number(store.get(_key("hour-at", customer_id, s))) for s in range(CODES_PER_HOUR)]
    oldest = min((t for t in taken if t), default=now)
    minutes = max(1, math.ceil((oldest + HOUR_SECONDS - now) / 60))
    raise TooManyRequests(f"1 小时内最多获取 {CODES_PER_HOUR} 次验证码，请 {minutes} 分钟后再试。")


def release_phone(store: KeyValueStore, phone: str) -> None:
    """Give the phone's one-a-minute slot back (nothing was sent)."""
    store.release(_key("phone", phone))


def issue(store: KeyValueStore, customer_id: int, phone: str) -> str:
    """A new 6-digit code for (customer, phone), valid 5 minutes; only its hash is stored."""
    code = f"{secrets.randbelow(10**6):06d}"
    nonce = secrets.token_hex(8)
    record = {"nonce": nonce, "hash": _digest(nonce, customer_id, phone, code)}
    store.set(_key("code", customer_id, phone), json.dumps(record), CODE_TTL_SECONDS)
    return code


def discard(store: KeyValueStore, customer_id: int, phone: str) -> None:
    """Forget the pending code of (customer, phone)."""
    store.release(_key("code", customer_id, phone))


def verify(store: KeyValueStore, customer_id: int, phone: str, code: str) -> None:
    """Spend the code if it matches; InvalidCode with the tries left, TooManyRequests when burnt."""
    code = code.strip()
    if not CODE_FORMAT.match(code):
        raise InvalidCode("验证码是短信里的 6 位数字，请核对后重新输入。")
    key = _key("code", customer_id, phone)
    raw = store.get(key)
    if raw is None:
        raise InvalidCode("验证码已过期或还没有获取，请重新获取验证码。")
    record = json.loads(raw)
    attempt = _take_attempt(store, str(record["nonce"]))
    expected = _digest(str(record["nonce"]), customer_id, phone, code)
    if attempt is not None and hmac.compare_digest(str(record["hash"]), expected):
        store.release(key)
        return
    if attempt is None or attempt >= MAX_ATTEMPTS:
        store.release(key)
        raise TooManyRequests("验证码错误次数过多，已失效，请重新获取验证码。")
    raise InvalidCode(f"验证码不正确，还可以再试 {MAX_ATTEMPTS - attempt} 次。")


def _take_attempt(store: KeyValueStore, nonce: str) -> int | None:
    # The n-th try claims slot n; concurrent tries each get their own number.
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if store.claim(_key("try", nonce, attempt), CODE_TTL_SECONDS):
            return attempt
    return None


def _digest(nonce: str, customer_id: int, phone: str, code: str) -> str:
    return hashlib.sha256(f"{nonce}:{customer_id}:{phone}:{code}".encode()).hexdigest()


def _number(raw: str | None) -> float | None:
    try:
        return float(raw) if raw else None
    except ValueError:
        return None
