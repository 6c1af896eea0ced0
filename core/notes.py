"""Anonymous notes on the evaluation questions, the participant's side: post, the wall, dots.

This module must never store who wrote or dotted a note, from which device or session, or
when; never show or store notes in the order they were written (the wall sorts by dots, then
by the random id); and never let one new note, nor one new dot, reach the wall -- or the
database -- on its own. A note waits in the memory of the server process that received it
until k notes (the workshop's anonymity k) wait for its question; then the whole batch is
written in one transaction, shuffled, and appears at once. Dots wait the same way, k per
question, and are added in one transaction (core.note_batches). No database file, page or
WAL record ever holds a waiting note or dot (tests/integration/test_notes_storage.py reads
them as an adversary would). The facilitator's tools build on this module: core.note_moderation,
core.note_themes, core.note_summary.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from core import note_batches
from core.crypto import human_codes
from core.db import Database
from core.domain import WorkshopCode
from core.errors import BeiduiError
from core.limits import DOTS_PER_QUESTION, MAX_NOTE_LENGTH, MAX_RAW_NOTE_LENGTH
from core.models import Note, Question, Theme, Workshop
from core.text import normalize_text
from core.workshops import WorkshopNotFound, load_workshop

NoteId = str
ThemeId = int


# --- Errors ------------------------------------------------------------------------------


class NotesClosed(BeiduiError, key="notes.errors.closed"): ...


class EmptyNote(BeiduiError, key="notes.errors.empty"): ...


class NoteTooLong(BeiduiError, key="notes.errors.too_long"): ...


class QuestionMovedOn(BeiduiError, key="notes.errors.question_moved_on"):
    """The phone showed a question the room has left: the note is not filed anywhere."""


class NoteNotFound(BeiduiError, key="notes.errors.note_not_found"): ...


class DotRefused(BeiduiError, key="notes.errors.dot_refused"): ...


class NoDotsLeft(BeiduiError, key="notes.errors.no_dots_left"): ...


class QuestionNotFound(BeiduiError, key="notes.errors.question_not_found"): ...


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
class DotStatus:
    """What the phone may truthfully say after a dot.

    `is_counted` is true only once the batch holding this dot is committed (the wall shows it);
    until then the dot waits in server memory for `waiting_for` more dots on the question.
    """

    is_counted: bool
    waiting_for: int


@dataclass(frozen=True)
class DotGiven:
    """A dot given from a browser session: the allowance it keeps, and the dot's status."""

    allowance: DotAllowance
    is_counted: bool
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
class Participation:
    notes_per_question: list[int]


@dataclass(frozen=True)
class DotAllowance:
    """The dots one browser session has given, per question; lives only in that session.

    Nothing about who dotted what is stored on the server: the page keeps this value in its
    session state and spends it through `give_dot`. One dot per note, `per_question` dots
    per question.
    """

    spent: tuple[tuple[int, NoteId], ...] = ()
    per_question: int = DOTS_PER_QUESTION

    def remaining(self, question: int) -> int:
        used = sum(1 for q, _note in self.spent if q == question)
        return max(self.per_question - used, 0)

    def can_dot(self, question: int, note_id: NoteId) -> bool:
        return self.remaining(question) > 0 and not self.has_dotted(question, note_id)

    def has_dotted(self, question: int, note_id: NoteId) -> bool:
        """Whether this session gave `note_id` its dot (counted on the wall or still waiting)."""
        return (question, note_id) in self.spent

    def spend(self, question: int, note_id: NoteId) -> DotAllowance:
        """The allowance after one more dot on `note_id` of `question`; `NoDotsLeft` if none
        remain, `DotRefused` if this session already dotted that note."""
        if self.remaining(question) <= 0:
            raise NoDotsLeft("no dots left", per_question=self.per_question)
        if (question, note_id) in self.spent:
            raise DotRefused("one dot per note", note_id=note_id)
        return replace(self, spent=(*self.spent, (question, note_id)))


# --- Pure helpers ------------------------------------------------------------------------

# Past this many characters as typed, a note is too long whatever cleaning would remove:
# refused before any work on it, and with its real length (never as "empty").


def clean_note_text(raw: str) -> str:
    """The stored form of a note, or `EmptyNote` / `NoteTooLong`.

    The error names what the person did: a long paste is "too long (N, max 280)" even when
    cleaning would remove most of it, and "empty" means nothing typed was text.
    """
    raw = raw or ""
    if len(raw) > MAX_RAW_NOTE_LENGTH:
        raise NoteTooLong("note too long", length=len(raw), high=MAX_NOTE_LENGTH)
    text = normalize_text(raw)
    if not text:
        raise EmptyNote("empty note", low=1, high=MAX_NOTE_LENGTH)
    if len(text) > MAX_NOTE_LENGTH:
        raise NoteTooLong("note too long", length=len(text), high=MAX_NOTE_LENGTH)
    return text


# --- Lookups shared by the facilitator's note tools --------------------------------------


def question_at(w: Workshop, position: int) -> Question:
    for q in w.questions:
        if q.position == position:
            return q
    raise QuestionNotFound(f"no question {position}", question=position + 1)


def note_in(session: Session, w: Workshop, note_id: NoteId) -> Note:
    note = session.get(Note, note_id) if isinstance(note_id, str) else None
    if note is None or note.question_id not in {q.id for q in w.questions}:
        raise NoteNotFound("no such note", note_id=str(note_id))
    return note


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
    post writes the whole batch in one transaction (see `note_batches.NoteMixer`). Stores
    only the text, its question and a random id: no author, session, device or time.
    """
    cleaned = clean_note_text(text)
    mixer = note_batches.mixer_for(db)
    with mixer.lock:
        with db.read.begin() as session:
            w = _load_questions(session, code)
        # The room may have moved on in another process: what this process still holds for
        # the questions it left is written first (one batch each), refused post or not.
        _write_left_behind(db, mixer, w)
        q = _accepting(w, question)
        workshop_id, question_id, k = w.id, q.id, w.anonymity_k
        waiting = mixer.add(workshop_id, question_id, cleaned)
        if waiting < k:
            mixer.start_sweeper(db)
            return NotePosted(is_stored=False, waiting_for=k - waiting)
        try:
            with mixer.restoring(), db.write.begin() as session:
                batch = mixer.take(workshop_id, question_id)
                note_batches.insert_batch(session, question_id, batch)
                note_batches.publish_legacy(session, [question_id])
        except BaseException:
            # The poster is told it failed (the page keeps the text); the others wait on.
            mixer.drop(workshop_id, question_id, cleaned)
            raise
    # Outside the lock: the checkpoint may wait for readers; other posts need not wait.
    note_batches.checkpoint(db)
    return NotePosted(is_stored=True, waiting_for=0)


def _write_left_behind(db: Database, mixer: note_batches.NoteMixer, w: Workshop) -> None:
    """The room may have moved on in another process: what this process still holds for the
    questions it left is written first (one batch each). Call with the mixer lock held."""
    left = [(w.id, q.id) for q in w.questions if not note_batches.is_batching(w, q)]
    if any(mixer.holds(key) for key in left):
        note_batches.write_batches(db, mixer, left)
        note_batches.checkpoint(db)


def _accepting(w: Workshop, question: int) -> Question:
    """The question a note for position `question` goes under, if it accepts notes now."""
    if not w.stage.accepts_notes:
        raise NotesClosed("notes are closed", stage=w.stage)
    q = question_at(w, question)
    if w.current_question != question:
        raise QuestionMovedOn(
            "the room moved to another question",
            question=question + 1,
            current=w.current_question + 1,
        )
    return q


@dataclass(frozen=True)
class Waiting:
    """What waits for its batch on one question in this server process (counts only)."""

    notes: int
    dots: int


def waiting_on(db: Database, code: WorkshopCode, question: int) -> Waiting:
    """How many notes and dots wait for their batch on `question` in this server process
    (none once the room moved on). Another process may hold more: each batches its own."""
    with db.read.begin() as session:
        w = load_workshop(session, code)
        q = question_at(w, question)
        if not note_batches.is_batching(w, q):
            return Waiting(0, 0)
        legacy = note_batches.legacy_waiting(session, q.id)
        workshop_id, question_id = w.id, q.id
    mixer = note_batches.mixer_for(db)
    return Waiting(
        legacy + mixer.count(workshop_id, question_id), mixer.count_dots(workshop_id, question_id)
    )


def pending_count(db: Database, code: WorkshopCode, question: int) -> int:
    """How many notes wait for the next batch on `question` in this server process."""
    return waiting_on(db, code, question).notes


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
        q = question_at(w, question)
        batching = note_batches.is_batching(w, q)
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


def add_dot(db: Database, code: WorkshopCode, note_id: NoteId) -> DotStatus:
    """One more dot on a note the wall shows for the question on screen.

    Checked now (`NotesClosed`, `NoteNotFound`, `DotRefused`), counted later: the dot waits in
    this process's memory until k dots wait for the question, then the k-th dot adds them
    all in one transaction (`note_batches.apply_dots`). A note hidden before that loses its
    waiting dots. Nothing records who gave the dot, nor when.
    """
    mixer = note_batches.mixer_for(db)
    with mixer.lock:
        with db.read.begin() as session:
            w = _load_questions(session, code)
            if not w.stage.accepts_notes:
                raise NotesClosed("dots are closed", stage=w.stage)
            q = question_at(w, w.current_question)
            note = note_in(session, w, note_id)
            if note.question_id != q.id or note.is_hidden or not note.is_published:
                raise DotRefused("note not on the wall", note_id=note_id)
            workshop_id, question_id, k = w.id, q.id, w.anonymity_k
        _write_left_behind(db, mixer, w)
        waiting = mixer.add_dot(workshop_id, question_id, note_id)
        if waiting < k:
            mixer.start_sweeper(db)
            return DotStatus(is_counted=False, waiting_for=k - waiting)
        try:
            note_batches.write_dot_batch(db, mixer, workshop_id, question_id)
        except BaseException:
            # The giver is told it failed (its allowance is not spent); the others wait on.
            mixer.drop_dot(workshop_id, question_id, note_id)
            raise
    # Outside the lock: the checkpoint may wait for readers; other dots need not wait.
    note_batches.checkpoint(db)
    return DotStatus(is_counted=True, waiting_for=0)


def give_dot(
    db: Database, code: WorkshopCode, question: int, note_id: NoteId, allowance: DotAllowance
) -> DotGiven:
    """One dot from a browser session within its `allowance`: the allowance to keep, and
    whether the dot is counted on the wall now or waits for its batch (and for how many).

    Refused (`NoDotsLeft`, `DotRefused`) before anything is held; if `add_dot` refuses or its
    batch fails, the session keeps its old allowance, as no dot was given.
    """
    spent = allowance.spend(question, note_id)
    status = add_dot(db, code, note_id)
    return DotGiven(spent, status.is_counted, status.waiting_for)


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
    mixer = note_batches.mixer_for(db)
    return Participation([counts.get(qid, 0) + mixer.count(wid, qid) for wid, qid in ids])
