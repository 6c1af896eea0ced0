"""Write one workshop out as an archive, from one snapshot of the database.

Participant rows (cards, sealed and opened ballots, notes) are written sorted by their
random keys, never in storage order, and the zip entries carry a fixed date: two exports of
the same rows are byte-identical. The live-results copy of the box key is never written.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Any, Final, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session, sessionmaker

from core.backup.archive import (
    ARCHIVE_FORMAT,
    ARCHIVE_VERSION,
    DOCUMENT_NAME,
    MANIFEST_NAME,
    b64,
    dumps,
    instance_check,
)
from core.ballot_values import join_code, ranking_from_text
from core.db import Database
from core.domain import WorkshopCode
from core.models import (
    CARDS,
    OPENED_BALLOTS,
    SEALED_BALLOTS,
    Note,
    ResultPublication,
    SummaryPoint,
    Theme,
    Workshop,
)
from core.workshops import WorkshopNotFound

# Zip entries carry a date; a fixed one says nothing about when the backup was made.
_ZIP_DATE: Final = (1980, 1, 1, 0, 0, 0)

_NOTES = cast(Table, Note.__table__)


def _zip_entry(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16
    zf.writestr(info, data)


def _workshop_part(w: Workshop) -> dict[str, Any]:
    assert w.secrets is not None
    return {
        "workshop": {
            "id": w.id,
            "code": w.code,
            "name": w.name,
            "template_key": w.template_key,
            "stage": w.stage,
            "current_question": w.current_question,
            "ballot_size": w.ballot_size,
            "anonymity_k": w.anonymity_k,
            "is_open_mode": bool(w.is_open_mode),
            "is_live_results": bool(w.is_live_results),
            # Stage-level times, as stored: when the room moved on, never when anyone acted.
            "created_at": w.created_at.isoformat(),
            "stage_changed_at": w.stage_changed_at.isoformat(),
        },
        "secrets": {
            "passphrase_hash": w.secrets.passphrase_hash,
            "card_salt": b64(bytes(w.secrets.card_salt)),
            "box_public_key": b64(bytes(w.secrets.box_public_key)),
            "box_private_key_wrapped": b64(bytes(w.secrets.box_private_key_wrapped)),
            # box_private_key_live is left out on purpose: see the package docstring.
        },
    }


def _template_part(w: Workshop) -> dict[str, Any]:
    return {
        "questions": [
            {"position": q.position, **q.text.fields("text")}
            for q in sorted(w.questions, key=lambda q: q.position)
        ],
        "methods": [
            {
                "key": m.key,
                "position": m.position,
                **m.label.fields("label"),
                **m.description.fields("description"),
            }
            for m in sorted(w.methods, key=lambda m: m.position)
        ],
        "roles": [
            {"key": r.key, "position": r.position, **r.label.fields("label")}
            for r in sorted(w.roles, key=lambda r: r.position)
        ],
    }


def _ballot_part(session: Session, workshop_id: int) -> dict[str, Any]:
    # Participant rows: sorted by their random keys in Python, whatever order the database
    # returned them in. Card digests are written in hex, so the text sorts as the bytes do.
    cards = sorted(
        (bytes(r.digest), bool(r.is_spent), bool(r.is_void))
        for r in session.execute(
            select(CARDS.c.digest, CARDS.c.is_spent, CARDS.c.is_void).where(
                CARDS.c.workshop_id == workshop_id
            )
        )
    )
    sealed = sorted(
        (str(r.id), bytes(r.sealed), str(r.receipt))
        for r in session.execute(
            select(SEALED_BALLOTS.c.id, SEALED_BALLOTS.c.sealed, SEALED_BALLOTS.c.receipt).where(
                SEALED_BALLOTS.c.workshop_id == workshop_id
            )
        )
    )
    opened = sorted(
        (str(r.id), str(r.ranking), r.role)
        for r in session.execute(
            select(OPENED_BALLOTS.c.id, OPENED_BALLOTS.c.ranking, OPENED_BALLOTS.c.role).where(
                OPENED_BALLOTS.c.workshop_id == workshop_id
            )
        )
    )
    return {
        "cards": [
            {"digest": d.hex(), "is_spent": spent, "is_void": void} for d, spent, void in cards
        ],
        "sealed_ballots": [{"id": i, "sealed": b64(s), "receipt": r} for i, s, r in sealed],
        "opened_ballots": [
            {"id": i, "ranking": list(ranking_from_text(text)), "role": role}
            for i, text, role in opened
        ],
    }


def _notes_part(session: Session, w: Workshop) -> dict[str, Any]:
    position_of = {q.id: q.position for q in sorted(w.questions, key=lambda q: q.position)}
    q_ids = list(position_of)
    themes = sorted(
        session.scalars(select(Theme).where(Theme.question_id.in_(q_ids))).all(),
        key=lambda th: (position_of[th.question_id], th.position, th.id),
    )
    theme_index = {th.id: i for i, th in enumerate(themes)}
    points = sorted(
        session.scalars(select(SummaryPoint).where(SummaryPoint.question_id.in_(q_ids))).all(),
        key=lambda p: (position_of[p.question_id], p.position),
    )
    notes = sorted(
        session.execute(
            select(
                _NOTES.c.id,
                _NOTES.c.question_id,
                _NOTES.c.text,
                _NOTES.c.dots,
                _NOTES.c.is_hidden,
                _NOTES.c.theme_id,
                _NOTES.c.is_published,
            ).where(_NOTES.c.question_id.in_(q_ids))
        ).all(),
        key=lambda n: str(n.id),
    )
    return {
        "themes": [
            {"question": position_of[th.question_id], "name": th.name, "position": th.position}
            for th in themes
        ],
        "summary_points": [
            {"question": position_of[p.question_id], "position": p.position, "text": p.text}
            for p in points
        ],
        "notes": [
            {
                "id": str(n.id),
                "question": position_of[n.question_id],
                "text": n.text,
                "dots": n.dots,
                "is_hidden": bool(n.is_hidden),
                "theme": None if n.theme_id is None else theme_index[n.theme_id],
                "is_published": bool(n.is_published),
            }
            for n in notes
        ],
    }


def _workshop_document(session: Session, w: Workshop, secret_key: bytes | None) -> dict[str, Any]:
    publication = session.get(ResultPublication, w.id)
    return {
        **_workshop_part(w),
        "instance_check": None if secret_key is None else instance_check(secret_key),
        **_template_part(w),
        **_ballot_part(session, w.id),
        **_notes_part(session, w),
        "result_publication": None
        if publication is None
        else {
            "ballots_counted": publication.ballots_counted,
            "tally_json": publication.tally_json,
        },
    }


def export_archive(db: Database, code: WorkshopCode, *, secret_key: bytes | None = None) -> bytes:
    """One workshop as a zip archive (see the package docstring for what it holds and omits).

    Read in one snapshot, so the archive stays consistent (spent cards == sealed ballots)
    even while ballots are being cast. `secret_key` (the instance secret) lets an import tell
    whether unused cards will still verify; without it they are treated as unverifiable.
    """
    normalized = join_code(code)
    # One snapshot for every table: under PostgreSQL's default READ COMMITTED a cast
    # committing between two SELECTs would leave a spent card without its ballot in the
    # archive. SQLite's read transaction under WAL is already one snapshot.
    snapshot = (
        db.read
        if db.is_sqlite
        else sessionmaker(
            db.engine.execution_options(isolation_level="REPEATABLE READ"),
            expire_on_commit=False,
        )
    )
    with snapshot.begin() as session:
        w = session.scalar(select(Workshop).where(Workshop.code == normalized))
        if w is None:
            raise WorkshopNotFound(f"no workshop {code!r}", code=code)
        body = {
            "format": ARCHIVE_FORMAT,
            "version": ARCHIVE_VERSION,
            **_workshop_document(session, w, secret_key),
        }
    document = dumps(body)
    manifest = dumps(
        {
            "format": ARCHIVE_FORMAT,
            "version": ARCHIVE_VERSION,
            "files": {
                DOCUMENT_NAME: {
                    "sha256": hashlib.sha256(document).hexdigest(),
                    "bytes": len(document),
                }
            },
        }
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        _zip_entry(zf, MANIFEST_NAME, manifest)
        _zip_entry(zf, DOCUMENT_NAME, document)
    return out.getvalue()
