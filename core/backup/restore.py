"""Restore an archive's workshop into this instance: whole, in one transaction, or not at all.

Refuses before writing anything: a join code already here, ciphertexts whose workshop number
is taken (they are bound to it), unused cards that would not verify under this instance's
secret (unless the caller asks to void them). Participant rows go in sorted by their random
keys, as the archive holds them, so the insert order recalls nothing.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.backup.archive import (
    ArchiveInvalid,
    ArchiveSummary,
    InstanceSecretMismatch,
    WorkshopCodeTaken,
    WorkshopNumberTaken,
    instance_check,
    read_archive,
    read_field,
    read_rows,
    summarize,
    unb64,
    unhex,
)
from core.ballot_values import SEALED_LENGTH, ranking_text
from core.bilingual import fold_fields
from core.crypto import human_codes
from core.db import Database
from core.domain import WorkshopCode
from core.models import (
    CARDS,
    OPENED_BALLOTS,
    SEALED_BALLOTS,
    Method,
    Note,
    Question,
    ResultPublication,
    Role,
    SummaryPoint,
    Theme,
    Workshop,
    WorkshopSecrets,
)

_NOTES = cast(Table, Note.__table__)

Row = dict[str, Any]
QuestionIdOf = Callable[[Any], int]


@dataclass(frozen=True)
class _Target:
    """What the checks decided about where the workshop goes."""

    is_number_free: bool
    """The archive's workshop number is unused here, so the workshop keeps it."""
    is_voiding_unused: bool
    """Unused cards are voided: they would not verify under this instance's secret."""


def _check_target(
    session: Session,
    body: Mapping[str, Any],
    summary: ArchiveSummary,
    *,
    void_unused: bool,
    secret_key: bytes | None,
) -> _Target:
    code = summary.code
    number = read_field(body["workshop"], "id", int)
    if session.scalar(select(Workshop.id).where(Workshop.code == code)) is not None:
        raise WorkshopCodeTaken("workshop code exists", code=code)

    holds_ciphertexts = any(read_field(b, "sealed", str) for b in read_rows(body, "sealed_ballots"))
    number_free = session.get(Workshop, number) is None
    if holds_ciphertexts and not number_free:
        raise WorkshopNumberTaken("workshop number in use", number=number, code=code)

    if summary.unused_cards and not summary.stage.has_voting_ended:
        same_secret = (
            secret_key is not None
            and isinstance(body.get("instance_check"), str)
            and hmac.compare_digest(body["instance_check"], instance_check(secret_key))
        )
        if not same_secret and not void_unused:
            raise InstanceSecretMismatch("cards would not verify", unused=summary.unused_cards)
        void_unused = void_unused and not same_secret
    else:
        void_unused = False  # after voting an unused card can never be spent anyway
    return _Target(is_number_free=number_free, is_voiding_unused=void_unused)


def _workshop_row(body: Mapping[str, Any], summary: ArchiveSummary) -> Workshop:
    w = body["workshop"]
    try:
        created_at = datetime.fromisoformat(read_field(w, "created_at", str))
        stage_changed_at = datetime.fromisoformat(read_field(w, "stage_changed_at", str))
    except ValueError:
        raise ArchiveInvalid("bad time", problem="field") from None
    return Workshop(
        code=summary.code,
        name=read_field(w, "name", str),
        template_key=read_field(w, "template_key", str),
        stage=summary.stage.value,
        current_question=read_field(w, "current_question", int),
        ballot_size=read_field(w, "ballot_size", int),
        anonymity_k=read_field(w, "anonymity_k", int),
        is_open_mode=read_field(w, "is_open_mode", bool),
        is_live_results=read_field(w, "is_live_results", bool),
        created_at=created_at,
        stage_changed_at=stage_changed_at,
    )


# The template rows, field by field, in the order the archive is checked.
_QUESTION_FIELDS: Final = {"position": int, "text_zh": str, "text_en": str}
_METHOD_FIELDS: Final = {
    "key": str,
    "position": int,
    "label_zh": str,
    "label_en": str,
    "description_zh": str,
    "description_en": str,
}
_ROLE_FIELDS: Final = {"key": str, "position": int, "label_zh": str, "label_en": str}


def _template_rows(
    body: Mapping[str, Any], name: str, fields: Mapping[str, type], *texts: str
) -> list[Row]:
    """The rows, each field checked, each `<text>_zh` / `<text>_en` pair one `Bilingual`."""
    return [
        fold_fields({field: read_field(row, field, kind) for field, kind in fields.items()}, *texts)
        for row in read_rows(body, name)
    ]


def _add_template_rows(workshop: Workshop, body: Mapping[str, Any]) -> None:
    workshop.questions = [
        Question(**row) for row in _template_rows(body, "questions", _QUESTION_FIELDS, "text")
    ]
    workshop.methods = [
        Method(**row)
        for row in _template_rows(body, "methods", _METHOD_FIELDS, "label", "description")
    ]
    workshop.roles = [Role(**row) for row in _template_rows(body, "roles", _ROLE_FIELDS, "label")]


def _secrets_row(body: Mapping[str, Any]) -> WorkshopSecrets:
    sec = body.get("secrets")
    return WorkshopSecrets(
        passphrase_hash=read_field(sec, "passphrase_hash", str),
        card_salt=unb64(read_field(sec, "card_salt", str)),
        box_public_key=unb64(read_field(sec, "box_public_key", str)),
        box_private_key_wrapped=unb64(read_field(sec, "box_private_key_wrapped", str)),
        box_private_key_live=None,  # never in an archive: see the package docstring
    )


def _question_id_of(workshop: Workshop) -> QuestionIdOf:
    questions = {q.position: q for q in workshop.questions}

    def question_id(row: Any) -> int:
        position = read_field(row, "question", int)
        if position not in questions:
            raise ArchiveInvalid("unknown question", problem="field")
        return questions[position].id

    return question_id


def _insert_themes_and_points(
    session: Session, body: Mapping[str, Any], question_id: QuestionIdOf
) -> list[Theme]:
    themes = [
        Theme(
            question_id=question_id(th),
            name=read_field(th, "name", str),
            position=read_field(th, "position", int),
        )
        for th in read_rows(body, "themes")
    ]
    session.add_all(themes)
    session.add_all(
        SummaryPoint(
            question_id=question_id(p),
            position=read_field(p, "position", int),
            text=read_field(p, "text", str),
        )
        for p in read_rows(body, "summary_points")
    )
    session.flush()
    return themes


def _card_rows(body: Mapping[str, Any], workshop_id: int, *, void_unused: bool) -> list[Row]:
    rows = []
    for c in read_rows(body, "cards"):
        is_spent, is_void = read_field(c, "is_spent", bool), read_field(c, "is_void", bool)
        rows.append(
            {
                "digest": unhex(read_field(c, "digest", str)),
                "workshop_id": workshop_id,
                "is_spent": is_spent,
                "is_void": is_void or (void_unused and not is_spent),
            }
        )
    return rows


def _sealed_rows(body: Mapping[str, Any], workshop_id: int) -> list[Row]:
    rows = []
    for b in read_rows(body, "sealed_ballots"):
        blob = unb64(read_field(b, "sealed", str))
        receipt = read_field(b, "receipt", str)
        matches = not blob or human_codes.receipt_for(blob) == receipt
        if len(blob) not in (0, SEALED_LENGTH) or not matches:
            raise ArchiveInvalid("sealed ballot does not match its receipt", problem="ballot")
        rows.append(
            {
                "id": read_field(b, "id", str),
                "workshop_id": workshop_id,
                "sealed": blob,
                "receipt": receipt,
            }
        )
    return rows


def _opened_rows(body: Mapping[str, Any], workshop_id: int) -> list[Row]:
    rows = []
    for o in read_rows(body, "opened_ballots"):
        ranking = read_field(o, "ranking", list)
        if not ranking or not all(isinstance(m, str) for m in ranking):
            raise ArchiveInvalid("bad ranking", problem="field")
        rows.append(
            {
                "id": read_field(o, "id", str),
                "workshop_id": workshop_id,
                "ranking": ranking_text(ranking),
                "role": read_field(o, "role", (str, type(None))),
            }
        )
    return rows


def _note_rows(
    body: Mapping[str, Any], question_id: QuestionIdOf, themes: Sequence[Theme]
) -> list[Row]:
    rows = []
    for n in read_rows(body, "notes"):
        theme = read_field(n, "theme", (int, type(None)))
        if theme is not None and not 0 <= theme < len(themes):
            raise ArchiveInvalid("unknown theme", problem="field")
        rows.append(
            {
                "id": read_field(n, "id", str),
                "question_id": question_id(n),
                "text": read_field(n, "text", str),
                "dots": read_field(n, "dots", int),
                "is_hidden": read_field(n, "is_hidden", bool),
                "theme_id": None if theme is None else themes[theme].id,
                "is_published": read_field(n, "is_published", bool),
            }
        )
    return rows


def _insert_sorted(session: Session, table: Table, rows: list[Row], key: str) -> None:
    # Participant rows go in sorted by key, as the archive holds them: no order to recall.
    if rows:
        session.execute(insert(table), sorted(rows, key=lambda r: r[key]))


def _insert_publication(session: Session, body: Mapping[str, Any], workshop_id: int) -> None:
    pub = body.get("result_publication")
    if pub is not None:
        session.add(
            ResultPublication(
                workshop_id=workshop_id,
                ballots_counted=read_field(pub, "ballots_counted", int),
                tally_json=read_field(pub, "tally_json", str),
            )
        )


def _bump_workshop_sequence(session: Session) -> None:
    # An explicit id does not advance PostgreSQL's sequence; without this the next
    # create_workshop would draw the number just restored. SQLite takes max(rowid) + 1.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('workshops', 'id'), "
                "(SELECT max(id) FROM workshops))"
            )
        )


def _insert_workshop(
    session: Session, body: Mapping[str, Any], *, void_unused: bool, secret_key: bytes | None
) -> WorkshopCode:
    summary = summarize(body)
    target = _check_target(session, body, summary, void_unused=void_unused, secret_key=secret_key)
    workshop = _workshop_row(body, summary)
    if target.is_number_free:
        workshop.id = read_field(body["workshop"], "id", int)
    _add_template_rows(workshop, body)
    workshop.secrets = _secrets_row(body)
    session.add(workshop)
    session.flush()
    wid = workshop.id

    question_id = _question_id_of(workshop)
    themes = _insert_themes_and_points(session, body, question_id)
    cards = _card_rows(body, wid, void_unused=target.is_voiding_unused)
    sealed = _sealed_rows(body, wid)
    opened = _opened_rows(body, wid)
    notes = _note_rows(body, question_id, themes)
    _insert_sorted(session, CARDS, cards, "digest")
    _insert_sorted(session, SEALED_BALLOTS, sealed, "id")
    _insert_sorted(session, OPENED_BALLOTS, opened, "id")
    _insert_sorted(session, _NOTES, notes, "id")
    _insert_publication(session, body, wid)
    session.flush()
    if target.is_number_free:
        _bump_workshop_sequence(session)
    return summary.code


def import_archive(
    db: Database,
    data: bytes,
    *,
    secret_key: bytes | None = None,
    void_unused_cards: bool = False,
) -> WorkshopCode:
    """Restore an archive's workshop into this instance, whole or not at all.

    Refuses (changing nothing): a damaged archive or manifest (`ArchiveInvalid`); a join code
    already here (`WorkshopCodeTaken`); ciphertexts whose workshop number is taken here
    (`WorkshopNumberTaken`); unused cards from an instance with another secret, unless
    `void_unused_cards` (`InstanceSecretMismatch`). Pass this instance's `secret_key`.
    The facilitator's passphrase opens the restored box exactly as before.
    """
    body = read_archive(data)
    code = summarize(body).code
    try:
        with db.write.begin() as session:
            return _insert_workshop(
                session, body, void_unused=void_unused_cards, secret_key=secret_key
            )
    except IntegrityError:
        # A concurrent import or create took the code or number between check and insert.
        with db.read.begin() as session:
            if session.scalar(select(func.count()).where(Workshop.code == code)):
                raise WorkshopCodeTaken("workshop code exists", code=code) from None
        raise ArchiveInvalid("rows conflict with this instance", problem="conflict") from None
