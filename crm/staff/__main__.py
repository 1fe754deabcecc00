"""`python -m crm.staff create|list|unlock|set-password`: manage back-office accounts."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from crm.db import SHANGHAI, as_utc, session_scope, utcnow
from crm.errors import DomainError
from crm.staff import service
from crm.staff.models import ROLES

# The password of `create` / `set-password` when set; a one-off input of this command (so that
# scripts need no terminal), not configuration, hence not part of Settings.
PASSWORD_VARIABLE = "STAFF_PASSWORD"


class PasswordMismatch(Exception):
    """The two typed passwords differ."""


def read_password() -> str:
    """The password from STAFF_PASSWORD, or typed twice at a hidden prompt."""
    given = os.environ.get(PASSWORD_VARIABLE)
    if given:
        return given
    first = getpass.getpass("密码: ")
    if getpass.getpass("再输入一次: ") != first:
        raise PasswordMismatch("两次输入的密码不一致")
    return first


def create(username: str, name: str, role: str, store: str | None) -> int:
    """Create one account."""
    password = read_password()
    with session_scope() as session:
        user = service.create_user(session, username, name, password, role, store)
        print(
            f"staff: created {user.username} ({user.display_name}, {role}, {store or '全部门店'})"
        )
    return 0


def list_accounts() -> int:
    """Print every account, one a line."""
    now = utcnow()
    with session_scope() as session:
        for user in service.list_users(session):
            state = "active" if user.active else "inactive"
            if user.locked_until is not None and as_utc(user.locked_until) > now:
                until = as_utc(user.locked_until).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
                state += f", locked until {until}"
            print(
                f"{user.username}\t{user.display_name}\t{user.role}\t"
                f"{user.store_id or '-'}\t{state}"
            )
    return 0


def unlock(username: str) -> int:
    """Lift a lockout."""
    with session_scope() as session:
        service.unlock(session, service.get_user(session, username))
    print(f"staff: {username} unlocked")
    return 0


def set_password(username: str) -> int:
    """Replace a password; the account's sessions are closed."""
    password = read_password()
    with session_scope() as session:
        service.set_password(session, service.get_user(session, username), password)
    print(f"staff: password of {username} changed, its sessions closed")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the staff command."""
    parser = argparse.ArgumentParser(prog="python -m crm.staff")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("create", help=f"create an account (password: ${PASSWORD_VARIABLE})")
    cmd.add_argument("username")
    cmd.add_argument("--name", required=True, help="display name, e.g. 小王")
    cmd.add_argument("--role", required=True, choices=ROLES)
    cmd.add_argument("--store", help="store id (stores.yml) of an agent; omitted: all stores")
    sub.add_parser("list", help="list the accounts")
    sub.add_parser("unlock", help="lift a lockout").add_argument("username")
    sub.add_parser("set-password", help="replace a password").add_argument("username")
    args = parser.parse_args(argv)
    try:
        if args.command == "create":
            return create(args.username, args.name, args.role, args.store)
        if args.command == "unlock":
            return unlock(args.username)
        if args.command == "set-password":
            return set_password(args.username)
        return list_accounts()
    except (DomainError, PasswordMismatch) as exc:
        print(f"staff: {getattr(exc, 'detail', exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
