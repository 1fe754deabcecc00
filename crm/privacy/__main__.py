"""`python -m crm.privacy rotate-keys`: re-encrypt personal data under the first key of PII_KEYS.

Also `python -m crm.privacy new-key`: print a fresh random key for PII_KEYS or PII_HASH_KEY.
"""

from __future__ import annotations

import argparse
import sys

from crm.db import get_engine
from crm.models import Base
from crm.privacy.crypto import PiiDecryptionError, keyring, new_key
from crm.privacy.rotation import rotate


def rotate_keys() -> int:
    """Rotate, print progress and which keys are still in use; 1 when a value is unreadable."""
    ring = keyring()
    print(
        f"rotate-keys: current key {ring.current!r}, readable: {sorted(ring.ciphers)}", flush=True
    )
    try:
        reports = rotate(
            get_engine(), Base.metadata, ring, lambda line: print(f"  {line}", flush=True)
        )
    except PiiDecryptionError as exc:
        print(f"rotate-keys: stopped: {exc}", file=sys.stderr)
        return 1
    before = sorted({kid for r in reports.values() for kid in r.kids})
    print(
        f"rotate-keys: done; keys found before: {before}; every value is now under {ring.current!r}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the named command."""
    parser = argparse.ArgumentParser(prog="python -m crm.privacy")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "rotate-keys", help="re-encrypt every encrypted column with the current key"
    )
    commands.add_parser("new-key", help="print a fresh random key (base64, 32 bytes)")
    args = parser.parse_args(argv)
    if args.command == "new-key":
        print(new_key())
        return 0
    return rotate_keys()


if __name__ == "__main__":
    sys.exit(main())
