"""Issue 10's storage adversary, with another session holding a snapshot (PostgreSQL only).

`VACUUM FULL` keeps every row version that some open snapshot of the database may still see
(RECENTLY_DEAD): another application's REPEATABLE READ transaction, a pooled connection left
in a transaction, an ANALYZE. `test_storage_adversary.py` failed on a busy machine, or while
other test sessions used the same database, with "erased ciphertexts still readable": the
close's and the reveal's rewrite had run while such a snapshot was open, and nothing ran
again once it ended. Here the snapshot is held on purpose, from a connection to the same
database outside the workshop's schema, then read as the adversary reads (every page of the
table, its indexes and its TOAST relations, dead tuples included):
- released while the close and the reveal wait: the storage is clean afterwards;
- held past the wait: the scrub says so (`Scrub.SNAPSHOT_HELD`, `unscrubbed_tables`) instead
  of claiming a clean storage, and the next scrub once it ended is clean.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Connection, create_engine, event, text

from core import mix
from core.cards import issue_cards
from core.casting import submit_ballot
from core.closing import close_voting
from core.console_access import open_console
from core.db import Database
from core.instance import Instance
from core.reveal import reveal
from core.storage_residual import scrub_again, storage_residual
from tests import storage_reader as sr
from tests.conftest import require_postgres
from tests.integration.test_ballots import PASS, Room, distinct_rankings, open_room

pytestmark = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)]
)

K = 5
N = 12  # two batches of k, and two late ballots the close writes
HOLD_SECONDS = 2.0  # the snapshot ends this long after the close (or reveal) began
CLOSE_TABLES = ("sealed_ballots", "cards")
REVEAL_TABLES = ("sealed_ballots", "workshop_secrets", "result_publications")


class Snapshot:
    """A REPEATABLE READ transaction of another session, with its snapshot taken."""

    def __init__(self) -> None:
        self.engine = create_engine(require_postgres())
        conn = self.engine.connect().execution_options(isolation_level="REPEATABLE READ")
        conn.begin()
        conn.execute(text("SELECT count(*) FROM pg_class")).scalar_one()
        self.conn: Connection | None = conn
        self.timer: threading.Timer | None = None

    def end_after(self, seconds: float) -> None:
        self.timer = threading.Timer(seconds, self.end)
        self.timer.start()

    @property
    def is_open(self) -> bool:
        return self.conn is not None

    def end(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.rollback()
            conn.close()
            self.engine.dispose()

    def join(self) -> None:
        if self.timer is not None:
            self.timer.join()
        self.end()


@pytest.fixture
def snapshots() -> Iterator[list[Snapshot]]:
    made: list[Snapshot] = []
    yield made
    for s in made:
        s.join()


def _room_with_ballots(instance: Instance) -> tuple[Room, list[bytes], list[str]]:
    """A sealed room with N ballots cast; the ciphertexts and receipts stored before the close
    (the last N % K wait in memory for it)."""
    room = open_room(instance, anonymity_k=K)
    cards = issue_cards(room.console, N)
    for i, ranking in enumerate(distinct_rankings(room, N)):
        role = room.roles[i % len(room.roles)]
        submit_ballot(room.db, room.key, room.code, cards[i], ranking, role)
    with room.db.engine.connect() as conn:
        rows = conn.execute(text("SELECT sealed, receipt FROM sealed_ballots")).all()
    return room, [bytes(r[0]) for r in rows], [str(r[1]) for r in rows]


def _row_versions(db: Database, table: str) -> tuple[int, int]:
    """(tuples with data in the table's pages, dead ones included; live rows)."""
    with db.engine.connect() as conn:
        stored = sum(1 for item in sr.heap_items(conn, table) if item.data)
        live = int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    return stored, live


def _files(db: Database, tables: tuple[str, ...], *, indexes: bool = True) -> bytes:
    """Every page of the tables, their indexes and their TOAST relations (or the heaps)."""
    with db.engine.connect() as conn:
        return b"".join(
            page
            for table in tables
            for relation in (sr.relations_of(conn, table) if indexes else [table])
            for _, page in sr.relation_pages(conn, relation)
        )


def _assert_only_live_versions(db: Database, tables: tuple[str, ...], when: str) -> None:
    for table in tables:
        stored, live = _row_versions(db, table)
        assert stored == live, f"{when}: {table} keeps {stored - live} old row versions"


def test_a_snapshot_that_ends_while_the_close_and_the_reveal_wait_leaves_no_old_version(
    instance: Instance, snapshots: list[Snapshot], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mix, "SNAPSHOT_WAIT_SECONDS", 60.0)  # a busy machine: never the limit
    sr.ensure_extensions(require_postgres())
    room, sealed, receipts = _room_with_ballots(instance)
    db = room.db
    # Beidui's own pool must never hold a snapshot: a connection back in the pool is idle.
    statuses: list[psycopg.pq.TransactionStatus] = []
    event.listen(
        db.engine, "checkin", lambda dbapi, _r: statuses.append(dbapi.info.transaction_status)
    )
    snapshots.append(held := Snapshot())
    held.end_after(HOLD_SECONDS)
    close_voting(open_console(db, room.key, room.code, room.grant))
    _assert_only_live_versions(db, CLOSE_TABLES, "after the close")
    assert not held.is_open, "the close returned while an older snapshot was still open"
    snapshots.append(held := Snapshot())
    held.end_after(HOLD_SECONDS)
    reveal(open_console(db, room.key, room.code, room.grant), PASS)
    _assert_only_live_versions(db, REVEAL_TABLES + CLOSE_TABLES, "after the reveal")
    files = _files(db, REVEAL_TABLES + CLOSE_TABLES)
    left = [blob for blob in sealed if blob[:32] in files]
    assert not left, f"after the reveal {len(left)} erased ciphertexts are still readable"
    heap = _files(db, ("sealed_ballots",), indexes=False)
    copies = [heap.count(r.encode("ascii")) for r in receipts]
    assert copies == [1] * len(receipts), f"after the reveal: receipts in the heap {copies} times"
    assert mix.unscrubbed_tables(db) == frozenset()
    assert statuses and set(statuses) == {psycopg.pq.TransactionStatus.IDLE}


def test_a_snapshot_held_past_the_wait_is_reported_and_the_next_scrub_is_clean(
    instance: Instance,
    snapshots: list[Snapshot],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(mix, "SNAPSHOT_WAIT_SECONDS", 0.3)
    sr.ensure_extensions(require_postgres())
    room, sealed, receipts = _room_with_ballots(instance)
    db = room.db
    snapshots.append(held := Snapshot())
    with caplog.at_level(logging.WARNING, logger="beidui.storage"):
        close_voting(open_console(db, room.key, room.code, room.grant))
    assert mix.unscrubbed_tables(db) == frozenset(CLOSE_TABLES)
    # The operator's log says it, with a count, the wait and the table names only.
    [warning] = [r.getMessage() for r in caplog.records if r.name == "beidui.storage"]
    assert re.fullmatch(
        r"storage scrub: \d+ older snapshot\(s\) of other sessions still open after 0 s;"
        r" old row versions stay in sealed_ballots, cards until the next rewrite",
        warning,
    ), warning
    assert room.code not in warning and not [r for r in receipts if r in warning]
    # The residual is real: the pre-mix versions are still in the pages.
    stored, live = _row_versions(db, "sealed_ballots")
    assert stored > live
    reveal(open_console(db, room.key, room.code, room.grant), PASS)
    assert mix.unscrubbed_tables(db) == frozenset(CLOSE_TABLES + REVEAL_TABLES)
    assert any(blob[:32] in _files(db, ("sealed_ballots",)) for blob in sealed)
    console = open_console(db, room.key, room.code, room.grant)
    # The facilitator is told (core.storage_residual: the console's notice) ...
    assert storage_residual(console).tables == tuple(sorted({*CLOSE_TABLES, *REVEAL_TABLES}))
    assert not storage_residual(console).refused
    assert scrub_again(console) is mix.Scrub.SNAPSHOT_HELD  # ... while it is still open
    held.end()
    assert scrub_again(console) is mix.Scrub.DONE  # ... and rewrites once it has ended
    assert storage_residual(console).tables == ()
    assert mix.unscrubbed_tables(db) == frozenset()
    _assert_only_live_versions(db, CLOSE_TABLES + REVEAL_TABLES, "after the next scrub")
    files = _files(db, CLOSE_TABLES + REVEAL_TABLES)
    assert not [blob for blob in sealed if blob[:32] in files]
