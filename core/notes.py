"""Anonymous notes on the evaluation questions: post, batch onto the wall, dot, hide, theme,
summarise.

This module must never store who wrote or dotted a note, from which device or session, or
when; never show notes in the order they were written (the wall sorts by dots, then by the
random id); and never let one new note reach the wall on its own: a note waits until k notes
(the workshop's anonymity k) are waiting for its question, then the whole batch appears at
once. Waiting notes are rewritten together, in random-id order, on every post, so even the
physical row order and the transaction stamps (xmin) of a PostgreSQL heap say no more than
the wall does: which batch a note came in.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from core import crypto
from core.db import Database
from core.domain import Stage, WorkshopCode
from core.errors import BeiduiError
from core.models import Note, Question, SummaryPoint, Theme, Workshop, random_id
from core.workshops import load_workshop, require_grant

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


def clean_note_text(raw: str) -> str:
    """The stored form of a note, or `EmptyNote` / `NoteTooLong`."""
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
        .where(Workshop.code == crypto.normalize_join_code(code))
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


# --- Batching ----------------------------------------------------------------------------


def _rewrite_waiting(
    session: Session, question_id: int, extra: dict[str, object] | None, *, publish: bool
) -> int:
    """Delete the question's waiting notes and insert them again (plus `extra`) by random id.

    Re-inserting in id order means neither a PostgreSQL heap nor any later batch keeps the
    order people typed in; `publish` releases the whole batch at once. Returns its size.
    """
    cols = (Note.id, Note.question_id, Note.text, Note.dots, Note.is_hidden, Note.theme_id)
    rows = [
        dict(r._mapping)
        for r in session.execute(
            select(*cols).where(Note.question_id == question_id, Note.is_published.is_(False))
        )
    ]
    if rows:
        session.execute(delete(Note).where(Note.id.in_([r["id"] for r in rows])))
    if extra is not None:
        rows.append(extra)
    if not rows:
        return 0
    rows.sort(key=lambda r: str(r["id"]))
    session.execute(insert(Note), [{**r, "is_published": publish} for r in rows])
    session.expire_all()
    return len(rows)


def release_waiting_notes(session: Session, w: Workshop) -> int:
    """Publish waiting notes of every question that is not on screen now; returns how many.

    `wall` already shows them once the room moves on; this makes it permanent, so coming back
    to a question later does not take its notes off the wall again. Stage changes may call it
    inside their own transaction; `post_note` and `flush_pending` call it too.
    """
    current = {q.id for q in w.questions if _is_batching(w, q)}
    others = [q.id for q in w.questions if q.id not in current]
    if not others:
        return 0
    result = session.execute(
        update(Note)
        .where(Note.question_id.in_(others), Note.is_published.is_(False))
        .values(is_published=True)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- Participants ------------------------------------------------------------------------


def post_note(db: Database, code: WorkshopCode, text: str) -> None:
    """Add an anonymous note to the question on screen; it waits for a batch of k.

    Stores only the text, its question and a random id: no author, session, device or time.
    """
    cleaned = clean_note_text(text)
    with db.write.begin() as session:
        w = load_locked(session, code)
        if w.stage != Stage.QUESTIONS.value:
            raise NotesClosed("notes are closed", stage=w.stage)
        q = _question(w, w.current_question)
        release_waiting_notes(session, w)
        waiting = session.scalar(
            select(func.count())
            .select_from(Note)
            .where(Note.question_id == q.id, Note.is_published.is_(False))
        )
        new = {
            "id": random_id(),
            "question_id": q.id,
            "text": cleaned,
            "dots": 0,
            "is_hidden": False,
            "theme_id": None,
        }
        _rewrite_waiting(session, q.id, new, publish=int(waiting or 0) + 1 >= w.anonymity_k)


def pending_count(db: Database, code: WorkshopCode, question: int) -> int:
    """How many notes wait for the next batch on `question` (0 once the room moved on)."""
    with db.read.begin() as session:
        w = load_workshop(session, code)
        q = _question(w, question)
        if not _is_batching(w, q):
            return 0
        return int(
            session.scalar(
                select(func.count())
                .select_from(Note)
                .where(Note.question_id == q.id, Note.is_published.is_(False))
            )
            or 0
        )


def wall(
    db: Database,
    code: WorkshopCode,
    question: int,
    *,
    include_hidden: bool = False,
    include_pending: bool = False,
) -> list[NoteView]:
    """The notes on `question`, most dots first, ties by random id (never by writing order)."""
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
    """How many notes each question received (counts only, hidden ones included)."""
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
        return Participation([counts.get(q.id, 0) for q in w.questions])


# --- Facilitator: wall -------------------------------------------------------------------


def flush_pending(
    db: Database, secret_key: bytes, code: WorkshopCode, grant: str, question: int
) -> int:
    """Show every waiting note of `question` now (the facilitator's call); returns how many."""
    with db.write.begin() as session:
        w = _facilitator(session, secret_key, code, grant)
        q = _question(w, question)
        return _rewrite_waiting(session, q.id, None, publish=True)


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
