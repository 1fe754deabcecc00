"""`make backup` / `make restore`: dump and restore the configured database (PostgreSQL or SQLite).

PostgreSQL goes through pg_dump/pg_restore (custom format); SQLite through the online backup API,
which gives a consistent copy while the app runs. A restore replaces everything in the database.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from sqlalchemy import URL, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from crm.config import get_settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "var" / "backups"
PG_MAGIC = b"PGDMP"
SQLITE_MAGIC = b"SQLite format 3\x00"
KINDS = {"postgresql": "a PostgreSQL dump", "sqlite": "a SQLite database file"}


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why."""


def kind_of_url(url: URL) -> str:
    """'postgresql' or 'sqlite' for a DATABASE_URL; anything else is refused."""
    backend = url.get_backend_name()
    if backend not in KINDS:
        raise BackupError(f"unsupported database {backend!r}: only PostgreSQL and SQLite")
    return backend


def kind_of_file(path: Path) -> str:
    """'postgresql' or 'sqlite' from the file's first bytes; anything else is refused."""
    with path.open("rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    if head.startswith(PG_MAGIC):
        return "postgresql"
    if head == SQLITE_MAGIC:
        return "sqlite"
    raise BackupError(f"{path} is neither a PostgreSQL custom-format dump nor a SQLite database")


def libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The libpq URL (no password in it) and the environment carrying the password."""
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = URL.create(
        "postgresql", url.username, None, url.host, url.port, url.database, url.query
    )
    return plain.render_as_string(hide_password=False), env


def sqlite_path(url: URL) -> Path:
    """The file behind a sqlite:/// URL."""
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def tool(name: str) -> str:
    """The full path of pg_dump / pg_restore, or a clear error naming the Debian package."""
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found on PATH: install the PostgreSQL client tools "
            "(Debian/Ubuntu: apt-get install postgresql-client; its major version must be at "
            "least the server's)"
        )
    return found


def run(args: list[str], env: dict[str, str]) -> None:
    """Run a client tool; its own error text becomes the BackupError."""
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        name = Path(args[0]).name
        raise BackupError(f"{name} failed (exit {result.returncode}): {result.stderr.strip()}")


def revision(url: URL) -> str | None:
    """The Alembic revision stamped in the database, None if it was never migrated."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest migration in migrations/."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


def size_text(size: int) -> str:
    """A byte count for people."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def target_file(out_dir: Path, kind: str) -> Path:
    """A new timestamped file name under `out_dir` (never an existing one)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    suffix = ".dump" if kind == "postgresql" else ".sqlite3"
    path, n = out_dir / f"jiangxin-{stamp}{suffix}", 1
    while path.exists():
        n += 1
        path = out_dir / f"jiangxin-{stamp}-{n}{suffix}"
    return path


def backup(database_url: str, out_dir: Path = DEFAULT_DIR) -> Path:
    """Write a backup of the database into a new file under `out_dir` and return its path."""
    url = make_url(database_url)
    kind = kind_of_url(url)
    target = target_file(out_dir, kind)
    partial = target.with_name(target.name + ".partial")
    shown = url.render_as_string(hide_password=True)
    print(f"backup: {shown} -> {target} ...", flush=True)
    started = time.monotonic()
    try:
        if kind == "postgresql":
            pg_dump = tool("pg_dump")
            dsn, env = libpq(url)
            args = [pg_dump, "--format=custom", "--no-owner", f"--file={partial}", dsn]
            run(args, env)
        else:
            source = sqlite_path(url)
            if not source.is_file():
                raise BackupError(f"no SQLite database at {source}")
            _sqlite_copy(source, partial)
            with sqlite3.connect(partial) as copy:  # one self-contained file, no -wal beside it
                copy.execute("PRAGMA journal_mode=DELETE")
            copy.close()
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    took = time.monotonic() - started
    size = size_text(target.stat().st_size)
    print(f"backup: wrote {target} ({size}) in {took:.1f} s; revision {revision(url)}", flush=True)
    return target


def _sqlite_copy(source: Path, target: Path) -> None:
    """Copy one SQLite database over another with the online backup API."""
    src = sqlite3.connect(source, timeout=15)
    dst = sqlite3.connect(target, timeout=15)
    try:
        src.backup(dst)
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite backup from {source} to {target} failed: {exc}") from exc
    finally:
        dst.close()
        src.close()


def check_file(url: URL, path: Path) -> None:
    """Refuse a missing, unreadable or wrong-kind backup before anything is touched."""
    if not path.is_file():
        raise BackupError(f"no backup file at {path}")
    wanted, found = kind_of_url(url), kind_of_file(path)
    if found != wanted:
        raise BackupError(
            f"{path} is {KINDS[found]} but DATABASE_URL is {wanted}: refused, nothing was changed"
        )
    if found == "postgresql":
        run(
            [tool("pg_restore"), "--list", str(path)], dict(os.environ)
        )  # a readable archive, not truncated
    else:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            try:
                status = conn.execute("PRAGMA quick_check").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                status = str(exc)
        conn.close()
        if status != "ok":
            raise BackupError(f"{path} is a damaged SQLite file ({status}): refused")


def confirmed(shown: str, path: Path) -> bool:
    """Ask on the terminal; anything but 'yes' (or no terminal at all) is a no."""
    prompt = f"restore: this REPLACES everything in {shown} with {path}. Type 'yes' to go on: "
    try:
        return input(prompt).strip().lower() == "yes"
    except EOFError:
        print(flush=True)
        return False


def restore(database_url: str, path: Path, *, yes: bool, app_env: str) -> str | None:
    """Replace the database's contents with the backup at `path`; the restored revision."""
    url = make_url(database_url)
    shown = url.render_as_string(hide_password=True)
    check_file(url, path)
    if app_env == "production" and not yes:
        raise BackupError("APP_ENV=production: restore only with an explicit --yes")
    if not yes and not confirmed(shown, path):
        raise BackupError("not confirmed: nothing was changed")
    print(f"restore: {path} -> {shown} ...", flush=True)
    started = time.monotonic()
    if kind_of_url(url) == "postgresql":
        dsn, env = libpq(url)
        options = ["--clean", "--if-exists", "--no-owner", "--single-transaction"]
        run([tool("pg_restore"), *options, "--exit-on-error", f"--dbname={dsn}", str(path)], env)
    else:
        target = sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(path, target)
    took = time.monotonic() - started
    restored, head = revision(url), head_revision()
    note = "the newest" if restored == head else f"newest is {head}: run `make migrate`"
    print(f"restore: done in {took:.1f} s; alembic revision {restored} ({note})", flush=True)
    return restored


def main(argv: list[str] | None = None) -> int:
    """Command line: `backup [--out DIR]` or `restore FILE [--yes]`."""
    parser = argparse.ArgumentParser(prog="backup", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("backup", help="write a timestamped backup file")
    make.add_argument("--out", type=Path, default=DEFAULT_DIR, help="folder (var/backups/)")
    back = commands.add_parser("restore", help="replace the database with a backup file")
    back.add_argument("file", type=Path)
    back.add_argument("--yes", action="store_true", help="no question; required in production")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:
        print(f"{args.command}: the settings are invalid:\n{exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "backup":
            backup(settings.database_url, args.out)
        else:
            restore(settings.database_url, args.file, yes=args.yes, app_env=settings.app_env)
    except BackupError as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
