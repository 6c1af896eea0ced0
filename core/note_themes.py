"""Themes: the facilitator groups a question's notes under names the room can read.

Every change is grant-checked. This module must never count a note the wall does not show
(hidden, or still waiting for its batch), so a theme's figures on the projector never reveal
a note before its batch does; and never delete a note (a theme holds notes, it does not own
them).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from core import note_batches
from core.console_access import Console
from core.db import Database
from core.domain import WorkshopCode
from core.errors import BeiduiError
from core.limits import MAX_THEME_NAME_LENGTH
from core.models import Note, Theme, Workshop
from core.notes import NoteId, ThemeId, note_in, question_at
from core.text import normalize_text
from core.workshops import load_workshop


class ThemeNotFound(BeiduiError, key="notes.errors.theme_not_found"): ...


class ThemeOnOtherQuestion(BeiduiError, key="notes.errors.theme_other_question"): ...


class InvalidThemeName(BeiduiError, key="notes.errors.theme_name"): ...


@dataclass(frozen=True)
class ThemeView:
    id: ThemeId
    name: str
    # Counted over notes the wall shows (not hidden, not waiting), so a theme's figures on the
    # projector never reveal a note before its batch does.
    note_count: int
    dots: int


def _clean_theme_name(raw: str) -> str:
    name = normalize_text(raw, keep_newlines=False)
    if not 1 <= len(name) <= MAX_THEME_NAME_LENGTH:
        raise InvalidThemeName("theme name", low=1, high=MAX_THEME_NAME_LENGTH)
    return name


def theme_in(session: Session, w: Workshop, theme_id: ThemeId) -> Theme:
    theme = session.get(Theme, theme_id) if isinstance(theme_id, int) else None
    if theme is None or theme.question_id not in {q.id for q in w.questions}:
        raise ThemeNotFound("no such theme", theme_id=theme_id)
    return theme


def create_theme(console: Console, question: int, name: str) -> ThemeId:
    with console.db.write.begin() as session:
        w = console.workshop(session, locked=True)
        q = question_at(w, question)
        cleaned = _clean_theme_name(name)
        last = session.scalar(select(func.max(Theme.position)).where(Theme.question_id == q.id))
        theme = Theme(question_id=q.id, name=cleaned, position=(last or 0) + 1)
        session.add(theme)
        session.flush()
        return theme.id


def assign_note(
    console: Console,
    note_id: NoteId,
    theme_id: ThemeId | None,
) -> None:
    """Put a note under a theme of its own question, or none."""
    with console.db.write.begin() as session:
        w = console.workshop(session, locked=True)
        note = note_in(session, w, note_id)
        if theme_id is not None:
            theme = theme_in(session, w, theme_id)
            if theme.question_id != note.question_id:
                raise ThemeOnOtherQuestion("theme of another question", theme_id=theme_id)
        note.theme_id = theme_id


def themes(db: Database, code: WorkshopCode, question: int) -> list[ThemeView]:
    """The question's themes in creation order, with counts over the notes the wall shows."""
    with db.read.begin() as session:
        w = load_workshop(session, code)
        q = question_at(w, question)
        shown: ColumnElement[bool] = Note.is_hidden.is_(False)
        if note_batches.is_batching(w, q):
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
