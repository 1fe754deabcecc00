"""AES-GCM values bound to their column, keys by id, keyed hashes, the settings holding them."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from crm.config import DEV_PII_KEYS, Settings
from crm.customers.models import Customer
from crm.privacy.crypto import (
    Keyring,
    PiiDecryptionError,
    PiiKeyError,
    ciphertext_length,
    kid_of,
    new_key,
    parse_keys,
    phone_digest,
    using,
)

K1, K2, HASH = new_key(), new_key(), new_key()
CONTEXT = "customers.phone"


def ring(keys: str = f"k1:{K1}", hash_key: str = HASH) -> Keyring:
    return Keyring.parse(keys, hash_key)


def test_values_round_trip_in_the_versioned_format_with_a_fresh_nonce() -> None:
    keys = ring()
    first, second = keys.encrypt("13812345678", CONTEXT), keys.encrypt("13812345678", CONTEXT)
    assert first != second  # random nonce: equal phones do not look equal at rest
    assert first.startswith("v1:k1:") and kid_of(first) == "k1"
    assert "13812345678" not in first
    assert keys.decrypt(first, CONTEXT) == keys.decrypt(second, CONTEXT) == "13812345678"
    assert (
        keys.decrypt(keys.encrypt("王小明", "customers.display_name"), "customers.display_name")
        == "王小明"
    )


def test_a_tampered_value_fails_clearly() -> None:
    keys = ring()
    token = keys.encrypt("13812345678", CONTEXT)
    blob = bytearray(base64.b64decode(token.split(":", 2)[2]))
    blob[-1] ^= 1
    tampered = f"v1:k1:{base64.b64encode(bytes(blob)).decode()}"
    with pytest.raises(PiiDecryptionError, match=r"customers\.phone: .*failed authentication"):
        keys.decrypt(tampered, CONTEXT)


def test_a_value_moved_to_another_column_does_not_decrypt() -> None:
    keys = ring()
    token = keys.encrypt("13812345678", "customers.phone")
    with pytest.raises(PiiDecryptionError, match=r"purchases\.member_phone"):
        keys.decrypt(token, "purchases.member_phone")


def test_unknown_keys_plaintext_and_garbage_are_refused_by_name() -> None:
    old = ring(f"k1:{K1}").encrypt("13812345678", CONTEXT)
    with pytest.raises(PiiDecryptionError, match="key 'k1' is not in PII_KEYS"):
        ring(f"k2:{K2}").decrypt(old, CONTEXT)
    with pytest.raises(PiiDecryptionError, match="not an encrypted value"):
        ring().decrypt("13812345678", CONTEXT)
    with pytest.raises(PiiDecryptionError, match="failed authentication"):
        ring().decrypt("v1:k1:not base64!", CONTEXT)


def test_every_listed_key_decrypts_and_the_first_encrypts() -> None:
    old = ring(f"k1:{K1}").encrypt("13812345678", CONTEXT)
    both = ring(f"k2:{K2},k1:{K1}")
    assert both.current == "k2" and both.decrypt(old, CONTEXT) == "13812345678"
    assert kid_of(both.encrypt("13812345678", CONTEXT)) == "k2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        (f"k1={K1}", "expected <kid>:<base64 key>"),
        (f"k 1:{K1}", "expected <kid>:<base64 key>"),
        (f"k1:{K1},k1:{K2}", "twice"),
        ("k1:not-base64!", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "32 bytes"),
    ],
)
def test_malformed_keys_are_refused(text: str, message: str) -> None:
    with pytest.raises(PiiKeyError, match=message):
        parse_keys(text)


def test_columns_hold_the_longest_value_in_any_script() -> None:
    keys = ring("a-sixteen-char-k:" + K1)
    for value in ("1" * 20, "王" * 100, "😀" * 100):
        assert len(keys.encrypt(value, CONTEXT)) <= ciphertext_length(len(value))


def test_phone_hashes_ignore_formatting_and_depend_on_the_hash_key() -> None:
    with using(ring()):
        plain = phone_digest("13812345678")
        assert plain == phone_digest("+86 138-1234-5678") == phone_digest("8613812345678")
        assert plain != phone_digest("13812345679") and phone_digest(None) is None
    with using(ring(hash_key=new_key())):
        assert phone_digest("13812345678") != plain
    assert len(plain or "") == 64


def test_comparing_an_encrypted_column_to_a_value_is_refused_when_the_query_is_built() -> None:
    builds: list[Callable[[], object]] = [
        lambda: Customer.phone == "13812345678",
        lambda: Customer.phone.in_(["13812345678"]),
        lambda: Customer.display_name.icontains("王"),
    ]
    for build in builds:
        with pytest.raises(TypeError, match="is encrypted: filter on its keyed hash"):
            build()
    select(Customer).where(Customer.phone.is_not(None), Customer.display_name.is_(None))


def test_production_refuses_the_development_keys_and_any_environment_malformed_ones() -> None:
    refused = "PII_KEYS and PII_HASH_KEY need real keys in production"
    for keys in (
        Settings().pii_keys,
        f"k2:{K2},{DEV_PII_KEYS}",  # not even as an old key
        f"k1:{K1}",  # the hash key is still the development one
    ):
        with pytest.raises(ValidationError, match=refused):
            Settings(app_env="production", pii_keys=keys)
    # Real keys pass this check (the next one, the SMS provider, refuses the rest for now).
    with pytest.raises(ValidationError, match="SMS_PROVIDER"):
        Settings(app_env="production", pii_keys=f"k1:{K1}", pii_hash_key=HASH)
    with pytest.raises(ValidationError, match="32 bytes"):
        Settings(pii_keys="k1:c2hvcnQ=")
