"""A workshop's ballot box as the ballot steps see it: the per-workshop facts read once
(`Box`) and the stage rules every step shares.

Never returns anything that links a card to a ballot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.ballot_values import VotingClosed, ballot_aad, join_code
from core.db import Database
from core.domain import Stage, StagePosition, VotingNotOpen, WorkshopCode
from core.models import SEALED_BALLOTS, WORKSHOP_SECRETS, WORKSHOPS, Method, Role, Workshop

# The workshop loader is the workshops module's own; reusing it keeps one definition of
# "a workshop as a page sees it".
from core.workshops import WorkshopNotFound

_W = WORKSHOPS.c
_S = WORKSHOP_SECRETS.c


@dataclass(frozen=True)
class Box:
    """What casting needs of a workshop, read once (it cannot change once voting starts)."""

    workshop_id: int
    code: WorkshopCode
    public_key: bytes
    card_salt: bytes
    method_keys: frozenset[str]
    role_keys: frozenset[str]
    ballot_size: int
    is_open_mode: bool
    anonymity_k: int
    aad: bytes


# What every ballot step reads of a workshop; `workshop_row` adds what one step needs more.
_BALLOT_FACTS: Final = (_W.id, _W.code, _W.stage, _W.ballot_size, _W.anonymity_k)


def workshop_row(
    session: Session, code: WorkshopCode, *more_columns: Any, is_typed: bool = False
) -> Any:
    """The id, code, stage, ballot size and k of the workshop `code`, then `more_columns` (of
    `WORKSHOPS`, or of `WORKSHOP_SECRETS`); `WorkshopNotFound` if there is none. `is_typed`:
    `code` is text as typed, folded to the join code first (`MalformedJoinCode` if it cannot
    be one)."""
    query = select(*_BALLOT_FACTS, *more_columns)
    if any(c.table is WORKSHOP_SECRETS for c in more_columns):
        query = query.join_from(WORKSHOPS, WORKSHOP_SECRETS, _S.workshop_id == _W.id)
    stored = join_code(code) if is_typed else code
    row = session.execute(query.where(_W.code == stored)).one_or_none()
    if row is None:
        raise WorkshopNotFound(f"no workshop {code!r}", code=code)
    return row


def workshop_id_of(session: Session, code: WorkshopCode) -> int | None:
    """The id of the workshop `code`, or None if there is none. `code` is text as typed,
    folded to the join code first (`MalformedJoinCode` if it cannot be one)."""
    wid: int | None = session.scalar(select(_W.id).where(_W.code == join_code(code)))
    return wid


def sealed_ballots(session: Session, workshop_id: int) -> list[bytes]:
    """The sealed ballots in the workshop's box, in storage order (shuffle before use)."""
    query = select(SEALED_BALLOTS.c.sealed).where(SEALED_BALLOTS.c.workshop_id == workshop_id)
    return [bytes(b) for b in session.scalars(query)]


def read_box(db: Database, code: WorkshopCode) -> tuple[Box, Stage]:
    """The box of the workshop `code` and its current stage (`WorkshopNotFound`)."""
    with db.read.begin() as session:
        row = workshop_row(session, code, _W.is_open_mode, _S.box_public_key, _S.card_salt)
        methods = session.scalars(select(Method.key).where(Method.workshop_id == row.id)).all()
        roles = session.scalars(select(Role.key).where(Role.workshop_id == row.id)).all()
    box = Box(
        workshop_id=row.id,
        code=row.code,
        public_key=bytes(row.box_public_key),
        card_salt=bytes(row.card_salt),
        method_keys=frozenset(methods),
        role_keys=frozenset(roles),
        ballot_size=row.ballot_size,
        is_open_mode=bool(row.is_open_mode),
        anonymity_k=int(row.anonymity_k),
        aad=ballot_aad(row.id, row.code),
    )
    return box, row.stage


def raise_unless_voting(stage: Stage) -> None:
    """`VotingNotOpen` before voting, `VotingClosed` after it."""
    if stage.is_editable:
        raise VotingNotOpen("voting has not started", stage=stage.value)
    if stage.has_voting_ended:
        raise VotingClosed("voting has ended", stage=stage.value)


def stage_position(w: Workshop) -> StagePosition:
    """Where the workshop is now, for `check_transition`."""
    return StagePosition(w.stage, w.current_question)
