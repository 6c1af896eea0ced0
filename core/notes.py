"""Anonymous notes on the evaluation questions: post, batch onto the wall, dot, hide, theme,
summarise.

This module must never store who wrote or dotted a note, from which device or session, or
when; never show or store notes in the order they were written (the wall sorts by dots, then
by the random id); and never let one new note reach the wall -- or the database -- on its
own. A note waits in the memory of the server process that received it until k notes (the
workshop's anonymity k) wait for its question; then the whole batch is written in one
transaction, shuffled, and appears at once. No database file, page or WAL record ever holds
a waiting note (tests/integration/test_notes_storage.py reads them as an adversary would).
"""

from __future__ import annotations

import random
import threading
import time
import unicodedata
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.elements import ColumnElement

from core.crypto import human_codes
from core.db import Database, checkpoint_wal
from core.domain import Stage, WorkshopCode
from core.errors import BeiduiError
from core.models import Note, Question, SummaryPoint, Theme, Workshop, random_id
from core.workshops import WorkshopNotFound, load_workshop, require_grant

NoteId = str
ThemeId = int

MAX_NOTE_LENGTH = 280
MAX_THEME_NAME_LENGTH = 200
MAX_SUMMARY_POINTS = 8
MAX_SUMMARY_POINT_LENGTH = 200
DOTS_PER_QUESTION = 3


# --- Errors ------------------------------------------------------------------------------


class NotesClosed(BeiduiError):
    key = "notes.errors.closed"


class EmptyNote(BeiduiError):
    key = "notes.errors.empty"


class NoteTooLong(BeiduiError):
    key = "notes.errors.too_long"


class QuestionMovedOn(BeiduiError):
    """The phone showed a question the room has left: the note is not filed anywhere."""

    key = "notes.errors.question_moved_on"


class NoteNotFound(BeiduiError):
    key = "notes.errors.note_not_found"


class DotRefused(BeiduiError):
    key = "notes.errors.dot_refused"


class NoDotsLeft(BeiduiError):
    key = "notes.errors.no_dots_left"


class QuestionNotFound(BeiduiError):
    key = "notes.errors.question_not_found"


class ThemeNotFound(BeiduiError):
    key = "notes.errors.theme_not_found"


class ThemeOnOtherQuestion(BeiduiError):
    key = "notes.errors.theme_other_question"


class InvalidThemeName(BeiduiError):
    key = "notes.errors.theme_name"


class InvalidMerge(BeiduiError):
    key = "notes.errors.merge"


class TooManySummaryPoints(BeiduiError):
    key = "notes.errors.summary_too_many"


class InvalidSummaryPoint(BeiduiError):
    key = "notes.errors.summary_point_length"


# --- Values ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotePosted:
    """What the phone may truthfully say after a post.

    `is_stored` is true only once the batch holding this note is committed to the database;
    until then the note waits in server memory for `waiting_for` more notes.
    """

    is_stored: bool
    waiting_for: int


@dataclass(frozen=True)
class NoteView:
    id: NoteId
    text: str
    dots: int
    theme_id: ThemeId | None
    theme_name: str | None
    is_hidden: bool
    is_pending: bool


@dataclass(frozen=True)
class ThemeView:
    id: ThemeId
    name: str
    # Counted over notes the wall shows (not hidden, not waiting), so a theme's figures on the
    # projector never reveal a note before its batch does.
    note_count: int
    dots: int


@dataclass(frozen=True)
class Participation:
    notes_per_question: list[int]


@dataclass(frozen=True)
class DotAllowance:
    """The dots one browser session has left, per question; lives only in that session.

    Nothing about who dotted what is stored on the server: the page keeps this value in its
    session state and calls `spend` before `add_dot`.
    """

    spent: tuple[int, ...] = ()
    per_question: int = DOTS_PER_QUESTION

    def remaining(self, question: int) -> int:
        return max(self.per_question - self.spent.count(question), 0)

    def spend(self, question: int) -> DotAllowance:
        """The allowance after one more dot on `question`; `NoDotsLeft` if none remain."""
        if self.remaining(question) <= 0:
            raise NoDotsLeft("no dots left", per_question=self.per_question)
        return replace(self, spent=(*self.spent, question))


# --- Pure helpers ------------------------------------------------------------------------

# Bidirectional embedding/override/isolate marks could make a note read backwards on the
# projector (or hide text); they are format characters, so the control-character rule alone
# would keep them.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def normalize_text(raw: str, *, keep_newlines: bool = True) -> str:
    """NFC text without control characters (newlines kept if asked), trimmed.

    Tabs become spaces so words typed with a tab stay apart; `\\r\\n` becomes `\\n`.
    """
    text = unicodedata.normalize("NFC", raw or "").replace("\r\n", "\n").replace("\t", " ")
    out = []
    for ch in text:
        if ch == "\n":
            out.append("\n" if keep_newlines else " ")
        elif unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS:
            continue
        else:
            out.append(ch)
    return "".join(out).strip()


# Past this many characters as typed, a note is too long whatever cleaning would remove:
# refused before any work on it, and with its real length (never as "empty").
_MAX_RAW_NOTE_LENGTH = 4 * MAX_NOTE_LENGTH


def clean_note_text(raw: str) -> str:
    """The stored form of a note, or `EmptyNote` / `NoteTooLong`.

    The error names what the person did: a long paste is "too long (N, max 280)" even when
    cleaning would remove most of it, and "empty" means nothing typed was text.
    """
    raw = raw or ""
    if len(raw) > _MAX_RAW_NOTE_LENGTH:
        raise NoteTooLong("note too long", length=len(raw), high=MAX_NOTE_LENGTH)
    text = normalize_text(raw)
    if not text:
        raise EmptyNote("empty note", low=1, high=MAX_NOTE_LENGTH)
    if len(text) > MAX_NOTE_LENGTH:
        raise NoteTooLong("note too long", length=len(text), high=MAX_NOTE_LENGTH)
    return text


def _clean_theme_name(raw: str) -> str:
    name = normalize_text(raw, keep_newlines=False)
    if not 1 <= len(name) <= MAX_THEME_NAME_LENGTH:
        raise InvalidThemeName("theme name", low=1, high=MAX_THEME_NAME_LENGTH)
    return name


# --- Loading and locking -----------------------------------------------------------------


def load_locked(session: Session, code: WorkshopCode) -> Workshop:
    """The workshop, with its row locked for this transaction (PostgreSQL).

    Posting, flushing and editing lock the workshop row so a batch is counted by one writer at
    a time and a stage change (which updates that row) cannot slip between reading the stage
    and writing. SQLite writers already serialise at BEGIN IMMEDIATE.
    """
    session.execute(
        select(Workshop.id)
        .where(Workshop.code == human_codes.normalize_join_code(code))
        .with_for_update()
    )
    return load_workshop(session, code)


def _facilitator(session: Session, secret_key: bytes, code: WorkshopCode, grant: str) -> Workshop:
    w = load_locked(session, code)
    require_grant(session, secret_key, w, grant)
    return w


def _question(w: Workshop, position: int) -> Question:
    for q in w.questions:
        if q.position == position:
            return q
    raise QuestionNotFound(f"no question {position}", question=position + 1)


def _is_batching(w: Workshop, q: Question) -> bool:
    """Only the question on screen holds notes back; once the room moves on, all show."""
    return w.stage == Stage.QUESTIONS.value and w.current_question == q.position


def _note_in(session: Session, w: Workshop, note_id: NoteId) -> Note:
    note = session.get(Note, note_id) if isinstance(note_id, str) else None
    if note is None or note.question_id not in {q.id for q in w.questions}:
        raise NoteNotFound("no such note", note_id=str(note_id))
    return note


def _theme_in(session: Session, w: Workshop, theme_id: ThemeId) -> Theme:
    theme = session.get(Theme, theme_id) if isinstance(theme_id, int) else None
    if theme is None or theme.question_id not in {q.id for q in w.questions}:
        raise ThemeNotFound("no such theme", theme_id=theme_id)
    return theme


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


def _checkpoint(db: Database) -> None:
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


def _insert_batch(session: Session, question_id: int, texts: Sequence[str]) -> int:
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


def _publish_legacy(session: Session, question_ids: Sequence[int]) -> int:
    """Publish rows an older version left waiting in the table (before 0004_notes_batches)."""
    if not question_ids:
        return 0
    result = session.execute(
        update(Note)
        .where(Note.question_id.in_(question_ids), Note.is_published.is_(False))
        .values(is_published=True)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _legacy_waiting(session: Session, question_id: int) -> int:
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
        if not _is_batching(w, q):
            written += _insert_batch(session, q.id, mixer.take(w.id, q.id))
    return written


def release_waiting_notes(session: Session, w: Workshop) -> int:
    """Publish legacy waiting rows of every question not on screen now; returns how many.

    Only rows written by an older version can be waiting in the table; this version keeps
    waiting notes in memory (see `NoteMixer`) and writes the remainder at the stage change
    (`stage_change`).
    """
    return _publish_legacy(session, [q.id for q in w.questions if not _is_batching(w, q)])


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
        _checkpoint(db)


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
            int(qid): stage == Stage.QUESTIONS.value and current == position
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
        written = _write_batches(db, mixer, left)
    # Outside the lock: the checkpoint may wait for readers; posts need not wait with it.
    _checkpoint(db)
    return written


def _write_batches(db: Database, mixer: NoteMixer, keys: Sequence[tuple[int, int]]) -> int:
    """One transaction writing each (workshop, question)'s waiting notes as one shuffled
    batch; the caller holds the mixer lock and checkpoints afterwards."""
    written = 0
    with mixer.restoring(), db.write.begin() as session:
        for wid in sorted({wid for wid, _ in keys}):
            session.execute(select(Workshop.id).where(Workshop.id == wid).with_for_update())
        for wid, qid in keys:
            written += _insert_batch(session, qid, mixer.take(wid, qid))
    return written


def _load_questions(session: Session, code: WorkshopCode) -> Workshop:
    """The workshop with its questions only (the hot path of every post)."""
    w = session.scalar(
        select(Workshop)
        .where(Workshop.code == human_codes.normalize_join_code(code))
        .options(selectinload(Workshop.questions))
    )
    if w is None:
        raise WorkshopNotFound(f"no workshop {code!r}", code=code)
    return w


# --- Participants ------------------------------------------------------------------------


def post_note(db: Database, code: WorkshopCode, text: str, question: int) -> NotePosted:
    """Accept an anonymous note for `question` (the position the phone was showing).

    Refused with `QuestionMovedOn` if the room has moved to another question, `NotesClosed`
    outside the questions: a note is never filed under a question its author did not see.
    The note waits in this process's memory until k notes wait for the question; the k-th
    post writes the whole batch in one transaction (see `NoteMixer`). Stores only the text,
    its question and a random id: no author, session, device or time.
    """
    cleaned = clean_note_text(text)
    mixer = mixer_for(db)
    with mixer.lock:
        with db.read.begin() as session:
            w = _load_questions(session, code)
        # The room may have moved on in another process: what this process still holds for
        # the questions it left is written first (one batch each), refused post or not.
        left = [(w.id, q.id) for q in w.questions if not _is_batching(w, q)]
        if any(mixer.count(*key) for key in left):
            _write_batches(db, mixer, left)
        q = _accepting(w, question)
        workshop_id, question_id, k = w.id, q.id, w.anonymity_k
        waiting = mixer.add(workshop_id, question_id, cleaned)
        if waiting < k:
            mixer.start_sweeper(db)
            return NotePosted(is_stored=False, waiting_for=k - waiting)
        try:
            with mixer.restoring(), db.write.begin() as session:
                _insert_batch(session, question_id, mixer.take(workshop_id, question_id))
                _publish_legacy(session, [question_id])
        except BaseException:
            # The poster is told it failed (the page keeps the text); the others wait on.
            pen = mixer.waiting.get((workshop_id, question_id), [])
            pen.remove(cleaned)
            if not pen:
                mixer.waiting.pop((workshop_id, question_id), None)
            raise
    # Outside the lock: the checkpoint may wait for readers; other posts need not wait.
    _checkpoint(db)
    return NotePosted(is_stored=True, waiting_for=0)


def _accepting(w: Workshop, question: int) -> Question:
    """The question a note for position `question` goes under, if it accepts notes now."""
    if w.stage != Stage.QUESTIONS.value:
        raise NotesClosed("notes are closed", stage=w.stage)
    q = _question(w, question)
    if w.current_question != question:
        raise QuestionMovedOn(
            "the room moved to another question",
            question=question + 1,
            current=w.current_question + 1,
        )
    return q


def pending_count(db: Database, code: WorkshopCode, question: int) -> int:
    """How many notes wait for the next batch on `question` in this server process (0 once
    the room moved on). Another process may hold more: each batches its own posts."""
    with db.read.begin() as session:
        w = load_workshop(session, code)
        q = _question(w, question)
        if not _is_batching(w, q):
            return 0
        legacy = _legacy_waiting(session, q.id)
        workshop_id, question_id = w.id, q.id
    return legacy + mixer_for(db).count(workshop_id, question_id)


def wall(
    db: Database,
    code: WorkshopCode,
    question: int,
    *,
    include_hidden: bool = False,
    include_pending: bool = False,
) -> list[NoteView]:
    """The notes on `question`, most dots first, ties by random id (never by writing order).

    Only stored notes: a note waiting for its batch is in server memory and has no row, so
    not even the console sees its text (`pending_count` gives how many wait).
    `include_pending` adds rows an older version left waiting in the table.
    """
    with db.read.begin() as session:
        w = load_workshop(session, code)
        q = _question(w, question)
        batching = _is_batching(w, q)
        stmt = (
            select(Note, Theme.name)
            .outerjoin(Theme, Theme.id == Note.theme_id)
            .where(Note.question_id == q.id)
            .order_by(Note.dots.desc(), Note.id)
        )
        if not include_hidden:
            stmt = stmt.where(Note.is_hidden.is_(False))
        if batching and not include_pending:
            stmt = stmt.where(Note.is_published.is_(True))
        return [
            NoteView(
                id=n.id,
                text=n.text,
                dots=n.dots,
                theme_id=n.theme_id,
                theme_name=theme_name,
                is_hidden=n.is_hidden,
                is_pending=batching and not n.is_published,
            )
            for n, theme_name in session.execute(stmt).all()
        ]


def add_dot(db: Database, code: WorkshopCode, note_id: NoteId) -> None:
    """One more dot on a note the wall shows for the question on screen (atomic increment)."""
    with db.write.begin() as session:
        w = load_workshop(session, code)
        if w.stage != Stage.QUESTIONS.value:
            raise NotesClosed("dots are closed", stage=w.stage)
        q = _question(w, w.current_question)
        note = _note_in(session, w, note_id)
        if note.question_id != q.id or note.is_hidden or not note.is_published:
            raise DotRefused("note not on the wall", note_id=note_id)
        # The guarded UPDATE counts concurrent dots exactly and re-checks visibility, so a
        # note hidden a moment ago cannot still gain one.
        result = session.execute(
            update(Note)
            .where(
                Note.id == note_id,
                Note.is_hidden.is_(False),
                Note.is_published.is_(True),
            )
            .values(dots=Note.dots + 1)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise DotRefused("note not on the wall", note_id=note_id)


def participation(db: Database, code: WorkshopCode) -> Participation:
    """How many notes each question received (counts only, hidden ones included), with the
    notes still waiting for their batch in this process."""
    with db.read.begin() as session:
        w = load_workshop(session, code)
        counts: dict[int, int] = {
            int(question_id): int(n)
            for question_id, n in session.execute(
                select(Note.question_id, func.count())
                .where(Note.question_id.in_([q.id for q in w.questions]))
                .group_by(Note.question_id)
            )
        }
        ids = [(w.id, q.id) for q in w.questions]
    mixer = mixer_for(db)
    return Participation([counts.get(qid, 0) + mixer.count(wid, qid) for wid, qid in ids])


# --- Facilitator: wall -------------------------------------------------------------------


def flush_pending(
    db: Database, secret_key: bytes, code: WorkshopCode, grant: str, question: int
) -> int:
    """Show every waiting note of `question` now (the facilitator's call); returns how many.

    Writes the notes waiting in THIS server process as one shuffled batch, even if fewer
    than k (the facilitator's choice, stated in docs/threat-model.md); notes waiting in
    another server process stay there until their batch fills or the room moves on.
    """
    mixer = mixer_for(db)
    with mixer.lock:
        sweep(db)
        with mixer.restoring(), db.write.begin() as session:
            w = _facilitator(session, secret_key, code, grant)
            q = _question(w, question)
            batch = mixer.take(w.id, q.id)
            n = _insert_batch(session, q.id, batch) + _publish_legacy(session, [q.id])
    if n:
        _checkpoint(db)
    return n


def hide_note(
    db: Database, secret_key: bytes, code: WorkshopCode, grant: str, note_id: NoteId, hidden: bool
) -> None:
    """Take a note off the wall (or put it back); hidden notes stay in exports, marked."""
    with db.write.begin() as session:
        w = _facilitator(session, secret_key, code, grant)
        _note_in(session, w, note_id).is_hidden = bool(hidden)


# --- Facilitator: themes -----------------------------------------------------------------


def create_theme(
    db: Database, secret_key: bytes, code: WorkshopCode, grant: str, question: int, name: str
) -> ThemeId:
    with db.write.begin() as session:
        w = _facilitator(session, secret_key, code, grant)
        q = _question(w, question)
        cleaned = _clean_theme_name(name)
        last = session.scalar(select(func.max(Theme.position)).where(Theme.question_id == q.id))
        theme = Theme(question_id=q.id, name=cleaned, position=(last or 0) + 1)
        session.add(theme)
        session.flush()
        return theme.id


def rename_theme(
    db: Database, secret_key: bytes, code: WorkshopCode, grant: str, theme_id: ThemeId, name: str
) -> None:
    with db.write.begin() as session:
        w = _facilitator(session, secret_key, code, grant)
        theme = _theme_in(session, w, theme_id)
        theme.name = _clean_theme_name(name)


def delete_theme(
    db: Database, secret_key: bytes, code: WorkshopCode, grant: str, theme_id: ThemeId
) -> None:
    """Remove a theme; its notes stay, unthemed."""
    with db.write.begin() as session:
        w = _facilitator(session, secret_key, code, grant)
        theme = _theme_in(session, w, theme_id)
        # Explicit rather than trusting ON DELETE SET NULL, which SQLite honours only with
        # foreign keys switched on for the connection.
        session.execute(update(Note).where(Note.theme_id == theme.id).values(theme_id=None))
        session.delete(theme)


def assign_note(
    db: Database,
    secret_key: bytes,
    code: WorkshopCode,
    grant: str,
    note_id: NoteId,
    theme_id: ThemeId | None,
) -> None:
    """Put a note under a theme of its own question, or none."""
    with db.write.begin() as session:
        w = _facilitator(session, secret_key, code, grant)
        note = _note_in(session, w, note_id)
        if theme_id is not None:
            theme = _theme_in(session, w, theme_id)
            if theme.question_id != note.question_id:
                raise ThemeOnOtherQuestion("theme of another question", theme_id=theme_id)
        note.theme_id = theme_id


def merge_notes(
    db: Database,
    secret_key: bytes,
    code: WorkshopCode,
    grant: str,
    keep_id: NoteId,
    duplicate_ids: Sequence[NoteId],
) -> None:
    """Fold duplicates into one note: they take its theme and are hidden; their dots move to it.

    Moved dots leave the duplicates at zero, so totals over a question never count twice.
    """
    with db.write.begin() as session:
        w = _facilitator(session, secret_key, code, grant)
        dup_ids = list(dict.fromkeys(duplicate_ids))
        if not dup_ids or keep_id in dup_ids:
            raise InvalidMerge("nothing to merge", note_id=str(keep_id))
        keep = _note_in(session, w, keep_id)
        duplicates = [_note_in(session, w, d) for d in dup_ids]
        if any(d.question_id != keep.question_id for d in duplicates):
            raise InvalidMerge("notes of different questions", note_id=str(keep_id))
        moved = 0
        for d in duplicates:
            moved += d.dots
            d.dots = 0
            d.theme_id = keep.theme_id
            d.is_hidden = True
        session.flush()
        session.execute(update(Note).where(Note.id == keep.id).values(dots=Note.dots + moved))


def themes(db: Database, code: WorkshopCode, question: int) -> list[ThemeView]:
    """The question's themes in creation order, with counts over the notes the wall shows."""
    with db.read.begin() as session:
        w = load_workshop(session, code)
        q = _question(w, question)
        shown: ColumnElement[bool] = Note.is_hidden.is_(False)
        if _is_batching(w, q):
            shown = shown & Note.is_published.is_(True)
        rows = session.execute(
            select(
                Theme.id,
                Theme.name,
                func.count(Note.id),
                func.coalesce(func.sum(Note.dots), 0),
            )
            .outerjoin(Note, (Note.theme_id == Theme.id) & shown)
            .where(Theme.question_id == q.id)
            .group_by(Theme.id, Theme.name, Theme.position)
            .order_by(Theme.position, Theme.id)
        ).all()
        return [ThemeView(int(i), str(n), int(c), int(d)) for i, n, c, d in rows]


# --- Facilitator: summaries --------------------------------------------------------------


def set_summary_points(
    db: Database,
    secret_key: bytes,
    code: WorkshopCode,
    grant: str,
    question: int,
    points: Sequence[str],
) -> None:
    """Replace the question's summary with `points` (0..8, each 1..200 characters)."""
    with db.write.begin() as session:
        w = _facilitator(session, secret_key, code, grant)
        q = _question(w, question)
        if len(points) > MAX_SUMMARY_POINTS:
            raise TooManySummaryPoints("too many points", high=MAX_SUMMARY_POINTS)
        cleaned = [normalize_text(p) for p in points]
        for i, p in enumerate(cleaned):
            if not 1 <= len(p) <= MAX_SUMMARY_POINT_LENGTH:
                raise InvalidSummaryPoint(
                    "summary point length", point=i + 1, low=1, high=MAX_SUMMARY_POINT_LENGTH
                )
        session.execute(delete(SummaryPoint).where(SummaryPoint.question_id == q.id))
        session.add_all(
            SummaryPoint(question_id=q.id, position=i, text=p) for i, p in enumerate(cleaned)
        )


def summary_points(db: Database, code: WorkshopCode, question: int) -> list[str]:
    with db.read.begin() as session:
        q = _question(load_workshop(session, code), question)
        return list(
            session.scalars(
                select(SummaryPoint.text)
                .where(SummaryPoint.question_id == q.id)
                .order_by(SummaryPoint.position)
            )
        )
