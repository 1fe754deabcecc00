"""Personal data at rest: AES-GCM column encryption with rotating keys, keyed hashes to find it.

A value is stored as ``v1:<kid>:<base64(nonce || ciphertext+tag)>``; the column's name
("customers.phone") is the associated data, so a ciphertext copied into another column fails
authentication. PII_KEYS lists ``kid:base64key`` pairs: the first encrypts, every one decrypts.
Equality lookups go through an HMAC-SHA256 of the normalised value under PII_HASH_KEY.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import String, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

from crm.config import DEV_PII_HASH_KEY, DEV_PII_KEY, get_settings

log = logging.getLogger(__name__)

VERSION = "v1"
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
KID_MAX = 16
DIGEST_CHARS = 64  # hex HMAC-SHA256
_KID = re.compile(rf"[A-Za-z0-9_-]{{1,{KID_MAX}}}")


class PiiKeyError(ValueError):
    """PII_KEYS or PII_HASH_KEY is malformed."""


class PiiDecryptionError(Exception):
    """A stored value cannot be decrypted: tampered, moved, not encrypted, or its key is gone."""


def _key(text: str, name: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PiiKeyError(f"{name} is not valid base64") from exc
    if len(raw) != KEY_BYTES:
        raise PiiKeyError(f"{name} must decode to {KEY_BYTES} bytes, not {len(raw)}")
    return raw


def parse_keys(text: str) -> dict[str, bytes]:
    """``"k2:<b64>,k1:<b64>"`` → {kid: key}, in order (the first is current)."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kid, sep, material = item.partition(":")
        if not sep or not _KID.fullmatch(kid):
            raise PiiKeyError(
                f"PII_KEYS item {kid!r}: expected <kid>:<base64 key>, kid [A-Za-z0-9_-]"
            )
        if kid in keys:
            raise PiiKeyError(f"PII_KEYS names {kid!r} twice")
        keys[kid] = _key(material, f"PII_KEYS {kid}")
    if not keys:
        raise PiiKeyError("PII_KEYS is empty")
    return keys


def new_key() -> str:
    """A fresh random key, base64, for PII_KEYS or PII_HASH_KEY."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


@dataclass(frozen=True)
class Keyring:
    """The encryption keys by kid (the current one first) and the blind-index key."""

    current: str
    ciphers: Mapping[str, AESGCM]
    hash_key: bytes

    @classmethod
    def parse(cls, keys: str, hash_key: str) -> Keyring:
        """The keyring PII_KEYS and PII_HASH_KEY describe."""
        parsed = parse_keys(keys)
        ciphers = {kid: AESGCM(key) for kid, key in parsed.items()}
        return cls(next(iter(parsed)), ciphers, _key(hash_key, "PII_HASH_KEY"))

    def encrypt(self, plaintext: str, context: str) -> str:
        """``v1:<current kid>:<base64>`` of `plaintext`, bound to the column `context`."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.ciphers[self.current].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{VERSION}:{self.current}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, context: str) -> str:
        """The plaintext of a value `encrypt` produced for `context`; PiiDecryptionError if not."""
        kid = kid_of(token)
        if kid is None:
            raise PiiDecryptionError(f"{context}: not an encrypted value (expected {VERSION}:…)")
        cipher = self.ciphers.get(kid)
        if cipher is None:
            raise PiiDecryptionError(f"{context}: key {kid!r} is not in PII_KEYS")
        try:
            blob = base64.b64decode(token.split(":", 2)[2], validate=True)
            plain = cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
        except (binascii.Error, ValueError, InvalidTag) as exc:
            raise PiiDecryptionError(
                f"{context}: ciphertext under key {kid!r} failed authentication "
                "(tampered, copied from another column, or a different key with the same kid)"
            ) from exc
        return plain.decode()

    def digest(self, kind: str, value: str) -> str:
        """Hex HMAC-SHA256 of an already normalised value, separated by `kind`."""
        message = kind.encode() + b"\x00" + value.encode()
        return hmac.new(self.hash_key, message, hashlib.sha256).hexdigest()


def kid_of(token: str) -> str | None:
    """The key id of a stored value, or None when it is not in the v1 format."""
    version, _, rest = token.partition(":")
    kid, sep, _ = rest.partition(":")
    return kid if version == VERSION and sep and _KID.fullmatch(kid) else None


_override: list[Keyring] = []


@lru_cache
def _configured() -> Keyring:
    settings = get_settings()
    if DEV_PII_KEY in settings.pii_keys or settings.pii_hash_key == DEV_PII_HASH_KEY:
        log.warning("personal data is encrypted with the public development key (set PII_KEYS)")
    return Keyring.parse(settings.pii_keys, settings.pii_hash_key)


def keyring() -> Keyring:
    """The keyring in use: the settings', unless `using` put another in place."""
    return _override[-1] if _override else _configured()


@contextmanager
def using(ring: Keyring) -> Iterator[Keyring]:
    """Use `ring` instead of the settings' keys within the block (tests, key tooling)."""
    _override.append(ring)
    try:
        yield ring
    finally:
        _override.remove(ring)


def normalize_phone(phone: str) -> str:
    """The digits of a number, without a +86 / 0086 prefix: what the phone hashes are over."""
    digits = re.sub(r"\D", "", phone)
    return re.sub(r"^(?:0086|86)(?=1\d{10}$)", "", digits)


def phone_digest(phone: str | None) -> str | None:
    """The keyed hash a phone column is looked up by (None for None)."""
    return keyring().digest("phone", normalize_phone(phone)) if phone else None


def phone_last4_digest(phone: str | None) -> str | None:
    """The keyed hash of a phone's last four digits, or of four digits typed as a search."""
    digits = normalize_phone(phone) if phone else ""
    return keyring().digest("phone-last4", digits[-4:]) if len(digits) >= 4 else None


def ciphertext_length(max_chars: int) -> int:
    """Column length that holds `max_chars` characters of any script once encrypted."""
    sealed = NONCE_BYTES + 4 * max_chars + TAG_BYTES  # UTF-8: at most 4 bytes a character
    return len(VERSION) + 1 + KID_MAX + 1 + 4 * -(-sealed // 3)


_REFUSED = {
    operators.eq,
    operators.ne,
    operators.lt,
    operators.le,
    operators.gt,
    operators.ge,
    operators.in_op,
    operators.not_in_op,
    operators.like_op,
    operators.ilike_op,
    operators.contains_op,
    operators.icontains_op,
    operators.startswith_op,
    operators.endswith_op,
    operators.between_op,
}


class Encrypted(TypeDecorator[str]):
    """A string column stored encrypted: Python sees plaintext, the database only ciphertext.

    Comparisons other than IS [NOT] NULL are refused when the query is built: they would compare
    ciphertexts (random nonces never match); filter on the column's keyed hash instead.
    """

    impl = String
    cache_ok = True

    class Comparator(TypeDecorator.Comparator[str]):
        """Refuses value comparisons on ciphertext."""

        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            if op in _REFUSED:
                context = getattr(self.type, "context", "an encrypted column")
                raise TypeError(f"{context} is encrypted: filter on its keyed hash instead")
            return super().operate(op, *other, **kwargs)

        def reverse_operate(self, op: Any, other: Any, **kwargs: Any) -> Any:
            return self.operate(op, other, **kwargs)

    comparator_factory = Comparator

    def __init__(self, context: str, max_chars: int) -> None:
        super().__init__(ciphertext_length(max_chars))
        self.context = context
        self.max_chars = max_chars

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """Encrypt on the way in."""
        return None if value is None else keyring().encrypt(value, self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        """Decrypt on the way out."""
        return None if value is None else keyring().decrypt(value, self.context)


# (table, column) of an encrypted column → {hash column: digest function}, for rotation.
BLIND_INDEXES: dict[tuple[str, str], dict[str, Callable[[str | None], str | None]]] = {}


def blind_index(
    attribute: InstrumentedAttribute[Any], **digests: Callable[[str | None], str | None]
) -> None:
    """Keep the hash columns `digests` names equal to digest(value) whenever `attribute` is set
    (constructor, assignment, set to None); `rotate` recomputes them under a new hash key."""
    column = attribute.property.columns[0]
    BLIND_INDEXES[(column.table.name, column.name)] = digests

    @event.listens_for(attribute, "set")
    def _sync(target: Any, value: str | None, old: Any, initiator: Any) -> None:
        for name, digest in digests.items():
            setattr(target, name, digest(value))
