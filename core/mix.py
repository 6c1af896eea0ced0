"""The mix: a workshop's sealed ballots rewritten in a fresh random order with fresh ids,
and the storage scrub that makes the database files forget what a rewrite replaced.

Must never leave a row order, a row id or a transaction id that recalls the order of
casting once voting has closed. Why: docs/threat-model.md.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, delete, insert, text, update
from sqlalchemy.orm import Session

from core.ballot_values import shuffled
from core.db import Database, checkpoint_wal
from core.models import CARDS, SEALED_BALLOTS, random_id


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
        delete(SEALED_BALLOTS)
        .where(SEALED_BALLOTS.c.workshop_id == workshop_id)
        .returning(SEALED_BALLOTS.c.sealed, SEALED_BALLOTS.c.receipt)
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
    conn.execute(
        update(CARDS).where(CARDS.c.workshop_id == workshop_id).values(is_spent=CARDS.c.is_spent)
    )


class Scrub(StrEnum):
    """What `scrub_storage` achieved."""

    DONE = "done"  # SQLite checkpointed; PostgreSQL rewritten past every older snapshot
    SNAPSHOT_HELD = "snapshot held"  # another session could still see old row versions
    FAILED = "failed"  # the database refused (a privilege, a lock): not (all) rewritten


# How long a close or a reveal waits for other sessions' older snapshots before it rewrites
# anyway and reports `Scrub.SNAPSHOT_HELD` (read at each call, so tests may change it).
SNAPSHOT_WAIT_SECONDS = 5.0
_POLL_SECONDS = 0.1
_LOG = logging.getLogger("beidui.storage")
# Per database: each table whose last scrub left old row versions, with what that scrub got.
_UNSCRUBBED: weakref.WeakKeyDictionary[Database, dict[str, Scrub]] = weakref.WeakKeyDictionary()
_UNSCRUBBED_GUARD = threading.Lock()

# Snapshots and transactions of other sessions that began before `:horizon` (the first xid
# not yet assigned when the scrub began, so after every delete it is to erase), counting
# what holds back PostgreSQL's removal horizon for this database's tables: backends of this
# database (and walsenders, for hot-standby feedback), physical replication slots and
# prepared transactions. `age` compares xids modulo wrap-around.
_OLDER_SNAPSHOTS = text(
    "SELECT count(*) FROM ("
    " SELECT unnest(ARRAY[backend_xmin, backend_xid]) AS x FROM pg_stat_activity"
    "  WHERE pid <> pg_backend_pid()"
    "  AND (datname = current_database() OR backend_type = 'walsender')"
    " UNION ALL SELECT xmin FROM pg_replication_slots"
    " UNION ALL SELECT transaction FROM pg_prepared_xacts WHERE database = current_database()"
    ") h WHERE x IS NOT NULL AND age(x) > age(xid(CAST(:horizon AS xid8)))"
)


def unscrubbed_tables(db: Database) -> frozenset[str]:
    """Tables whose last scrub left old row versions in the files (residual; see below)."""
    return frozenset(unscrubbed(db))


def unscrubbed(db: Database) -> dict[str, Scrub]:
    """`unscrubbed_tables`, each with why: `SNAPSHOT_HELD` (another session's older snapshot
    kept the versions) or `FAILED` (the database refused the rewrite: a privilege, a lock)."""
    with _UNSCRUBBED_GUARD:
        return dict(_UNSCRUBBED.get(db, {}))


def scrub_storage(db: Database, tables: Sequence[str], *, rewrite: bool = True) -> Scrub:
    """Make the files forget what a rewrite replaced. Never raises (best effort).

    SQLite: checkpoint the WAL with TRUNCATE, so the -wal file is emptied and the main file
    (with `secure_delete`) holds only live rows. PostgreSQL: `VACUUM FULL` of `tables`
    (with `rewrite`) writes them to new files (their TOAST tables and indexes too), so dead
    row versions (pre-mix order, erased ciphertexts) are no longer in any page; plain
    `VACUUM` otherwise. A rewrite keeps every version an open snapshot of another session
    may still see: it waits up to `SNAPSHOT_WAIT_SECONDS` for those to end, then rewrites
    anyway and returns `Scrub.SNAPSHOT_HELD` (the tables stay in `unscrubbed_tables` until a
    later scrub of them is done). Neither backend's scrub reaches the PostgreSQL WAL or its
    archive: docs/threat-model.md says what they keep. A missing privilege must not undo a
    close or a reveal that already committed.
    """
    outcome = Scrub.DONE
    try:
        if db.is_sqlite:
            checkpoint_wal(db)
        elif tables:
            outcome = _rewrite_postgres(db, tables, "VACUUM FULL" if rewrite else "VACUUM")
    except Exception:  # best effort by design (see docstring)
        outcome = Scrub.FAILED
    if tables:
        with _UNSCRUBBED_GUARD:
            left = _UNSCRUBBED.setdefault(db, {})
            for table in tables:
                if outcome is Scrub.DONE:
                    left.pop(table, None)
                else:
                    left[table] = outcome
    return outcome


def _rewrite_postgres(db: Database, tables: Sequence[str], command: str) -> Scrub:
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        horizon = str(
            conn.exec_driver_sql("SELECT pg_snapshot_xmax(pg_current_snapshot())::text").scalar()
        )
        held = _wait_for_older_snapshots(conn, horizon)
        for table in tables:
            conn.exec_driver_sql(f"{command} {table}")
        if held and not _older_snapshots(conn, horizon):
            # They ended during the rewrite, which may have kept what they could see.
            for table in tables:
                conn.exec_driver_sql(f"{command} {table}")
            held = 0
    if held:
        # Counts and names of tables only: nothing about a workshop, a ballot or a session.
        _LOG.warning(
            "storage scrub: %d older snapshot(s) of other sessions still open after %.0f s;"
            " old row versions stay in %s until the next rewrite",
            held,
            SNAPSHOT_WAIT_SECONDS,
            ", ".join(tables),
        )
        return Scrub.SNAPSHOT_HELD
    return Scrub.DONE


def _older_snapshots(conn: Connection, horizon: str) -> int:
    return int(conn.execute(_OLDER_SNAPSHOTS, {"horizon": horizon}).scalar_one())


def _wait_for_older_snapshots(conn: Connection, horizon: str) -> int:
    """Poll until no older snapshot is open or the wait is over; how many are still open."""
    deadline = time.monotonic() + SNAPSHOT_WAIT_SECONDS
    while (held := _older_snapshots(conn, horizon)) and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
    return held
