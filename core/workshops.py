"""Workshop services: create from a template, read, unlock the console, move through stages.

Each function takes simple values plus the `Database`, owns its transaction, and raises named
domain errors. Nothing here records who did what or when beyond the stage changes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as pysecrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from core.bilingual import Bilingual
from core.crypto import human_codes, key_wrap, passphrases, sealed_box
from core.db import Database
from core.domain import (
    Stage,
    StagePosition,
    StageTransitionRefused,
    WorkshopCode,
    check_transition,
)
from core.errors import BeiduiError
from core.limits import (
    MAX_ANONYMITY_K,
    MAX_BALLOT_SIZE,
    MAX_CONSOLE_TOKEN_TEXT,
    MAX_NAME_LENGTH,
    MIN_ANONYMITY_K,
)
from core.models import ConsoleSession, Method, Question, Role, Workshop, WorkshopSecrets
from core.note_batches import stage_change
from core.ratelimit import AttemptLimiter
from core.templates import Template
from core.text import normalize_text


class WorkshopNotFound(BeiduiError):
    key = "errors.workshop_not_found"


class InvalidSetting(BeiduiError):
    key = "errors.invalid_setting"


class NotAuthorized(BeiduiError):
    key = "errors.not_authorized"


@dataclass(frozen=True)
class MethodView:
    key: str
    label: Bilingual
    description: Bilingual


@dataclass(frozen=True)
class RoleView:
    key: str
    label: Bilingual


@dataclass(frozen=True)
class QuestionView:
    id: int
    position: int
    text: Bilingual


@dataclass(frozen=True)
class WorkshopView:
    """Everything a page may show about a workshop (never any key material)."""

    id: int
    code: WorkshopCode
    name: str
    template_key: str
    stage: Stage
    current_question: int
    ballot_size: int
    anonymity_k: int
    is_open_mode: bool
    is_live_results: bool
    questions: tuple[QuestionView, ...]
    methods: tuple[MethodView, ...]
    roles: tuple[RoleView, ...]

    @property
    def position(self) -> StagePosition:
        return StagePosition(self.stage, self.current_question)

    @property
    def method_keys(self) -> tuple[str, ...]:
        return tuple(m.key for m in self.methods)

    def method_labels(self, lang: str) -> dict[str, str]:
        return {m.key: m.label.get(lang) for m in self.methods}


def minute_now() -> datetime:
    # Minute resolution is plenty for "when the room moved on" and keeps nothing finer.
    return datetime.now(UTC).replace(second=0, microsecond=0)


def view_of(w: Workshop) -> WorkshopView:
    return WorkshopView(
        id=w.id,
        code=w.code,
        name=w.name,
        template_key=w.template_key,
        stage=w.stage,
        current_question=w.current_question,
        ballot_size=w.ballot_size,
        anonymity_k=w.anonymity_k,
        is_open_mode=w.is_open_mode,
        is_live_results=w.is_live_results,
        questions=tuple(QuestionView(q.id, q.position, q.text) for q in w.questions),
        methods=tuple(MethodView(m.key, m.label, m.description) for m in w.methods),
        roles=tuple(RoleView(r.key, r.label) for r in w.roles),
    )


def load_workshop(session: Session, code: WorkshopCode) -> Workshop:
    w = session.scalar(
        select(Workshop)
        .where(Workshop.code == human_codes.normalize_join_code(code))
        .options(
            selectinload(Workshop.questions),
            selectinload(Workshop.methods),
            selectinload(Workshop.roles),
        )
    )
    if w is None:
        raise WorkshopNotFound(f"no workshop {code!r}", code=code)
    return w


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


def validate_settings(ballot_size: int, anonymity_k: int, n_methods: int) -> None:
    if not 1 <= ballot_size <= min(MAX_BALLOT_SIZE, n_methods):
        raise InvalidSetting(
            "ballot size", setting="ballot_size", low=1, high=min(MAX_BALLOT_SIZE, n_methods)
        )
    if anonymity_k < MIN_ANONYMITY_K:
        raise InvalidSetting(
            "anonymity k", setting="anonymity_k", low=MIN_ANONYMITY_K, high=MAX_ANONYMITY_K
        )


def create_workshop(
    db: Database,
    template: Template,
    name: str,
    passphrase: str,
    *,
    ballot_size: int | None = None,
    anonymity_k: int | None = None,
    is_open_mode: bool = False,
    is_live_results: bool = False,
) -> WorkshopCode:
    """A new workshop in DRAFT with the template's questions, methods and roles.

    The facilitator passphrase is kept only as a scrypt hash; the ballot box's private key is
    kept only encrypted under it, so a lost passphrase means sealed ballots stay sealed.
    """
    # The same cleaning as an edit (issue 12: a name kept bidi and NUL characters when it was
    # created, lost them only when edited).
    name = normalize_text(name if isinstance(name, str) else "", keep_newlines=False)
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidSetting("name", setting="name", low=1, high=MAX_NAME_LENGTH)
    passphrases.check_passphrase_strength(passphrase)
    k_size = template.ballot_size if ballot_size is None else ballot_size
    k_anon = template.anonymity_k if anonymity_k is None else anonymity_k
    validate_settings(k_size, k_anon, len(template.methods))

    keypair = sealed_box.BoxKeypair.generate()
    passphrase_hash = passphrases.hash_passphrase(passphrase)
    wrapped_private_key = key_wrap.wrap_private_key(keypair, passphrase)
    now = minute_now()
    for _attempt in range(20):
        code = human_codes.new_join_code()
        try:
            with db.write.begin() as session:
                w = Workshop(
                    code=code,
                    name=name,
                    template_key=template.key,
                    stage=Stage.DRAFT,
                    current_question=0,
                    ballot_size=k_size,
                    anonymity_k=k_anon,
                    is_open_mode=is_open_mode,
                    is_live_results=is_live_results,
                    created_at=now,
                    stage_changed_at=now,
                )
                w.questions = [
                    Question(position=i, text=q) for i, q in enumerate(template.questions)
                ]
                w.methods = [
                    Method(key=m.key, position=i, label=m.label, description=m.description)
                    for i, m in enumerate(template.methods)
                ]
                w.roles = [
                    Role(key=r.key, position=i, label=r.label) for i, r in enumerate(template.roles)
                ]
                w.secrets = WorkshopSecrets(
                    passphrase_hash=passphrase_hash,
                    card_salt=pysecrets.token_bytes(16),
                    box_public_key=keypair.public_bytes,
                    box_private_key_wrapped=wrapped_private_key,
                )
                session.add(w)
            return code
        except IntegrityError:
            continue  # join code collision: draw another
    raise InvalidSetting("could not draw a unique join code", setting="code", low=0, high=0)


def get_workshop(db: Database, code: WorkshopCode) -> WorkshopView:
    with db.read.begin() as session:
        return view_of(load_workshop(session, code))


def list_workshops(db: Database) -> list[WorkshopView]:
    with db.read.begin() as session:
        rows = session.scalars(
            select(Workshop)
            .options(
                selectinload(Workshop.questions),
                selectinload(Workshop.methods),
                selectinload(Workshop.roles),
            )
            .order_by(Workshop.id.desc())
        ).all()
        return [view_of(w) for w in rows]


def count_workshops(db: Database) -> int:
    with db.read.begin() as session:
        return int(session.scalar(select(func.count()).select_from(Workshop)) or 0)


# --- The facilitator's console ---------------------------------------------------------


# How long an unlocked console stays unlocked without the passphrase: one workshop day.
CONSOLE_SESSION_LIFETIME: Final = timedelta(hours=12)
_CONSOLE_TOKEN_LABEL: Final = b"beidui/console-session/v1\x00"
# Per process: wrong passphrases from one client make that client wait (core/ratelimit.py).
PASSPHRASE_LIMITER: Final = AttemptLimiter()


def _console_token_hash(secret_key: bytes, token: str) -> bytes:
    """What the database keeps of a console token: a keyed hash that cannot be reversed."""
    raw = token.encode("utf-8", "replace") if isinstance(token, str) else b""
    return hmac.new(secret_key, _CONSOLE_TOKEN_LABEL + raw, hashlib.sha256).digest()


def unlock_console(
    db: Database,
    secret_key: bytes,
    code: WorkshopCode,
    passphrase: str,
    *,
    client_key: str = "",
) -> str:
    """Check the facilitator passphrase (scrypt, slow on purpose) and open a console session.

    Returns a fresh random token (the "grant" every organiser service takes). The database
    keeps only HMAC(instance secret, token) and an expiry, so the token cannot be rebuilt
    from the database and the instance secret: acting needs the passphrase or a token handed
    out here. Wrong passphrases count against `client_key` (never stored) and too many make
    that client wait (`TooManyAttempts`).
    """
    PASSPHRASE_LIMITER.check(code, client_key)
    with db.read.begin() as session:
        w = load_workshop(session, code)
        assert w.secrets is not None
        stored = w.secrets.passphrase_hash
        workshop_id = w.id
        code = w.code
    if not passphrases.verify_passphrase(passphrase if isinstance(passphrase, str) else "", stored):
        PASSPHRASE_LIMITER.record_failure(code, client_key)
        raise passphrases.WrongPassphrase("facilitator passphrase")
    token = pysecrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with db.write.begin() as session:
        # Ended sessions leave nothing behind: expired rows of this workshop go now.
        session.execute(
            delete(ConsoleSession).where(
                ConsoleSession.workshop_id == workshop_id, ConsoleSession.expires_at <= now
            )
        )
        session.add(
            ConsoleSession(
                token_hash=_console_token_hash(secret_key, token),
                workshop_id=workshop_id,
                # Whole minutes, like every time stored: nothing finer than a stage change.
                expires_at=minute_now() + CONSOLE_SESSION_LIFETIME,
            )
        )
    return token


def _live_console_session(session: Session, secret_key: bytes, token: str) -> ConsoleSession | None:
    if not isinstance(token, str) or not token or len(token) > MAX_CONSOLE_TOKEN_TEXT:
        return None
    row = session.get(ConsoleSession, _console_token_hash(secret_key, token))
    if row is None:
        return None
    expires_at = row.expires_at
    if expires_at.tzinfo is None:  # SQLite hands back naive datetimes (stored as UTC)
        expires_at = expires_at.replace(tzinfo=UTC)
    return row if expires_at > datetime.now(UTC) else None


def require_grant(session: Session, secret_key: bytes, w: Workshop, grant: str) -> None:
    """Raise `NotAuthorized` unless `grant` is a live console token of this workshop."""
    row = _live_console_session(session, secret_key, grant)
    if row is None or row.workshop_id != w.id:
        raise NotAuthorized("no live console session for this workshop")


def load_for_facilitator(
    session: Session, secret_key: bytes, code: WorkshopCode, grant: str
) -> Workshop:
    """The locked workshop (`load_locked`), if `grant` is a live console token of it."""
    w = load_locked(session, code)
    require_grant(session, secret_key, w, grant)
    return w


def resume_console(db: Database, secret_key: bytes, grant: str) -> WorkshopCode:
    """The join code of the workshop a live console token unlocks (after a page reload).

    `NotAuthorized` for an unknown, ended or expired token.
    """
    with db.read.begin() as session:
        row = _live_console_session(session, secret_key, grant)
        if row is None:
            raise NotAuthorized("no live console session")
        return WorkshopCode(
            session.scalar(select(Workshop.code).where(Workshop.id == row.workshop_id)) or ""
        )


def end_console(db: Database, secret_key: bytes, grant: str) -> None:
    """Lock the console: the token stops working everywhere at once. Idempotent."""
    if not isinstance(grant, str) or not grant:
        return
    with db.write.begin() as session:
        session.execute(
            delete(ConsoleSession).where(
                ConsoleSession.token_hash == _console_token_hash(secret_key, grant)
            )
        )


def check_grant(db: Database, secret_key: bytes, code: WorkshopCode, grant: str) -> None:
    """`NotAuthorized` unless `grant` unlocks this workshop (for read-only organiser pages)."""
    with db.read.begin() as session:
        require_grant(session, secret_key, load_workshop(session, code), grant)


def move_to(
    db: Database,
    secret_key: bytes,
    code: WorkshopCode,
    grant: str,
    target: StagePosition,
) -> WorkshopView:
    """Move the workshop to `target` if the rules allow it (see `domain.check_transition`).

    Closing and revealing are not plain moves: they rewrite the ballot box, so they go
    through `closing.close_voting` and `reveal.reveal`; asking for them here is refused.
    """
    if target.stage.rewrites_box:
        raise StageTransitionRefused(
            f"use ballots.close_voting / ballots.reveal for {target.stage}",
            stage=target.stage.value,
        )
    # Notes waiting in this process's memory for the question being left are written in the
    # move's own transaction; `stage_change` takes the notes lock first (the lock order of
    # every path).
    with stage_change(db) as write_waiting_notes, db.write.begin() as session:
        w = load_workshop(session, code)
        require_grant(session, secret_key, w, grant)
        check_transition(StagePosition(w.stage, w.current_question), target, len(w.questions))
        w.stage = target.stage
        if (question := target.question_on_screen) is not None:
            w.current_question = question
        w.stage_changed_at = minute_now()
        session.flush()
        # Moving on shows the waiting notes of the question just left, for good (they are
        # anonymous among the whole question by now).
        write_waiting_notes(session, w)
        return view_of(w)
