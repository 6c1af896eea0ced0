"""Notes waiting for their batch: held in server memory, written k at a time, shuffled.

This module must never write one waiting note to the database on its own, nor keep a note's
position in the order notes were posted: a batch is written in ONE transaction, rows in random
order under random ids, so a database file, a WAL record, a transaction id or a commit time
names a batch, never a person. It knows workshops only as rows (stage, question on screen);
the services that post, release and move the room (core.notes, core.note_moderation,
core.workshops) build on it.
"""

from __future__ import annotations

import random
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from core.db import Database, checkpoint_wal
from core.domain import StagePosition
from core.models import Note, Question, Workshop, random_id


def is_batching(w: Workshop, q: Question) -> bool:
    """Only the question on screen holds notes back; once the room moves on, all show."""
    return StagePosition(w.stage, w.current_question).question_on_screen == q.position


# --- Batching: notes wait in this process's memory, never in the database ----------------
#
# A note posted while fewer than k notes wait for its question is held in the memory of the
# server process that received it -- no row, no WAL record, no page holds it. When the k-th
# note arrives, the whole batch is written in ONE transaction, rows in random order under
# random ids, so a database file, a WAL record, a transaction id or a commit time names a
# batch, never a person. What is left when the room moves on (fewer than k) is written as one
# shuffled batch by the process that holds it: in the stage change's own transaction when
# that process made the move, else at its next check: its next note post to that workshop,
# its next console release (`sweep`), and every SWEEP_INTERVAL_S seconds while anything
# waits (the sweeper thread).
#
# Lock order, in every path: a process's mixer lock first, then the database. The batch write
# holds the mixer lock, and a stage change takes it before its transaction begins, so a note
# is either accepted before the move (and written with the remainder) or refused after it.

SWEEP_INTERVAL_S = 2.0


class NoteMixer:
    """The notes waiting for their batch in one server process (one per `Database`).

    Each question's waiting texts are kept in random positions (not posting order) and are
    forgotten as soon as their batch is committed. A process restart loses them: the phone
    was told "received, not yet saved", never "saved".
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        # (workshop id, question id) -> waiting texts, in random order.
        self.waiting: dict[tuple[int, int], list[str]] = {}
        self._taken: list[tuple[int, int, list[str]]] | None = None
        self._sweeper: threading.Thread | None = None

    def add(self, workshop_id: int, question_id: int, text: str) -> int:
        """Hold `text` for its question; returns how many notes wait there now."""
        pen = self.waiting.setdefault((workshop_id, question_id), [])
        pen.insert(_RANDOM.randrange(len(pen) + 1), text)
        return len(pen)

    def count(self, workshop_id: int, question_id: int) -> int:
        # No lock: a count read while a batch is being written is one post early or late,
        # and the console must not wait on a post's database write.
        return len(self.waiting.get((workshop_id, question_id), ()))

    def take(self, workshop_id: int, question_id: int) -> list[str]:
        """Remove and return a question's waiting texts (for a batch about to be written).

        Inside `restoring()`, they are put back if the transaction writing them fails.
        """
        texts = self.waiting.pop((workshop_id, question_id), [])
        if self._taken is not None and texts:
            self._taken.append((workshop_id, question_id, texts))
        return texts

    @contextmanager
    def restoring(self) -> Iterator[None]:
        """Notes taken inside this block wait on if the block fails (nothing is lost to a
        transaction that did not commit). Call with the lock held."""
        self._taken = []
        try:
            yield
        except BaseException:
            for workshop_id, question_id, texts in self._taken:
                for t in texts:
                    self.add(workshop_id, question_id, t)
            raise
        finally:
            self._taken = None

    def start_sweeper(self, db: Database) -> None:
        """A daemon thread that writes remainders the room left behind in another process."""
        if self._sweeper is not None and self._sweeper.is_alive():
            return
        ref = weakref.ref(db)

        def run() -> None:
            while True:
                time.sleep(SWEEP_INTERVAL_S)
                target = ref()
                if target is None:
                    return
                # The database may be briefly unreachable: the next tick tries again.
                with suppress(Exception):
                    sweep(target)
                with self.lock:
                    if not self.waiting:
                        self._sweeper = None
                        return
                del target

        self._sweeper = threading.Thread(target=run, name="beidui-note-sweeper", daemon=True)
        self._sweeper.start()


_RANDOM = random.SystemRandom()
_MIXERS: weakref.WeakKeyDictionary[Database, NoteMixer] = weakref.WeakKeyDictionary()
_MIXERS_LOCK = threading.Lock()


def mixer_for(db: Database) -> NoteMixer:
    """This process's waiting notes for `db` (two `Database`s behave as two server processes)."""
    with _MIXERS_LOCK:
        mixer = _MIXERS.get(db)
        if mixer is None:
            mixer = _MIXERS[db] = NoteMixer()
        return mixer


def checkpoint(db: Database) -> None:
    """On SQLite, copy the batch into the main file and empty the -wal (TRUNCATE).

    The -wal then never holds more than the last batch's frames, so it cannot replay the
    order in which batches (or anything else) were written. A reader that holds an old
    snapshot makes SQLite wait (busy handler) and, past the timeout, leave the -wal as it is;
    the next batch's checkpoint tries again (docs/threat-model.md states this residual).
    """
    # Never raises: the batch is already committed, and a post must not be reported as
    # failed (and so typed again) because the -wal could not be emptied this time.
    with suppress(Exception):
        checkpoint_wal(db)


def insert_batch(session: Session, question_id: int, texts: Sequence[str]) -> int:
    """Insert `texts` as published notes of one question, in random order under random ids."""
    if not texts:
        return 0
    rows: list[dict[str, object]] = [
        {
            "id": random_id(),
            "question_id": question_id,
            "text": t,
            "dots": 0,
            "is_hidden": False,
            "theme_id": None,
            "is_published": True,
        }
        for t in texts
    ]
    _RANDOM.shuffle(rows)
    session.execute(insert(Note), rows)
    return len(rows)


def publish_legacy(session: Session, question_ids: Sequence[int]) -> int:
    """Publish rows an older version left waiting in the table (before 0004_notes_batches)."""
    if not question_ids:
        return 0
    result = session.execute(
        update(Note)
        .where(Note.question_id.in_(question_ids), Note.is_published.is_(False))
        .values(is_published=True)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def legacy_waiting(session: Session, question_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Note)
            .where(Note.question_id == question_id, Note.is_published.is_(False))
        )
        or 0
    )


def _write_left_behind(session: Session, mixer: NoteMixer, w: Workshop) -> int:
    """Inside a transaction holding `w` and (caller) the mixer lock: write the waiting notes
    of every question of `w` the room is no longer on, one shuffled batch per question."""
    written = 0
    for q in w.questions:
        if not is_batching(w, q):
            written += insert_batch(session, q.id, mixer.take(w.id, q.id))
    return written


def release_waiting_notes(session: Session, w: Workshop) -> int:
    """Publish legacy waiting rows of every question not on screen now; returns how many.

    Only rows written by an older version can be waiting in the table; this version keeps
    waiting notes in memory (see `NoteMixer`) and writes the remainder at the stage change
    (`stage_change`).
    """
    return publish_legacy(session, [q.id for q in w.questions if not is_batching(w, q)])


@contextmanager
def stage_change(db: Database) -> Iterator[Callable[[Session, Workshop], int]]:
    """Wrap a stage change's transaction: takes this process's mixer lock BEFORE the
    transaction begins (the lock order of every path), and yields the function to call
    inside the transaction once the new stage is set. It writes this process's waiting
    notes of every question the room left (the remainder, < k, as one shuffled batch per
    question) and publishes legacy waiting rows, in the same transaction as the move.
    """
    mixer = mixer_for(db)
    wrote = False

    def on_move(session: Session, w: Workshop) -> int:
        nonlocal wrote
        n = _write_left_behind(session, mixer, w)
        wrote = wrote or n > 0
        return n + release_waiting_notes(session, w)

    with mixer.lock, mixer.restoring():
        yield on_move
    if wrote:
        checkpoint(db)


def sweep(db: Database) -> int:
    """Write this process's waiting notes of every question the room has left (a move made
    by another server process); returns how many notes were written.

    Called on each console release and by the sweeper thread while anything waits; a post
    does the same for its own workshop. One read when nothing is left behind.
    """
    mixer = mixer_for(db)
    with mixer.lock:
        if not mixer.waiting:
            return 0
        workshop_ids = sorted({wid for wid, _ in mixer.waiting})
        with db.read.begin() as session:
            rows = session.execute(
                select(Question.id, Question.position, Workshop.stage, Workshop.current_question)
                .join(Workshop, Question.workshop_id == Workshop.id)
                .where(Workshop.id.in_(workshop_ids))
            ).all()
        on_screen = {
            int(qid): StagePosition(stage, current).question_on_screen == position
            for qid, position, stage, current in rows
        }
        left: list[tuple[int, int]] = []
        for key in list(mixer.waiting):
            qid = key[1]
            if qid not in on_screen:
                # The workshop or the question is gone: nothing to file these notes under.
                # They were never acknowledged as saved (see docs/threat-model.md).
                mixer.waiting.pop(key)
                continue
            if not on_screen[qid]:
                left.append(key)
        if not left:
            return 0
        written = write_batches(db, mixer, left)
    # Outside the lock: the checkpoint may wait for readers; posts need not wait with it.
    checkpoint(db)
    return written


def write_batches(db: Database, mixer: NoteMixer, keys: Sequence[tuple[int, int]]) -> int:
    """One transaction writing each (workshop, question)'s waiting notes as one shuffled
    batch; the caller holds the mixer lock and checkpoints afterwards."""
    written = 0
    with mixer.restoring(), db.write.begin() as session:
        for wid in sorted({wid for wid, _ in keys}):
            session.execute(select(Workshop.id).where(Workshop.id == wid).with_for_update())
        for wid, qid in keys:
            written += insert_batch(session, qid, mixer.take(wid, qid))
    return written
