"""`python -m crm.integration create NAME --scopes a,b | list | revoke NAME | purge`."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from crm.db import session_scope
from crm.errors import DomainError
from crm.integration.models import SCOPES
from crm.integration.schemas import ClientRead
from crm.integration.service import (
    RETENTION,
    create_client,
    list_clients,
    purge_idempotency_records,
    revoke,
)


def create(name: str, scopes: str) -> int:
    """Create the client and print its key, the only time it is shown."""
    with session_scope() as session:
        client, key = create_client(session, name, [s.strip() for s in scopes.split(",")])
        scopes_text = ",".join(client.scopes)
    print(f"integration: client {name} created with scopes {scopes_text}")
    print(f"key (shown once, store it in the client's secret store): {key}")
    return 0


def show() -> int:
    """One line per client: name, key prefix, scopes, created, revoked."""
    with session_scope() as session:
        clients = [ClientRead.model_validate(c) for c in list_clients(session)]
    if not clients:
        print("integration: no clients yet (python -m crm.integration create NAME --scopes ...)")
    for c in clients:
        state = f"revoked {c.revoked_at:%Y-%m-%d %H:%M}" if c.revoked_at else "active"
        print(
            f"{c.name:<24}{c.key_prefix}…  {','.join(c.scopes):<60}"
            f"created {c.created_at:%Y-%m-%d}  {state}"
        )
    return 0


def cancel(name: str) -> int:
    """Revoke the client's key."""
    with session_scope() as session:
        revoke(session, name)
    print(f"integration: client {name} revoked; its key is refused from now on")
    return 0


def purge(days: int) -> int:
    """Delete the idempotency records older than `days` days."""
    with session_scope() as session:
        deleted = purge_idempotency_records(session, keep=timedelta(days=days))
    print(f"integration: {deleted} idempotency records older than {days} days deleted")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the integration command."""
    parser = argparse.ArgumentParser(prog="python -m crm.integration")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("create", help="a new client; prints its key once")
    cmd.add_argument("name")
    cmd.add_argument("--scopes", required=True, help=f"comma-separated: {','.join(SCOPES)}")
    sub.add_parser("list", help="every client with its key prefix and scopes")
    cmd = sub.add_parser("revoke", help="refuse the client's key from now on")
    cmd.add_argument("name")
    cmd = sub.add_parser("purge", help="delete old idempotency records (a daily job)")
    cmd.add_argument("--days", type=int, default=RETENTION.days)
    args = parser.parse_args(argv)
    try:
        if args.command == "create":
            return create(args.name, args.scopes)
        if args.command == "revoke":
            return cancel(args.name)
        if args.command == "purge":
            return purge(args.days)
        return show()
    except DomainError as exc:
        print(f"integration: {exc.detail}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
