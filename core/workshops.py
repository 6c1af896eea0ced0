"""Workshop services: create from a template, read. (The console: core.console_access;
moving through the stages: core.console.)

Each function takes simple values plus the `Database`, owns its transaction, and raises named
domain errors. Nothing here records who did what or when beyond the stage changes.
"""

from __future__ import annotations

import secrets as pysecrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from core.bilingual import Bilingual
from core.crypto import human_codes, key_wrap, passphrases, sealed_box
from core.db import Database
from core.domain import (
    Stage,
    StagePosition,
    WorkshopCode,
)
from core.errors import BeiduiError
from core.instance import Admin
from core.limits import (
    MAX_ANONYMITY_K,
    MAX_BALLOT_SIZE,
    MAX_NAME_LENGTH,
    MIN_ANONYMITY_K,
)
from core.models import Method, Question, Role, Workshop, WorkshopSecrets
from core.templates import Template
from core.text import normalize_text


class WorkshopNotFound(BeiduiError, key="errors.workshop_not_found"): ...


class InvalidSetting(BeiduiError, key="errors.invalid_setting"): ...


class NotAuthorized(BeiduiError, key="errors.not_authorized"): ...


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
    admin: Admin,
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

    Only an `Admin` may create one (core/instance.py: the admin password, or trusted code).

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
    db = admin.db
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
