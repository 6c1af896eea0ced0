"""Back up one workshop to a portable archive and restore it into another instance.

`export_archive` writes a zip holding `workshop.json` (every row of one workshop, in a
format of its own rather than SQL, so an archive from SQLite restores into PostgreSQL and
back) and `manifest.json` (the SHA-256 and length of that document). `import_archive`
checks the manifest, then writes the whole workshop in ONE transaction or nothing.
`python -m core.backup export CODE --out FILE` / `python -m core.backup import FILE`.

What the archive must never hold or recall:
- the live-results copy of the box key (`box_private_key_live`). It is the private key
  wrapped under the *instance* secret, so anyone holding an archive and that secret (every
  server of the instance, everyone who can read its environment) could open every sealed
  ballot. Archives travel further than databases do; in them the key stays wrapped under the
  facilitator's passphrase only. A live-results workshop restored before its reveal counts
  live again once the facilitator unlocks it in the new instance;
- any time finer than the workshop's own stage changes, or any order of participant rows:
  cards, sealed and opened ballots and notes are written sorted by their random keys (card
  digests are keyed HMACs, so random too), never in storage order, and the zip entries carry
  a fixed date. Two exports of the same rows are byte-identical;
- integer ids (questions, themes, summary points): references are by position instead.

Two bindings survive a move and shape what an import may do:
- sealed ballots are encrypted with the workshop's *number* (`workshops.id`) and code as
  associated data (`ballots.ballot_aad`), so a workshop that still holds ciphertexts keeps
  its number; if the target already uses that number the import is refused
  (`WorkshopNumberTaken`), since re-sealing would change every receipt voters hold;
- card digests are keyed by the instance secret: in an instance with another secret an
  unused card no longer verifies. A workshop with unused cards is therefore refused there
  (`InstanceSecretMismatch`) unless the caller asks to void those cards (the facilitator
  then issues new ones). The archive carries an HMAC of a fixed label under the secret, so
  the check needs no secret in the archive.

The manifest detects a damaged or truncated archive; it is not a signature. Anyone who can
write an archive could add ballots sealed to the public key, exactly as anyone who can
write the database could: keep archives where you keep the database.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import io
import json
import os
import sys
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Final, cast

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.ballots import SEALED_LENGTH, join_code
from core.crypto import human_codes
from core.db import Database
from core.domain import Stage, WorkshopCode
from core.errors import BeiduiError
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
from core.workshops import WorkshopNotFound

ARCHIVE_FORMAT: Final = "beidui-workshop-archive"
ARCHIVE_VERSION: Final = 1
DOCUMENT_NAME: Final = "workshop.json"
MANIFEST_NAME: Final = "manifest.json"
# Zip entries carry a date; a fixed one says nothing about when the backup was made.
_ZIP_DATE: Final = (1980, 1, 1, 0, 0, 0)
# A workshop of 100k ballots is ~250 MB of JSON; refuse anything that inflates further.
MAX_DOCUMENT_BYTES: Final = 512 * 1024 * 1024
_INSTANCE_CHECK_LABEL: Final = b"beidui/backup/instance-check/v1"

_NOTES = cast(Table, Note.__table__)

# --------------------------------------------------------------------------------------------
# Errors (data/locales/<lang>/backup.toml)
# --------------------------------------------------------------------------------------------


class ArchiveInvalid(BeiduiError):
    """Not a Beidui archive, damaged, or its manifest does not match (params: problem)."""

    key: ClassVar[str] = "backup.errors.invalid"


class WorkshopCodeTaken(BeiduiError):
    """This instance already has a workshop with the archive's join code (params: code)."""

    key: ClassVar[str] = "backup.errors.code_taken"


class WorkshopNumberTaken(BeiduiError):
    """Sealed ballots are bound to the workshop's number, used here by another workshop."""

    key: ClassVar[str] = "backup.errors.number_taken"


class InstanceSecretMismatch(BeiduiError):
    """Unused cards would not verify under this instance's secret (params: unused)."""

    key: ClassVar[str] = "backup.errors.secret_mismatch"


# --------------------------------------------------------------------------------------------
# Encoding helpers
# --------------------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ArchiveInvalid("binary field is not text", problem="field")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise ArchiveInvalid("binary field is not base64", problem="field") from None


def _unhex(value: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ArchiveInvalid("binary field is not hex", problem="field") from None


def instance_check(secret_key: bytes) -> str:
    """A value that tells whether two instances share a secret without revealing it."""
    return hmac.new(secret_key, _INSTANCE_CHECK_LABEL, hashlib.sha256).hexdigest()


def _dumps(document: Mapping[str, Any]) -> bytes:
    return json.dumps(
        document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), indent=None
    ).encode("utf-8")


def _zip_entry(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16
    zf.writestr(info, data)


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------


def _workshop_document(session: Session, w: Workshop, secret_key: bytes | None) -> dict[str, Any]:
    assert w.secrets is not None
    questions = sorted(w.questions, key=lambda q: q.position)
    position_of = {q.id: q.position for q in questions}
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
    # Participant rows: sorted by their random keys in Python, whatever order the database
    # returned them in. Card digests are written in hex, so the text sorts as the bytes do.
    cards = sorted(
        (bytes(r.digest), bool(r.is_spent), bool(r.is_void))
        for r in session.execute(
            select(CARDS.c.digest, CARDS.c.is_spent, CARDS.c.is_void).where(
                CARDS.c.workshop_id == w.id
            )
        )
    )
    sealed = sorted(
        (str(r.id), bytes(r.sealed), str(r.receipt))
        for r in session.execute(
            select(SEALED_BALLOTS.c.id, SEALED_BALLOTS.c.sealed, SEALED_BALLOTS.c.receipt).where(
                SEALED_BALLOTS.c.workshop_id == w.id
            )
        )
    )
    opened = sorted(
        (str(r.id), str(r.ranking), r.role)
        for r in session.execute(
            select(OPENED_BALLOTS.c.id, OPENED_BALLOTS.c.ranking, OPENED_BALLOTS.c.role).where(
                OPENED_BALLOTS.c.workshop_id == w.id
            )
        )
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
    publication = session.get(ResultPublication, w.id)
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
            "card_salt": _b64(bytes(w.secrets.card_salt)),
            "box_public_key": _b64(bytes(w.secrets.box_public_key)),
            "box_private_key_wrapped": _b64(bytes(w.secrets.box_private_key_wrapped)),
            # box_private_key_live is left out on purpose: see the module docstring.
        },
        "instance_check": None if secret_key is None else instance_check(secret_key),
        "questions": [
            {"position": q.position, "text_zh": q.text_zh, "text_en": q.text_en} for q in questions
        ],
        "methods": [
            {
                "key": m.key,
                "position": m.position,
                "label_zh": m.label_zh,
                "label_en": m.label_en,
                "description_zh": m.description_zh,
                "description_en": m.description_en,
            }
            for m in sorted(w.methods, key=lambda m: m.position)
        ],
        "roles": [
            {"key": r.key, "position": r.position, "label_zh": r.label_zh, "label_en": r.label_en}
            for r in sorted(w.roles, key=lambda r: r.position)
        ],
        "themes": [
            {"question": position_of[th.question_id], "name": th.name, "position": th.position}
            for th in themes
        ],
        "summary_points": [
            {"question": position_of[p.question_id], "position": p.position, "text": p.text}
            for p in points
        ],
        "cards": [
            {"digest": d.hex(), "is_spent": spent, "is_void": void} for d, spent, void in cards
        ],
        "sealed_ballots": [{"id": i, "sealed": _b64(s), "receipt": r} for i, s, r in sealed],
        "opened_ballots": [
            {"id": i, "ranking": ranking.split("\n"), "role": role} for i, ranking, role in opened
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
        "result_publication": None
        if publication is None
        else {
            "ballots_counted": publication.ballots_counted,
            "tally_json": publication.tally_json,
        },
    }


def export_archive(db: Database, code: WorkshopCode, *, secret_key: bytes | None = None) -> bytes:
    """One workshop as a zip archive (see the module docstring for what it holds and omits).

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
    document = _dumps(body)
    manifest = _dumps(
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


# --------------------------------------------------------------------------------------------
# Reading and checking an archive
# --------------------------------------------------------------------------------------------


def read_archive(data: bytes) -> dict[str, Any]:
    """The checked document of an archive, or `ArchiveInvalid` naming the problem."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        raise ArchiveInvalid("not a zip file", problem="zip") from None
    with zf:
        infos = {i.filename: i for i in zf.infolist()}
        if set(infos) != {MANIFEST_NAME, DOCUMENT_NAME}:
            raise ArchiveInvalid("unexpected files", problem="files")
        if any(i.file_size > MAX_DOCUMENT_BYTES for i in infos.values()):
            raise ArchiveInvalid("too large", problem="size")
        try:
            manifest = json.loads(zf.read(MANIFEST_NAME))
            document = zf.read(DOCUMENT_NAME)
        except (zipfile.BadZipFile, ValueError, OSError):
            raise ArchiveInvalid("damaged entry", problem="zip") from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != ARCHIVE_FORMAT
        or manifest.get("version") != ARCHIVE_VERSION
    ):
        raise ArchiveInvalid("unknown format or version", problem="version")
    entry = (manifest.get("files") or {}).get(DOCUMENT_NAME)
    if (
        not isinstance(entry, dict)
        or entry.get("bytes") != len(document)
        or not hmac.compare_digest(
            str(entry.get("sha256", "")), hashlib.sha256(document).hexdigest()
        )
    ):
        raise ArchiveInvalid("manifest does not match", problem="manifest")
    try:
        body = json.loads(document.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ArchiveInvalid("document is not JSON", problem="document") from None
    if (
        not isinstance(body, dict)
        or body.get("format") != ARCHIVE_FORMAT
        or body.get("version") != ARCHIVE_VERSION
    ):
        raise ArchiveInvalid("document format", problem="version")
    return body


def _field(row: Any, name: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(row, dict) or name not in row:
        raise ArchiveInvalid(f"missing {name}", problem="field")
    value = row[name]
    # bool is an int in Python: an integer field must not accept true/false, and back.
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
        raise ArchiveInvalid(f"bad {name}", problem="field")
    return value


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _rows(body: Mapping[str, Any], name: str) -> list[Any]:
    rows = body.get(name)
    if not isinstance(rows, list):
        raise ArchiveInvalid(f"missing {name}", problem="field")
    return rows


@dataclass(frozen=True)
class ArchiveSummary:
    """What an archive holds, in numbers (for the CLI and for tests)."""

    code: WorkshopCode
    stage: Stage
    cards: int
    unused_cards: int
    sealed_ballots: int
    opened_ballots: int
    notes: int


def summarize(body: Mapping[str, Any]) -> ArchiveSummary:
    w = body.get("workshop")
    cards = _rows(body, "cards")
    try:
        stage = Stage(_field(w, "stage", str))
    except ValueError:
        raise ArchiveInvalid("unknown stage", problem="field") from None
    return ArchiveSummary(
        code=join_code(_field(w, "code", str)),
        stage=stage,
        cards=len(cards),
        unused_cards=sum(
            1 for c in cards if not _field(c, "is_spent", bool) and not _field(c, "is_void", bool)
        ),
        sealed_ballots=len(_rows(body, "sealed_ballots")),
        opened_ballots=len(_rows(body, "opened_ballots")),
        notes=len(_rows(body, "notes")),
    )


# --------------------------------------------------------------------------------------------
# Import
# --------------------------------------------------------------------------------------------


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
    w = body["workshop"]
    sec = body.get("secrets")
    number = _field(w, "id", int)
    code = summary.code

    if session.scalar(select(Workshop.id).where(Workshop.code == code)) is not None:
        raise WorkshopCodeTaken("workshop code exists", code=code)

    sealed_rows = _rows(body, "sealed_ballots")
    holds_ciphertexts = any(_field(b, "sealed", str) for b in sealed_rows)
    number_free = session.get(Workshop, number) is None
    if holds_ciphertexts and not number_free:
        raise WorkshopNumberTaken("workshop number in use", number=number, code=code)

    if summary.unused_cards and summary.stage not in (Stage.CLOSED, Stage.REVEALED):
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

    try:
        created_at = datetime.fromisoformat(_field(w, "created_at", str))
        stage_changed_at = datetime.fromisoformat(_field(w, "stage_changed_at", str))
    except ValueError:
        raise ArchiveInvalid("bad time", problem="field") from None

    workshop = Workshop(
        code=code,
        name=_field(w, "name", str),
        template_key=_field(w, "template_key", str),
        stage=summary.stage.value,
        current_question=_field(w, "current_question", int),
        ballot_size=_field(w, "ballot_size", int),
        anonymity_k=_field(w, "anonymity_k", int),
        is_open_mode=_field(w, "is_open_mode", bool),
        is_live_results=_field(w, "is_live_results", bool),
        created_at=created_at,
        stage_changed_at=stage_changed_at,
    )
    if number_free:
        workshop.id = number
    workshop.questions = [
        Question(
            position=_field(q, "position", int),
            text_zh=_field(q, "text_zh", str),
            text_en=_field(q, "text_en", str),
        )
        for q in _rows(body, "questions")
    ]
    workshop.methods = [
        Method(
            key=_field(m, "key", str),
            position=_field(m, "position", int),
            label_zh=_field(m, "label_zh", str),
            label_en=_field(m, "label_en", str),
            description_zh=_field(m, "description_zh", str),
            description_en=_field(m, "description_en", str),
        )
        for m in _rows(body, "methods")
    ]
    workshop.roles = [
        Role(
            key=_field(r, "key", str),
            position=_field(r, "position", int),
            label_zh=_field(r, "label_zh", str),
            label_en=_field(r, "label_en", str),
        )
        for r in _rows(body, "roles")
    ]
    box_public_key = _unb64(_field(sec, "box_public_key", str))
    workshop.secrets = WorkshopSecrets(
        passphrase_hash=_field(sec, "passphrase_hash", str),
        card_salt=_unb64(_field(sec, "card_salt", str)),
        box_public_key=box_public_key,
        box_private_key_wrapped=_unb64(_field(sec, "box_private_key_wrapped", str)),
        box_private_key_live=None,
    )
    session.add(workshop)
    session.flush()
    wid = workshop.id

    questions = {q.position: q for q in workshop.questions}

    def question_id(row: Any) -> int:
        position = _field(row, "question", int)
        if position not in questions:
            raise ArchiveInvalid("unknown question", problem="field")
        return questions[position].id

    themes = [
        Theme(
            question_id=question_id(th),
            name=_field(th, "name", str),
            position=_field(th, "position", int),
        )
        for th in _rows(body, "themes")
    ]
    session.add_all(themes)
    session.add_all(
        SummaryPoint(
            question_id=question_id(p),
            position=_field(p, "position", int),
            text=_field(p, "text", str),
        )
        for p in _rows(body, "summary_points")
    )
    session.flush()

    card_rows = []
    for c in _rows(body, "cards"):
        is_spent, is_void = _field(c, "is_spent", bool), _field(c, "is_void", bool)
        card_rows.append(
            {
                "digest": _unhex(_field(c, "digest", str)),
                "workshop_id": wid,
                "is_spent": is_spent,
                "is_void": is_void or (void_unused and not is_spent),
            }
        )
    sealed = []
    for b in sealed_rows:
        blob = _unb64(_field(b, "sealed", str))
        receipt = _field(b, "receipt", str)
        if len(blob) not in (0, SEALED_LENGTH) or (
            blob and human_codes.receipt_for(blob) != receipt
        ):
            raise ArchiveInvalid("sealed ballot does not match its receipt", problem="ballot")
        sealed.append(
            {"id": _field(b, "id", str), "workshop_id": wid, "sealed": blob, "receipt": receipt}
        )
    opened = []
    for o in _rows(body, "opened_ballots"):
        ranking = _field(o, "ranking", list)
        if not ranking or not all(isinstance(m, str) for m in ranking):
            raise ArchiveInvalid("bad ranking", problem="field")
        opened.append(
            {
                "id": _field(o, "id", str),
                "workshop_id": wid,
                "ranking": "\n".join(ranking),
                "role": _field(o, "role", (str, type(None))),
            }
        )
    notes = []
    for n in _rows(body, "notes"):
        theme = _field(n, "theme", (int, type(None)))
        if theme is not None and not 0 <= theme < len(themes):
            raise ArchiveInvalid("unknown theme", problem="field")
        notes.append(
            {
                "id": _field(n, "id", str),
                "question_id": question_id(n),
                "text": _field(n, "text", str),
                "dots": _field(n, "dots", int),
                "is_hidden": _field(n, "is_hidden", bool),
                "theme_id": None if theme is None else themes[theme].id,
                "is_published": _field(n, "is_published", bool),
            }
        )
    # Participant rows go in sorted by key, as the archive holds them: no order to recall.
    for table, rows, key in (
        (CARDS, card_rows, "digest"),
        (SEALED_BALLOTS, sealed, "id"),
        (OPENED_BALLOTS, opened, "id"),
        (_NOTES, notes, "id"),
    ):
        if rows:
            session.execute(insert(table), sorted(rows, key=lambda r, k=key: r[k]))  # type: ignore[misc]
    pub = body.get("result_publication")
    if pub is not None:
        session.add(
            ResultPublication(
                workshop_id=wid,
                ballots_counted=_field(pub, "ballots_counted", int),
                tally_json=_field(pub, "tally_json", str),
            )
        )
    session.flush()
    if number_free:
        _bump_workshop_sequence(session)
    return code


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


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _write_owner_only(path: Path, data: bytes) -> None:
    # The archive holds the passphrase hash and the wrapped box key: owner-only, atomically.
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    from core.i18n import t, tm
    from core.instance import open_instance

    lang = os.environ.get("BEIDUI_LANG", "zh")
    parser = argparse.ArgumentParser(prog="python -m core.backup")
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="write one workshop to an archive")
    exp.add_argument("code")
    exp.add_argument("--out", required=True, type=Path)
    imp = sub.add_parser("import", help="restore a workshop from an archive")
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--void-unused-cards",
        action="store_true",
        help="import even if unused cards cannot verify here; they are voided",
    )
    args = parser.parse_args(argv)

    inst = open_instance()
    try:
        if args.command == "export":
            data = export_archive(inst.db, args.code, secret_key=inst.secret_key)
            _write_owner_only(args.out, data)
            print(t("backup.cli.exported", lang, code=join_code(args.code), path=str(args.out)))
        else:
            data = args.file.read_bytes()
            code = import_archive(
                inst.db,
                data,
                secret_key=inst.secret_key,
                void_unused_cards=args.void_unused_cards,
            )
            print(t("backup.cli.imported", lang, code=code))
    except BeiduiError as err:
        print(tm(err.message, lang), file=sys.stderr)
        return 1
    finally:
        inst.db.dispose()
    return 0


__all__ = [
    "ARCHIVE_FORMAT",
    "ARCHIVE_VERSION",
    "ArchiveInvalid",
    "ArchiveSummary",
    "InstanceSecretMismatch",
    "WorkshopCodeTaken",
    "WorkshopNumberTaken",
    "export_archive",
    "import_archive",
    "instance_check",
    "read_archive",
    "summarize",
]


if __name__ == "__main__":
    sys.exit(main())
