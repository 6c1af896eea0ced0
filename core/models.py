"""The ORM schema (SQLAlchemy 2.0 typed declarative). Alembic migrations mirror it.

Anonymity rules every table here keeps:
- no table stores a person, a session, a device, an IP address or a time finer than a
  workshop's stage change;
- rows that come from participants (sealed ballots, opened ballots, notes) are keyed by a
  random id and, on SQLite, stored WITHOUT ROWID, so neither their keys nor the order a plain
  `SELECT` returns them in follow the order they were written;
- cards are stored only as keyed digests, and nothing links a card to a ballot.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import (
    Composite,
    DeclarativeBase,
    Mapped,
    MappedColumn,
    composite,
    mapped_column,
    relationship,
    validates,
)

from core.bilingual import Bilingual
from core.domain import Stage


def random_id() -> str:
    """A 128-bit random key: says nothing about when or by whom a row was written."""
    return secrets.token_hex(16)


def _cascade_key(parent: str, **options: Any) -> MappedColumn[int]:
    """The id of the `parent` row this row belongs to; the row goes when its parent goes."""
    return mapped_column(ForeignKey(f"{parent}.id", ondelete="CASCADE"), **options)


class StageColumn(TypeDecorator[Stage]):
    """A `Stage` stored as its value in the same VARCHAR(20) column as always.

    Not `sqlalchemy.Enum`: that one adds a CHECK constraint or a native type on some
    backends, and the schema (and the migrations that build it) must not change. A value
    that is not a stage fails on the way in and on the way out, never silently.
    """

    impl = String(20)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else Stage(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> Stage | None:
        return None if value is None else Stage(value)


class Base(DeclarativeBase):
    pass


def bilingual_columns(name: str, kind: Text | String, **options: Any) -> Composite[Bilingual]:
    """One `Bilingual` attribute over the two columns `<name>_zh` and `<name>_en`.

    The columns stay as migration 0001 made them (no data moves); only the mapping pairs them.
    """
    return composite(
        Bilingual,
        mapped_column(f"{name}_zh", kind, nullable=False, **options),
        mapped_column(f"{name}_en", kind, nullable=False, **options),
    )


class Workshop(Base):
    __tablename__ = "workshops"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    template_key: Mapped[str] = mapped_column(String(64))
    stage: Mapped[Stage] = mapped_column(StageColumn(), default=Stage.DRAFT)
    current_question: Mapped[int] = mapped_column(Integer, default=0)
    ballot_size: Mapped[int] = mapped_column(Integer, default=5)
    anonymity_k: Mapped[int] = mapped_column(Integer, default=5)
    is_open_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    is_live_results: Mapped[bool] = mapped_column(Boolean, default=False)
    # Stage-level times only: they say when the room moved on, never when anyone acted.
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stage_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    questions: Mapped[list[Question]] = relationship(
        back_populates="workshop", order_by="Question.position", cascade="all, delete-orphan"
    )
    methods: Mapped[list[Method]] = relationship(
        back_populates="workshop", order_by="Method.position", cascade="all, delete-orphan"
    )
    roles: Mapped[list[Role]] = relationship(
        back_populates="workshop", order_by="Role.position", cascade="all, delete-orphan"
    )
    secrets: Mapped[WorkshopSecrets | None] = relationship(
        back_populates="workshop", cascade="all, delete-orphan"
    )

    @validates("stage")
    def _is_a_stage(self, _key: str, value: Stage | str) -> Stage:
        # Read back in the same transaction, the attribute is what was assigned: keep it a
        # `Stage` (its rules are asked of it), and refuse a misspelt stage at the assignment.
        return Stage(value)


class WorkshopSecrets(Base):
    """Key material of one workshop: the passphrase check and the ballot box keys."""

    __tablename__ = "workshop_secrets"

    workshop_id: Mapped[int] = _cascade_key("workshops", primary_key=True)
    passphrase_hash: Mapped[str] = mapped_column(String(300))
    card_salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    box_public_key: Mapped[bytes] = mapped_column(LargeBinary(64))
    # The box's private key, encrypted under a key derived from the facilitator's passphrase.
    box_private_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary(512))
    # Only for workshops that show live results, after the facilitator unlocked the box:
    # the private key wrapped under the instance secret, so every server process can count.
    box_private_key_live: Mapped[bytes | None] = mapped_column(LargeBinary(512))

    workshop: Mapped[Workshop] = relationship(back_populates="secrets")


class ConsoleSession(Base):
    """An unlocked facilitator console: a keyed hash of its random token, and when it ends.

    The organiser's console, never a participant: the row says only that someone who knew
    the passphrase unlocked this workshop and until when. The token itself lives only in the
    facilitator's browser; the hash (HMAC under the instance secret) cannot be turned back
    into it, so someone holding the database and the instance secret still cannot act.
    """

    __tablename__ = "console_sessions"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    workshop_id: Mapped[int] = _cascade_key("workshops", index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Question(Base):
    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("workshop_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = _cascade_key("workshops")
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[Bilingual] = bilingual_columns("text", Text())

    workshop: Mapped[Workshop] = relationship(back_populates="questions")


class _KeyedOption:
    """The columns a method and a role share: one of a workshop's ballot options, with its
    key (unique in the workshop) and its place in the workshop's order.

    `sort_order` keeps them first, as migration 0001 made the tables (a mixin's columns
    would otherwise follow the class's own)."""

    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-1)
    workshop_id: Mapped[int] = _cascade_key("workshops", sort_order=-1)
    key: Mapped[str] = mapped_column(String(64), sort_order=-1)
    position: Mapped[int] = mapped_column(Integer, sort_order=-1)


class Method(_KeyedOption, Base):
    """A candidate enablement method on the ballot."""

    __tablename__ = "methods"
    __table_args__ = (UniqueConstraint("workshop_id", "key"),)

    label: Mapped[Bilingual] = bilingual_columns("label", String(200))
    description: Mapped[Bilingual] = bilingual_columns("description", Text(), default="")

    workshop: Mapped[Workshop] = relationship(back_populates="methods")


class Role(_KeyedOption, Base):
    """A participant role people may declare (optional, shown only for groups of ≥ k)."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("workshop_id", "key"),)

    label: Mapped[Bilingual] = bilingual_columns("label", String(200))

    workshop: Mapped[Workshop] = relationship(back_populates="roles")


# --- What participants produce (migration 0002). ---------------------------------------


class _ParticipantRow:
    """A row a participant's phone produced (the module's anonymity rules): keyed by a random
    id, and on SQLite stored WITHOUT ROWID. `sort_order` keeps the id the first column."""

    __table_args__ = {"sqlite_with_rowid": False}

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id, sort_order=-1)


class Card(Base):
    """A single-use voting card, stored only as a keyed digest of its code."""

    __tablename__ = "cards"
    __table_args__ = {"sqlite_with_rowid": False}

    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    workshop_id: Mapped[int] = _cascade_key("workshops", index=True)
    is_spent: Mapped[bool] = mapped_column(Boolean, default=False)
    is_void: Mapped[bool] = mapped_column(Boolean, default=False)


class SealedBallot(_ParticipantRow, Base):
    """A ballot encrypted to the workshop's box key: no voter, card, session or time."""

    __tablename__ = "sealed_ballots"
    workshop_id: Mapped[int] = _cascade_key("workshops", index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary(1024))
    receipt: Mapped[str] = mapped_column(String(32), index=True)


class OpenedBallot(_ParticipantRow, Base):
    """A decrypted ranking, written at reveal in shuffled order, unlinked to its sealed row."""

    __tablename__ = "opened_ballots"
    workshop_id: Mapped[int] = _cascade_key("workshops", index=True)
    # Method keys, best first, joined by "\n" (keys never contain newlines).
    ranking: Mapped[str] = mapped_column(Text)
    role: Mapped[str | None] = mapped_column(String(64))


class Theme(Base):
    """A named group of notes under one question, made by the facilitator."""

    __tablename__ = "themes"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = _cascade_key("questions", index=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)


class Note(_ParticipantRow, Base):
    """An anonymous note on a question: no author, session or time; random key."""

    __tablename__ = "notes"
    question_id: Mapped[int] = _cascade_key("questions", index=True)
    text: Mapped[str] = mapped_column(Text)
    dots: Mapped[int] = mapped_column(Integer, default=0)
    is_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id", ondelete="SET NULL"))
    # False while the note waits for a batch of k (migration 0003); see core.note_batches.
    is_published: Mapped[bool] = mapped_column(Boolean, default=False)


class SummaryPoint(Base):
    """One of a question's summary points, written by the facilitator."""

    __tablename__ = "summary_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = _cascade_key("questions", index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


class ResultPublication(Base):
    """The tally most recently published for the projector (batched: ≥ k new ballots)."""

    __tablename__ = "result_publications"

    workshop_id: Mapped[int] = _cascade_key("workshops", primary_key=True)
    ballots_counted: Mapped[int] = mapped_column(Integer, default=0)
    # JSON: the opened rankings' aggregate only (never individual ballots).
    tally_json: Mapped[str] = mapped_column(Text)


# Core (non-ORM) handles on the tables, for the hot paths and bulk rewrites (casting, the mix,
# publications, backups) that skip the ORM's per-object work.
WORKSHOPS = cast(Table, Workshop.__table__)
WORKSHOP_SECRETS = cast(Table, WorkshopSecrets.__table__)
CARDS = cast(Table, Card.__table__)
SEALED_BALLOTS = cast(Table, SealedBallot.__table__)
OPENED_BALLOTS = cast(Table, OpenedBallot.__table__)
RESULT_PUBLICATIONS = cast(Table, ResultPublication.__table__)
CONSOLE_SESSIONS = cast(Table, ConsoleSession.__table__)
