"""The facilitator edits a workshop: settings, questions, methods on the ballot, roles.

Every change is grant-checked and refused with `EditingLocked` once the stage makes it
unsafe: ballot settings, methods and roles freeze when voting opens (a ballot must mean the
same thing from the first card to the last), questions once the room has started on them.
This module must never delete a note, change anything after voting opened, or leave a ballot
size larger than the number of methods.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.bilingual import BLANK, Bilingual
from core.console_access import Console
from core.errors import BeiduiError
from core.limits import (
    MAX_ANONYMITY_K,
    MAX_DESCRIPTION_LENGTH,
    MAX_LABEL_LENGTH,
    MAX_METHODS,
    MAX_NAME_LENGTH,
    MAX_QUESTION_LENGTH,
    MAX_QUESTIONS,
    MAX_ROLES,
    MAX_SLUG_LENGTH,
)
from core.models import Method, Note, Question, Role, SummaryPoint, Theme, Workshop
from core.note_batches import is_batching
from core.note_themes import theme_in
from core.notes import note_in
from core.templates import KEY_PATTERN
from core.text import normalize_text
from core.workshops import InvalidSetting, validate_settings


class EditingLocked(BeiduiError, key="editing.errors.locked"): ...


class InvalidText(BeiduiError, key="editing.errors.text_length"): ...


class InvalidCount(BeiduiError, key="editing.errors.count"): ...


class QuestionHasNotes(BeiduiError, key="editing.errors.question_has_notes"): ...


class MethodNotFound(BeiduiError, key="editing.errors.method_not_found"): ...


class NotePending(BeiduiError, key="editing.errors.note_pending"): ...


# --- Helpers -----------------------------------------------------------------------------


def _editable(
    session: Session,
    console: Console,
    *,
    is_question_edit: bool = False,
) -> Workshop:
    """The locked workshop, if the console is unlocked and the stage still allows this edit."""
    w = console.workshop(session, locked=True)
    allowed = w.stage.are_questions_editable if is_question_edit else w.stage.is_editable
    if not allowed:
        raise EditingLocked("editing locked at this stage", stage=w.stage.value)
    return w


def _text(raw: str, field: str, low: int, high: int, *, keep_newlines: bool = False) -> str:
    text = normalize_text(raw, keep_newlines=keep_newlines)
    if not low <= len(text) <= high:
        raise InvalidText(f"{field} length", field=field, low=low, high=high)
    return text


def _bilingual(
    raw: Bilingual, field: str, low: int, high: int, *, keep_newlines: bool = False
) -> Bilingual:
    return Bilingual(
        _text(raw.zh, f"{field}_zh", low, high, keep_newlines=keep_newlines),
        _text(raw.en, f"{field}_en", low, high, keep_newlines=keep_newlines),
    )


def slug(label: str) -> str:
    """A lowercase ASCII key from an English label (`Peer mentoring` -> `peer_mentoring`).

    Returns "" when nothing usable is left (e.g. a label in Chinese only).
    """
    ascii_text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    key = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")[:MAX_SLUG_LENGTH].rstrip("_")
    return key if KEY_PATTERN.match(key) else ""


def derive_key(english_label: str, taken: Iterable[str], prefix: str) -> str:
    """A key for a new item: the label's slug, else `<prefix>_<n>`; unique among `taken`."""
    used = set(taken)
    base = slug(english_label)
    if base and base not in used:
        return base
    # The second "peer_mentoring" reads best as "peer_mentoring_2".
    n = 2 if base else len(used) + 1
    while True:
        key = f"{base}_{n}" if base else f"{prefix}_{n}"
        if key not in used:
            return key
        n += 1


def _renumber(methods: Sequence[Method]) -> None:
    for i, m in enumerate(methods):
        m.position = i


def _method(w: Workshop, key: str) -> Method:
    for m in w.methods:
        if m.key == key:
            return m
    raise MethodNotFound("no such method", key=key)


def _append_method(session: Session, w: Workshop, label: Bilingual, description: Bilingual) -> str:
    label = _bilingual(label, "label", 1, MAX_LABEL_LENGTH)
    description = _bilingual(
        description, "description", 0, MAX_DESCRIPTION_LENGTH, keep_newlines=True
    )
    if len(w.methods) >= MAX_METHODS:
        raise InvalidCount("too many methods", field="methods", low=1, high=MAX_METHODS)
    key = derive_key(label.en, (m.key for m in w.methods), "m")
    w.methods.append(Method(key=key, position=len(w.methods), label=label, description=description))
    session.flush()
    return key


# --- Settings ----------------------------------------------------------------------------


def update_settings(
    console: Console,
    *,
    name: str | None = None,
    ballot_size: int | None = None,
    anonymity_k: int | None = None,
    is_live_results: bool | None = None,
    is_open_mode: bool | None = None,
) -> None:
    """Change the given settings (None keeps one); before voting opens only."""
    with console.db.write.begin() as session:
        w = _editable(session, console)
        new_name = w.name
        if name is not None:
            new_name = normalize_text(name, keep_newlines=False)
            if not 1 <= len(new_name) <= MAX_NAME_LENGTH:
                raise InvalidSetting("name", setting="name", low=1, high=MAX_NAME_LENGTH)
        size = w.ballot_size if ballot_size is None else ballot_size
        k = w.anonymity_k if anonymity_k is None else anonymity_k
        for setting, value in (("ballot_size", size), ("anonymity_k", k)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidSetting(setting, setting=setting, low=1, high=MAX_ANONYMITY_K)
        validate_settings(size, k, len(w.methods))
        w.name, w.ballot_size, w.anonymity_k = new_name, size, k
        if is_live_results is not None:
            w.is_live_results = bool(is_live_results)
        if is_open_mode is not None:
            w.is_open_mode = bool(is_open_mode)


# --- Questions ---------------------------------------------------------------------------


def set_questions(
    console: Console,
    questions: Sequence[Bilingual],
) -> None:
    """Replace the questions while the workshop is a draft.

    Questions are updated in place by position, so anything attached to a kept position stays
    attached; removing a question that already holds notes, themes or a summary is refused.
    """
    with console.db.write.begin() as session:
        w = _editable(session, console, is_question_edit=True)
        if not 1 <= len(questions) <= MAX_QUESTIONS:
            raise InvalidCount("questions", field="questions", low=1, high=MAX_QUESTIONS)
        cleaned = [_bilingual(q, "question", 1, MAX_QUESTION_LENGTH) for q in questions]
        surplus = [q for q in w.questions if q.position >= len(cleaned)]
        for q in surplus:
            for table in (Note, Theme, SummaryPoint):
                held = session.scalar(
                    select(func.count()).select_from(table).where(table.question_id == q.id)
                )
                if held:
                    raise QuestionHasNotes("question holds notes", question=q.position + 1)
        by_position = {q.position: q for q in w.questions}
        for q in surplus:
            w.questions.remove(q)
        # Deletes before inserts, so the (workshop, position) unique key never sees two rows.
        session.flush()
        for i, text in enumerate(cleaned):
            existing = by_position.get(i)
            if existing is not None:
                existing.text = text
            else:
                w.questions.append(Question(position=i, text=text))
        if w.current_question >= len(cleaned):
            w.current_question = 0


# --- Methods -----------------------------------------------------------------------------


def add_method(
    console: Console,
    label: Bilingual,
    description: Bilingual = BLANK,
) -> str:
    """Append a method to the ballot; returns its new key (slug of the English label)."""
    with console.db.write.begin() as session:
        w = _editable(session, console)
        return _append_method(session, w, label, description)


def remove_method(console: Console, key: str) -> None:
    """Take a method off the ballot; refused if the ballot size would exceed what is left."""
    with console.db.write.begin() as session:
        w = _editable(session, console)
        method = _method(w, key)
        validate_settings(w.ballot_size, w.anonymity_k, len(w.methods) - 1)
        w.methods.remove(method)
        _renumber(w.methods)


def promote_note_to_method(
    console: Console,
    note_id: str,
    label: Bilingual,
) -> str:
    """Put a note the room wrote on the ballot; the note's words become the description.

    A note still waiting for its batch is refused: its text on the ballot would show it
    before the wall does.
    """
    with console.db.write.begin() as session:
        w = _editable(session, console)
        note = note_in(session, w, note_id)
        question = next(q for q in w.questions if q.id == note.question_id)
        if not note.is_published and is_batching(w, question):
            raise NotePending("note waits for its batch")
        words = note.text[:MAX_DESCRIPTION_LENGTH]
        return _append_method(session, w, label, Bilingual(words, words))


def promote_theme_to_method(
    console: Console,
    theme_id: int,
    label: Bilingual,
) -> str:
    """Put a theme the room formed on the ballot; the theme's name becomes the description."""
    with console.db.write.begin() as session:
        w = _editable(session, console)
        theme = theme_in(session, w, theme_id)
        return _append_method(session, w, label, Bilingual(theme.name, theme.name))


# --- Roles -------------------------------------------------------------------------------


def set_roles(
    console: Console,
    roles: Sequence[Bilingual],
) -> None:
    """Replace the roles people may declare; keys derive from the English labels."""
    with console.db.write.begin() as session:
        w = _editable(session, console)
        if len(roles) > MAX_ROLES:
            raise InvalidCount("roles", field="roles", low=0, high=MAX_ROLES)
        cleaned = [_bilingual(r, "role", 1, MAX_LABEL_LENGTH) for r in roles]
        keys: list[str] = []
        for label in cleaned:
            keys.append(derive_key(label.en, keys, "r"))
        w.roles.clear()
        # Old rows go first: a kept label derives the same key, and (workshop, key) is unique.
        session.flush()
        w.roles.extend(
            Role(key=k, position=i, label=label)
            for i, (k, label) in enumerate(zip(keys, cleaned, strict=True))
        )
