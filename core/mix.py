"""The mix: a workshop's sealed ballots rewritten in a fresh random order with fresh ids,
and the storage scrub that makes the database files forget what a rewrite replaced.

Must never leave a row order, a row id or a transaction id that recalls the order of
casting once voting has closed. Why: docs/threat-model.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, update
from sqlalchemy.orm import Session

from core.ballot_values import shuffled
from core.db import Database, checkpoint_wal
from core.models import CARDS, SEALED_BALLOTS, random_id

_C = CARDS.c
_B = SEALED_BALLOTS.c


def mix_box(
    conn: Connection | Session, workshop_id: int, extra: Sequence[dict[str, Any]] = ()
) -> list[tuple[bytes, str]]:
    """Rewrite a workshop's sealed ballots, plus `extra` new ones, in a fresh random order
    with fresh random ids.

    Returns (sealed, receipt) of every ballot, in the new order. `DELETE ... RETURNING`
    makes the rows rewritten exactly the rows deleted, even if a batch commits meanwhile.
    On PostgreSQL the new rows share one transaction id (xmin) and sit in the heap in the
    shuffled order, so neither `ctid` nor `xmin` recalls the batches; the old tuples are
    dead until `scrub_storage` rewrites the table. On SQLite the table has no rowid and
    `secure_delete` zeroes freed cells.
    """
    deleted = conn.execute(
        delete(SEALED_BALLOTS).where(_B.workshop_id == workshop_id).returning(_B.sealed, _B.receipt)
    ).all()
    rows = shuffled(
        [(bytes(r.sealed), str(r.receipt)) for r in deleted]
        + [(bytes(e["sealed"]), str(e["receipt"])) for e in extra]
    )
    if rows:
        conn.execute(
            insert(SEALED_BALLOTS),
            [
                {"id": random_id(), "workshop_id": workshop_id, "sealed": s, "receipt": r}
                for s, r in rows
            ],
        )
    return rows


def forget_spend_times(conn: Connection | Session, workshop_id: int) -> None:
    """Give every card row of the workshop the same last-write transaction."""
    # On PostgreSQL each spent card row carries the xmin of the batch that spent it. Touching
    # every card of the workshop in one transaction gives them all the same xmin.
    conn.execute(update(CARDS).where(_C.workshop_id == workshop_id).values(is_spent=_C.is_spent))


def scrub_storage(db: Database, tables: Sequence[str], *, rewrite: bool = True) -> None:
    """Make the files forget what a rewrite replaced. Never raises (best effort).

    SQLite: checkpoint the WAL with TRUNCATE, so the -wal file is emptied and the main file
    (with `secure_delete`) holds only live rows. PostgreSQL: `VACUUM FULL` of `tables`
    (with `rewrite`) writes them to new files, so dead row versions (pre-mix order, erased
    ciphertexts) are no longer in any table page; plain `VACUUM` otherwise. Neither can
    reach the PostgreSQL WAL or its archive: docs/threat-model.md says what they keep.
    A missing privilege must not undo a close or a reveal that already committed.
    """
    try:
        if db.is_sqlite:
            checkpoint_wal(db)
        elif tables:
            with db.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                command = "VACUUM FULL" if rewrite else "VACUUM"
                for table in tables:
                    conn.exec_driver_sql(f"{command} {table}")
    except Exception:  # best effort by design (see docstring)
        return
