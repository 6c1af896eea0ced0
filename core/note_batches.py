"""Notes and dots waiting for their batch: held in server memory, written k at a time, shuffled.

This module must never write one waiting note or one waiting dot to the database on its own,
nor keep the order in which notes were posted or dots given: a batch is written in ONE
transaction -- notes as rows in random order under random ids, dots as one guarded
`dots = dots + count` per note, notes in random order -- so a database file, a WAL record, a
transaction id or a commit time names a batch, never a person. It knows workshops only as
rows (stage, question on screen); the services that post, dot, release and move the room
(core.notes, core.note_moderation, core.console) build on it.
"""

from __future__ import annotations

import random
import threading
import time
import weakref
from collections import Counter
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
#
# Dots follow the same machine, in their own pens: a dot on a note of the question on screen
# waits in memory (the note's id, at a random position) until k dots wait for that question;
# then ONE transaction adds them, one guarded `dots = dots + count` per distinct note, notes in
# random order. A note hidden (or gone) meanwhile silently loses its waiting dots. What waits
# when the room leaves the question is written with the notes' remainder, by the same paths.

SWEEP_INTERVAL_S = 2.0


Key = tuple[int, int]  # (workshop id, question id)


class NoteMixer:
    """The notes and dots waiting for their batch in one server process (one per `Database`).

    Each question's waiting texts, and the ids of the notes its waiting dots went to, are kept
    in random positions (not in the order they arrived) and are forgotten as soon as their
    batch is committed. A process restart loses them: the phone was told "received, not yet
    saved" (a note) or "given, not yet counted" (a dot), never "saved" or "counted".
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        # (workshop id, question id) -> waiting texts, in random order.
        self.waiting: dict[Key, list[str]] = {}
        # (workshop id, question id) -> one note id per waiting dot, in random order.
        self.dots: dict[Key, list[str]] = {}
        self._taken: list[tuple[dict[Key, list[str]], Key, list[str]]] | None = None
        self._sweeper: threading.Thread | None = None

    @staticmethod
    def _put(pens: dict[Key, list[str]], key: Key, item: str) -> int:
        pen = pens.setdefault(key, [])
        pen.insert(_RANDOM.randrange(len(pen) + 1), item)
        return len(pen)

    def _take(self, pens: dict[Key, list[str]], key: Key) -> list[str]:
        items = pens.pop(key, [])
        if self._taken is not None and items:
            self._taken.append((pens, key, items))
        return items

    @staticmethod
    def _drop_one(pens: dict[Key, list[str]], key: Key, item: str) -> None:
        pen = pens.get(key, [])
        if item in pen:
            pen.remove(item)
        if not pen:
            pens.pop(key, None)

    def add(self, workshop_id: int, question_id: int, text: str) -> int:
        """Hold `text` for its question; returns how many notes wait there now."""
        return self._put(self.waiting, (workshop_id, question_id), text)

    def add_dot(self, workshop_id: int, question_id: int, note_id: str) -> int:
        """Hold one dot on `note_id` for its question; returns how many dots wait there now."""
        return self._put(self.dots, (workshop_id, question_id), note_id)

    def count(self, workshop_id: int, question_id: int) -> int:
        # No lock: a count read while a batch is being written is one post early or late,
        # and the console must not wait on a post's database write.
        return len(self.waiting.get((workshop_id, question_id), ()))

    def count_dots(self, workshop_id: int, question_id: int) -> int:
        return len(self.dots.get((workshop_id, question_id), ()))

    def holds(self, key: Key) -> bool:
        """Whether any note or dot waits for this (workshop, question)."""
        return bool(self.waiting.get(key) or self.dots.get(key))

    def waiting_keys(self) -> set[Key]:
        """Every (workshop, question) for which something waits."""
        return set(self.waiting) | set(self.dots)

    def is_empty(self) -> bool:
        return not self.waiting and not self.dots

    def forget(self, key: Key) -> None:
        """Drop what waits for a (workshop, question) that no longer exists."""
        self.waiting.pop(key, None)
        self.dots.pop(key, None)

    def take(self, workshop_id: int, question_id: int) -> list[str]:
        """Remove and return a question's waiting texts (for a batch about to be written).

        Inside `restoring()`, they are put back if the transaction writing them fails.
        """
        return self._take(self.waiting, (workshop_id, question_id))

    def take_dots(self, workshop_id: int, question_id: int) -> list[str]:
        """Remove and return a question's waiting dots (note ids), as `take` does for texts."""
        return self._take(self.dots, (workshop_id, question_id))

    def drop(self, workshop_id: int, question_id: int, text: str) -> None:
        """Forget one waiting text (its post failed and its author was told so)."""
        self._drop_one(self.waiting, (workshop_id, question_id), text)

    def drop_dot(self, workshop_id: int, question_id: int, note_id: str) -> None:
        """Forget one waiting dot (its giving failed and the phone was told so)."""
        self._drop_one(self.dots, (workshop_id, question_id), note_id)

    def move_dots(self, workshop_id: int, question_id: int, from_ids: set[str], to_id: str) -> None:
        """Waiting dots on `from_ids` now count for `to_id` (a merge), at the same positions."""
        pen = self.dots.get((workshop_id, question_id))
        if pen:
            pen[:] = [to_id if nid in from_ids else nid for nid in pen]

    @contextmanager
    def restoring(self) -> Iterator[None]:
        """Notes and dots taken inside this block wait on if the block fails (nothing is lost
        to a transaction that did not commit). Call with the lock held."""
        self._taken = []
        try:
            yield
        except BaseException:
            for pens, key, items in self._taken:
                for item in items:
                    self._put(pens, key, item)
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
                    if self.is_empty():
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


def apply_dots(session: Session, question_id: int, note_ids: Sequence[str]) -> int:
    """Add the waiting dots (one note id per dot) of one question: one guarded UPDATE per
    distinct note, `dots = dots + count`, notes in random order; returns how many dots landed.

    The guard re-checks the note at write time: a note hidden, merged away or gone since its
    dots were given silently loses them (it is not on the wall any more).
    """
    counts = list(Counter(note_ids).items())
    _RANDOM.shuffle(counts)
    applied = 0
    for note_id, n in counts:
        result = session.execute(
            update(Note)
            .where(
                Note.id == note_id,
                Note.question_id == question_id,
                Note.is_hidden.is_(False),
                Note.is_published.is_(True),
            )
            .values(dots=Note.dots + n)
        )
        if getattr(result, "rowcount", 0) == 1:
            applied += n
    return applied


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


def write_waiting(session: Session, mixer: NoteMixer, workshop_id: int, question_id: int) -> int:
    """Inside a transaction (caller holds the mixer lock): write a question's waiting notes
    as one shuffled batch and add its waiting dots; returns how many notes were written."""
    apply_dots(session, question_id, mixer.take_dots(workshop_id, question_id))
    return insert_batch(session, question_id, mixer.take(workshop_id, question_id))


def _write_left_behind(session: Session, mixer: NoteMixer, w: Workshop) -> bool:
    """Inside a transaction holding `w` and (caller) the mixer lock: write the waiting notes
    and dots of every question of `w` the room is no longer on, one batch per question;
    returns whether anything was written."""
    wrote = False
    for q in w.questions:
        if not is_batching(w, q) and mixer.holds((w.id, q.id)):
            write_waiting(session, mixer, w.id, q.id)
            wrote = True
    return wrote


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
    notes and dots of every question the room left (the remainder, < k, as one batch per
    question) and publishes legacy waiting rows, in the same transaction as the move.
    """
    mixer = mixer_for(db)
    wrote = False

    def on_move(session: Session, w: Workshop) -> int:
        nonlocal wrote
        wrote = _write_left_behind(session, mixer, w) or wrote
        return release_waiting_notes(session, w)

    with mixer.lock, mixer.restoring():
        yield on_move
    if wrote:
        checkpoint(db)


def sweep(db: Database) -> int:
    """Write this process's waiting notes and dots of every question the room has left (a
    move made by another server process); returns how many notes were written.

    Called on each console release and by the sweeper thread while anything waits; a post
    or a dot does the same for its own workshop. One read when nothing is left behind.
    """
    mixer = mixer_for(db)
    with mixer.lock:
        if mixer.is_empty():
            return 0
        workshop_ids = sorted({wid for wid, _ in mixer.waiting_keys()})
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
        left: list[Key] = []
        for key in sorted(mixer.waiting_keys()):
            qid = key[1]
            if qid not in on_screen:
                # The workshop or the question is gone: nothing to file these notes (or dots)
                # under. They were never acknowledged as stored (see docs/threat-model.md).
                mixer.forget(key)
                continue
            if not on_screen[qid]:
                left.append(key)
        if not left:
            return 0
        written = write_batches(db, mixer, left)
    # Outside the lock: the checkpoint may wait for readers; posts need not wait with it.
    checkpoint(db)
    return written


def _lock_workshops(session: Session, workshop_ids: Sequence[int]) -> None:
    # Batches of one workshop from several processes then queue instead of updating the same
    # notes in different (random) orders, which PostgreSQL could end as a deadlock.
    for wid in sorted(set(workshop_ids)):
        session.execute(select(Workshop.id).where(Workshop.id == wid).with_for_update())


def write_batches(db: Database, mixer: NoteMixer, keys: Sequence[Key]) -> int:
    """One transaction writing each (workshop, question)'s waiting notes as one shuffled
    batch and adding its waiting dots; the caller holds the mixer lock and checkpoints
    afterwards. Returns how many notes were written."""
    written = 0
    with mixer.restoring(), db.write.begin() as session:
        _lock_workshops(session, [wid for wid, _ in keys])
        for wid, qid in keys:
            written += write_waiting(session, mixer, wid, qid)
    return written


def write_dot_batch(db: Database, mixer: NoteMixer, workshop_id: int, question_id: int) -> int:
    """One transaction adding a question's waiting dots (a full batch, or what the
    facilitator releases); the caller holds the mixer lock and checkpoints afterwards.
    Returns how many dots landed."""
    with mixer.restoring(), db.write.begin() as session:
        _lock_workshops(session, [workshop_id])
        return apply_dots(session, question_id, mixer.take_dots(workshop_id, question_id))
