"""`python -m crm.purchases import FILE [--dry-run]` and `python -m crm.purchases seed-demo`."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from crm.config import get_settings
from crm.db import session_scope
from crm.errors import DomainError, InvalidImport
from crm.handoff.demo import seed_demo_conversations
from crm.integration.service import DEMO_CLIENT_KEY, DEMO_CLIENT_NAME, ensure_demo_client
from crm.purchases.demo import seed_demo
from crm.purchases.service import check_purchases, import_purchases
from crm.staff.demo import DEMO_STAFF_PASSWORD, DEMO_USERNAMES, seed_demo_staff


class UnreadableFile(Exception):
    """The file cannot be read as orders (missing, wrong type, not CSV/JSON of objects)."""


def read_orders(path: Path) -> list[dict[str, Any]]:
    """The orders of a .csv file (a header row of field names) or a .json list of objects."""
    if path.suffix.lower() not in (".csv", ".json"):
        raise UnreadableFile("expected a .csv or .json file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(exc.strerror or str(exc)) from exc
    text = _decode(raw)
    if path.suffix.lower() == ".csv":
        # Cells beyond the header's columns come under None: name them so the row is refused.
        return [
            {("(cells beyond the header)" if k is None else k): v for k, v in row.items()}
            for row in csv.DictReader(io.StringIO(text, newline=""))
        ]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(f"not valid JSON: {exc}") from exc
    if isinstance(data, dict) and "orders" in data:  # the API's body works too
        data = data["orders"]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise UnreadableFile("the JSON must be a list of order objects")
    return data


def _decode(raw: bytes) -> str:
    # Excel on Chinese Windows saves CSV as GB18030 (GBK) unless told otherwise.
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise UnreadableFile("neither UTF-8 nor GB18030 text") from exc


def _progress(done: int, total: int) -> None:
    print(f"purchases: {done}/{total} rows checked", flush=True)


def import_file(path: Path, dry_run: bool) -> int:
    """Import (or check) one file; 1 with every problem listed when anything is invalid."""
    print(f"purchases: reading {path} ...", flush=True)
    try:
        orders = read_orders(path)
    except UnreadableFile as exc:
        print(f"purchases: cannot read {path}: {exc}", file=sys.stderr)
        return 1
    try:
        with session_scope() as session:
            run = check_purchases if dry_run else import_purchases
            report = run(session, orders, _progress)
            if report.errors:  # only a dry run returns errors instead of raising them
                raise InvalidImport(report.errors)
    except InvalidImport as exc:
        print(f"purchases: invalid: {exc.detail}", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    except DomainError as exc:
        print(f"purchases: {exc.detail}", file=sys.stderr)
        return 1
    if dry_run:
        print(
            f"purchases: valid ({report.created} would be created, {report.unchanged} unchanged); "
            "dry run, nothing written",
            flush=True,
        )
    else:
        print(f"purchases: {report.created} created, {report.unchanged} unchanged", flush=True)
    return 0


def seed() -> int:
    """Create the demo members, purchases, till client, staff and chats (not in production)."""
    if get_settings().app_env == "production":
        print("purchases: seed-demo is refused when APP_ENV=production", file=sys.stderr)
        return 1
    try:
        with session_scope() as session:
            summary = seed_demo(session)
            client_created = ensure_demo_client(session)
            staff_created = seed_demo_staff(session)
            chats = seed_demo_conversations(session)
    except DomainError as exc:
        print(f"purchases: seed-demo: {exc.detail}", file=sys.stderr)
        return 1
    print(
        f"purchases: demo data: {summary.members_created} members and "
        f"{summary.purchases_created} purchases created ({summary.members_present} members and "
        f"{summary.purchases_present} purchases were there already)",
        flush=True,
    )
    state = "created" if client_created else "present"
    print(
        f"purchases: demo integration client {DEMO_CLIENT_NAME} {state}, development key "
        f"{DEMO_CLIENT_KEY} (refused in production)",
        flush=True,
    )
    print(
        f"purchases: demo back-office logins ({staff_created} created): "
        f"{', '.join(DEMO_USERNAMES)}, "
        f"password {DEMO_STAFF_PASSWORD} (refused in production)",
        flush=True,
    )
    if chats.conversations:
        print(
            f"purchases: a demo week of {chats.conversations} conversations "
            f"({chats.handoffs} handed to a human) for the queue and the dashboard",
            flush=True,
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the purchases command."""
    parser = argparse.ArgumentParser(prog="python -m crm.purchases")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("import", help="import POS / mall orders from a .csv or .json file")
    cmd.add_argument("file", type=Path)
    cmd.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    sub.add_parser(
        "seed-demo", help="demo members, purchases and till client for the embedded default"
    )
    args = parser.parse_args(argv)
    if args.command == "seed-demo":
        return seed()
    return import_file(args.file, args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
