"""The mixer: ballots reach the database only in batches of at least k.

A database keeps more than its rows. PostgreSQL's WAL names every transaction by an xid
and a commit time and holds its row images; SQLite's -wal appends whole pages in commit
order. Were one cast one transaction, a card spend and its ballot would share an xid
(card <-> ballot) and the WAL would list ballots in casting order. So `core.casting` only
checks, seals and queues a cast in this process's memory; once k casts of a workshop are
queued, EVERY queued cast is written in ONE transaction with its rows shuffled, and only
then does a phone get its receipt (acknowledged = stored). At close the remainder joins
the mix itself. A crash loses only queued casts, whose cards were never spent.

Never writes a time, a client key or anything else that orders or links ballots.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from core.ballot_box import Box, raise_unless_voting
from core.ballot_values import CardAlreadySpent, CardNotFound, shuffled
from core.batch_sql import (
    CARD_STATE,
    CARDS_STATE_IN,
    INSERT_SEALED,
    SPEND_CARD,
    STAGE_FOR_CAST,
    STAGE_READ,
    sqlite_cards_in,
    sqlite_statements,
)
from core.cards import CARD_LIMITER
from core.db import Database
from core.db_gate import sqlite_alone, sqlite_reading
from core.domain import Stage
from core.errors import BeiduiError
from core.mix import forget_spend_times, mix_box, scrub_storage
from core.models import Workshop
from core.workshops import WorkshopNotFound


class BallotNotStored(BeiduiError, key="ballot.errors.not_stored"):
    """The database refused the batch; nothing of it was written, the card is unused."""


# How often a server with queued ballots reads their workshops' stage, so that a close on
# another server (same PostgreSQL) commits this server's remainder too.
WATCH_INTERVAL_SECONDS: Final = 0.5


@dataclass(eq=False)
class Pending:
    box: Box
    digest: bytes | None
    client: str
    row: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    error: BeiduiError | None = None
    done_at: float | None = None
    # Called once when the ballot is written or refused (`call_when_done`).
    callbacks: list[Callable[[], None]] = field(default_factory=list)


@dataclass(eq=False)
class Mixer:
    """One workshop's queue in this process. Lock order: flush_lock, then the database."""

    k: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    flush_lock: threading.RLock = field(default_factory=threading.RLock)
    queue: list[Pending] = field(default_factory=list)
    # Digests of queued cards: the same card cannot wait in two places of one process.
    reserved: set[bytes] = field(default_factory=set)


_MIXERS: weakref.WeakKeyDictionary[Database, dict[int, Mixer]] = weakref.WeakKeyDictionary()
_MIXERS_GUARD = threading.Lock()
_CALLBACKS_GUARD = threading.Lock()
_WATCHER: list[threading.Thread] = []


_READ_ENGINES: weakref.WeakKeyDictionary[Database, Engine] = weakref.WeakKeyDictionary()


def _read_engine(db: Database) -> Engine:
    """Core connections that only read (no write lock on SQLite): cheaper than a Session."""
    engine = _READ_ENGINES.get(db)
    if engine is None:
        engine = _READ_ENGINES.setdefault(db, db.engine.execution_options(beidui_read_only=True))
    return engine


def mixer_for(db: Database, box: Box) -> Mixer:
    """This process's queue for the workshop of `box` (made on first use)."""
    with _MIXERS_GUARD:
        per_db = _MIXERS.setdefault(db, {})
        mixer = per_db.get(box.workshop_id)
        if mixer is None:
            mixer = per_db[box.workshop_id] = Mixer(k=max(box.anonymity_k, 1))
        return mixer


def existing_mixer(db: Database, workshop_id: int) -> Mixer | None:
    """This process's queue for the workshop, if a ballot was ever submitted here."""
    with _MIXERS_GUARD:
        return _MIXERS.get(db, {}).get(workshop_id)


def waiting_for(db: Database, pending: Pending) -> int:
    """How many more ballots `pending`'s batch needs (0: being written or done)."""
    if pending.done.is_set():
        return 0
    mixer = existing_mixer(db, pending.box.workshop_id)
    if mixer is None:
        return 0
    with mixer.lock:
        if pending not in mixer.queue:
            return 0  # taken by a flush that is writing it now
        return max(mixer.k - len(mixer.queue), 0)


def finish(mixer: Mixer, done: Sequence[Pending], error: BeiduiError | None = None) -> None:
    """Mark `done` stored (or refused with `error`) and release their card reservations."""
    now = time.monotonic()
    with mixer.lock:
        for p in done:
            if p.digest is not None:
                mixer.reserved.discard(p.digest)
    for p in done:
        p.error = error
        p.done_at = now
        # Done: the ticket keeps only the receipt, not the ciphertext or the card's digest.
        p.row = {"receipt": p.row["receipt"]}
        p.digest = None
        p.done.set()
        with _CALLBACKS_GUARD:
            callbacks, p.callbacks = p.callbacks, []
        for callback in callbacks:
            with suppress(Exception):  # a waiter that went away must not stop the writer
                callback()


def call_when_done(pending: Pending, callback: Callable[[], None]) -> bool:
    """Call `callback()` once, from the writing thread, when `pending` is written or refused;
    False (and no call) if that already happened."""
    with _CALLBACKS_GUARD:
        if pending.done.is_set():
            return False
        pending.callbacks.append(callback)
    return True


def read_stage_and_cards(
    db: Database, box: Box, digests: Sequence[bytes]
) -> tuple[str | None, dict[bytes, tuple[bool, bool]]]:
    """The workshop's stage and each known card's (is_spent, is_void), in one read
    transaction: a group of casts costs one read, not one per ballot. Unknown cards are
    absent from the map."""
    wid = box.workshop_id
    wanted = list(dict.fromkeys(digests))  # one placeholder per distinct card
    cards: dict[bytes, tuple[bool, bool]] = {}
    if db.is_sqlite:
        # Plain statements on the driver connection, no BEGIN/ROLLBACK round trips. Each
        # statement sees its own snapshot (as on PostgreSQL's READ COMMITTED below): these
        # reads only give a phone its answer early; the batch checks the stage again and
        # spends each card with a guarded update.
        sql = sqlite_statements(db)
        with sqlite_reading(db):
            pooled = db.engine.raw_connection()
            try:
                conn: Any = pooled.driver_connection
                found = conn.execute(
                    sql["read_stage"].sql, sql["read_stage"].args({"wid": wid})
                ).fetchone()
                for start in range(0, len(wanted), _CARDS_PER_READ):
                    chunk = wanted[start : start + _CARDS_PER_READ]
                    rows = conn.execute(sqlite_cards_in(len(chunk)), (wid, *chunk)).fetchall()
                    cards.update((bytes(r[0]), (bool(r[1]), bool(r[2]))) for r in rows)
            finally:
                pooled.close()
    else:
        with _read_engine(db).connect() as rconn:
            found = rconn.execute(STAGE_READ, {"wid": wid}).one_or_none()
            for start in range(0, len(wanted), _CARDS_PER_READ):
                chunk = wanted[start : start + _CARDS_PER_READ]
                rows = rconn.execute(CARDS_STATE_IN, {"b_wid": wid, "b_digests": chunk})
                cards.update((bytes(r[0]), (bool(r[1]), bool(r[2]))) for r in rows)
    return (None if found is None else str(found[0])), cards


# At most this many cards in one IN list (SQLite allows 32,766 parameters; a group of casts
# is far smaller, this only bounds a statement).
_CARDS_PER_READ: Final = 500


def _stage_in_transaction(conn: Connection | Session, box: Box) -> Stage:
    stage = conn.execute(STAGE_FOR_CAST, {"wid": box.workshop_id}).scalar_one_or_none()
    if stage is None:
        raise WorkshopNotFound(f"no workshop {box.code!r}", code=box.code)
    return Stage(stage)


class _TooFew(Exception):
    """Cards failed in a batch and fewer than k ballots remain: roll back, wait for more."""

    def __init__(self, kept: list[Pending], failed: list[Pending]) -> None:
        super().__init__("batch below k")
        self.kept = kept
        self.failed = failed


def spend_and_write(
    conn: Connection | Session,
    workshop_id: int,
    batch: Sequence[Pending],
    *,
    is_closed: bool,
    k: int,
) -> tuple[list[Pending], list[Pending]]:
    """Spend the batch's cards (guarded) and write its rows, all in the caller's transaction.

    Returns (stored, failed cards). While voting, a batch left with fewer than k ballots by
    failed cards raises `_TooFew` so the caller rolls back. Once closed, the rows join the
    whole box's mix (`mix_box`), so even the remainder hides among every ballot.
    """
    stored: list[Pending] = []
    failed: list[Pending] = []
    for p in shuffled(batch):
        if p.digest is not None:
            spent = conn.execute(SPEND_CARD, {"b_digest": p.digest, "b_wid": workshop_id})
            if spent.rowcount != 1:  # type: ignore[attr-defined]
                failed.append(p)
                continue
        stored.append(p)
    if is_closed:
        mix_box(conn, workshop_id, [p.row for p in stored])
        forget_spend_times(conn, workshop_id)
    else:
        if failed and len(stored) < k:
            raise _TooFew(stored, failed)
        if stored:
            conn.execute(INSERT_SEALED, [p.row for p in stored])
    return stored, failed


def refuse_cards(db: Database, mixer: Mixer, failed: Sequence[Pending]) -> None:
    """Finish ballots whose card the guarded update refused, each with its card error."""
    # Only now, after the guarded update failed, is it worth telling spent from unknown.
    for p in failed:
        assert p.digest is not None
        CARD_LIMITER.record_failure(p.box.code, p.client)
        with db.read.begin() as session:
            state = session.execute(
                CARD_STATE, {"b_digest": p.digest, "b_wid": p.box.workshop_id}
            ).one_or_none()
        error: BeiduiError = (
            CardAlreadySpent("card already used")
            if state is not None and state.is_spent
            else CardNotFound("no usable card with this code")
        )
        finish(mixer, [p], error)


def flush(db: Database, mixer: Mixer, *, force: bool) -> None:
    """Write every queued ballot of `mixer` if at least k wait (or `force`, once closed)."""
    if force:
        with mixer.flush_lock:
            _drain(db, mixer, force=True)
        return
    # While one thread writes a batch, the ballots submitted meanwhile wait for it to loop
    # back (a bigger next batch, one commit for all) instead of queueing up on the lock; the
    # writer looks again after letting go, so a ballot queued during its last look is not
    # left behind.
    while mixer.flush_lock.acquire(blocking=False):
        try:
            _drain(db, mixer, force=False)
        finally:
            mixer.flush_lock.release()
        with mixer.lock:
            if len(mixer.queue) < mixer.k:
                return


def _drain(db: Database, mixer: Mixer, *, force: bool) -> None:
    while True:
        with mixer.lock:
            if not mixer.queue or (not force and len(mixer.queue) < mixer.k):
                return
            batch, mixer.queue = mixer.queue, []
        retry = _commit_batch(db, mixer, batch)
        if not retry:
            return
        with mixer.lock:
            mixer.queue[:0] = retry
        # The queue was empty while the batch was written: a watcher that looked then has
        # stopped, and these ballots must still be written when another server closes.
        ensure_watcher()


class _Closed(Exception):
    """The SQLite fast path found the stage CLOSED: the general path mixes the box."""


def _commit_batch_sqlite(db: Database, mixer: Mixer, batch: list[Pending]) -> list[Pending]:
    """`_commit_batch` while voting on SQLite: the same statements, compiled once and run on
    the pooled driver connection, because SQLAlchemy's per-statement work cost as much as
    the writing itself (benchmarks/cast.py); then the checkpoint on the same connection."""
    box = batch[0].box
    sql = sqlite_statements(db)
    try:
        pooled = db.engine.raw_connection()
        try:
            conn: Any = pooled.driver_connection  # autocommit mode (core/db.py): BEGIN is ours
            conn.execute("BEGIN IMMEDIATE")
            try:
                found = conn.execute(
                    sql["stage"].sql, sql["stage"].args({"wid": box.workshop_id})
                ).fetchone()
                if found is None:
                    raise WorkshopNotFound(f"no workshop {box.code!r}", code=box.code)
                if Stage(found[0]).awaits_reveal:
                    raise _Closed()
                raise_unless_voting(Stage(found[0]))
                stored: list[Pending] = []
                failed: list[Pending] = []
                for p in shuffled(batch):
                    if p.digest is not None:
                        args = {"b_digest": p.digest, "b_wid": box.workshop_id}
                        if conn.execute(sql["spend"].sql, sql["spend"].args(args)).rowcount != 1:
                            failed.append(p)
                            continue
                    stored.append(p)
                if failed and len(stored) < mixer.k:
                    raise _TooFew(stored, failed)
                conn.executemany(sql["insert"].sql, [sql["insert"].args(p.row) for p in stored])
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            with sqlite_alone(db):
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            pooled.close()
    except _Closed:
        return _commit_batch(db, mixer, batch, fast=False)
    except _TooFew as few:
        refuse_cards(db, mixer, few.failed)
        return few.kept
    except BeiduiError as exc:
        finish(mixer, batch, exc)
        return []
    except Exception:
        finish(mixer, batch, BallotNotStored("batch not written"))
        return []
    finish(mixer, stored)
    refuse_cards(db, mixer, failed)
    return []


def _commit_batch(
    db: Database, mixer: Mixer, batch: list[Pending], *, fast: bool = True
) -> list[Pending]:
    """One transaction for the whole batch; returns the ballots to queue again, if any."""
    if fast and db.is_sqlite:
        return _commit_batch_sqlite(db, mixer, batch)
    box = batch[0].box
    is_closed = False
    try:
        with db.engine.begin() as conn:
            stage = _stage_in_transaction(conn, box)
            if not stage.awaits_reveal:
                raise_unless_voting(stage)
            is_closed = stage.awaits_reveal
            stored, failed = spend_and_write(
                conn, box.workshop_id, batch, is_closed=is_closed, k=mixer.k
            )
    except _TooFew as few:
        refuse_cards(db, mixer, few.failed)
        return few.kept
    except BeiduiError as exc:  # the workshop is gone or revealed: nothing was written
        finish(mixer, batch, exc)
        return []
    except Exception:  # the database refused: nothing was written, every card is unused
        finish(mixer, batch, BallotNotStored("batch not written"))
        return []
    # The -wal (SQLite) never holds more than one batch; after a late flush at close, the
    # remainder's own row versions go the way of the mix's (see `scrub_storage`).
    with sqlite_alone(db):
        scrub_storage(db, ("sealed_ballots", "cards") if is_closed else (), rewrite=is_closed)
    finish(mixer, stored)
    refuse_cards(db, mixer, failed)
    return []


def _flush_closed(db: Database) -> None:
    """Write the remainder of every workshop of `db` queued here whose voting has closed."""
    with _MIXERS_GUARD:
        waiting = [(wid, m) for wid, m in _MIXERS.get(db, {}).items() if m.queue]
    if not waiting:
        return
    with db.read.begin() as session:
        stages: dict[int, Stage] = {
            row.id: row.stage
            for row in session.execute(
                select(Workshop.id, Workshop.stage).where(
                    Workshop.id.in_([wid for wid, _ in waiting])
                )
            )
        }
    for wid, mixer in waiting:
        stage = stages.get(wid)
        if stage is None or stage.has_voting_ended:
            flush(db, mixer, force=True)


def _watch() -> None:
    # Runs while any ballot waits in this process; a later submit starts it again.
    while True:
        time.sleep(WATCH_INTERVAL_SECONDS)
        with _MIXERS_GUARD:
            dbs = [db for db, per in _MIXERS.items() if any(m.queue for m in per.values())]
            if not dbs:
                _WATCHER.clear()  # under the guard: a submit after this starts a new one
                return
        for db in dbs:
            try:
                _flush_closed(db)
            except Exception:  # a database hiccup: try again on the next tick
                continue


def ensure_watcher() -> None:
    """Start the thread that writes this process's remainders once voting closes."""
    with _MIXERS_GUARD:
        if _WATCHER:
            return
        thread = threading.Thread(target=_watch, name="beidui-mixer-watch", daemon=True)
        _WATCHER[:] = [thread]
        thread.start()


def queue_gap(pending: Pending) -> int:
    """How many more ballots `pending`'s batch needs, wherever it waits (0: not queued)."""
    with _MIXERS_GUARD:
        dbs = list(_MIXERS.keys())
    waiting = 0
    for db in dbs:
        mixer = _MIXERS.get(db, {}).get(pending.box.workshop_id)
        if mixer is not None:
            with mixer.lock:
                if pending in mixer.queue:
                    waiting = max(mixer.k - len(mixer.queue), 0)
    return waiting
