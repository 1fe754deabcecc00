"""Key rotation: re-encrypt every encrypted column under the current key, refresh the hashes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Column, Connection, Engine, MetaData, Table, column, select, table, update

from crm.privacy.crypto import BLIND_INDEXES, Encrypted, Keyring, kid_of, using

BATCH = 500


@dataclass
class TableReport:
    """What rotation found and changed in one table."""

    rows: int = 0
    reencrypted: int = 0
    rehashed: int = 0
    kids: dict[str, int] = field(default_factory=dict)  # values per key id before rotation


def encrypted_tables(metadata: MetaData) -> Iterator[tuple[Table, list[Column[str]]]]:
    """Each table with encrypted columns, and those columns."""
    for source in metadata.sorted_tables:
        columns = [c for c in source.columns if isinstance(c.type, Encrypted)]
        if columns:
            yield source, columns


def rotate(
    engine: Engine,
    metadata: MetaData,
    ring: Keyring,
    progress: Callable[[str], None] = print,
    batch: int = BATCH,
) -> dict[str, TableReport]:
    """Re-encrypt values not under `ring`'s current key and recompute keyed hashes that differ,
    one committed batch at a time (safe to interrupt and run again; a second run changes none)."""
    reports: dict[str, TableReport] = {}
    with using(ring):
        for source, columns in encrypted_tables(metadata):
            report = reports[source.name] = TableReport()
            after: int | None = None
            while True:
                with engine.begin() as conn:
                    after = _rotate_batch(conn, source, columns, ring, report, after, batch)
                progress(
                    f"{source.name}: {report.rows} rows read, {report.reencrypted} re-encrypted, "
                    f"{report.rehashed} hashes refreshed"
                )
                if after is None:
                    break
    return reports


def _rotate_batch(
    conn: Connection,
    source: Table,
    columns: list[Column[str]],
    ring: Keyring,
    report: TableReport,
    after: int | None,
    size: int,
) -> int | None:
    """Rotate the rows after id `after`; the last id seen, None when the table is done."""
    hashes = {c.name: BLIND_INDEXES.get((source.name, c.name), {}) for c in columns}
    names = ["id"] + [c.name for c in columns] + [h for d in hashes.values() for h in d]
    raw = table(source.name, *(column(n) for n in names))  # untyped: ciphertext as stored
    stmt = select(raw).order_by(raw.c.id).limit(size)
    rows = conn.execute(stmt if after is None else stmt.where(raw.c.id > after)).mappings().all()
    for row in rows:
        report.rows += 1
        changes: dict[str, str | None] = {}
        for col in columns:
            stored = row[col.name]
            if stored is None:
                continue
            kid = kid_of(stored) or "?"
            report.kids[kid] = report.kids.get(kid, 0) + 1
            context = col.type.context  # type: ignore[attr-defined]
            plain = ring.decrypt(stored, context)
            if kid != ring.current:
                changes[col.name] = ring.encrypt(plain, context)
                report.reencrypted += 1
            for name, digest in hashes[col.name].items():
                if row[name] != (fresh := digest(plain)):
                    changes[name] = fresh
                    report.rehashed += 1
        if changes:
            conn.execute(update(raw).where(raw.c.id == row["id"]).values(**changes))
    return rows[-1]["id"] if len(rows) == size else None
