"""The facilitator's one "next" step: which move comes next, and making it.

The console offers a single obvious button for the most frequent live action. This module
decides what that button does (`next_step`), whether the step can be taken back
(`is_reversible`), and makes it (`advance_stage`), so the page calls one service whatever the
stage: a plain move, closing the box (`ballots.close_voting`) or the reveal
(`ballots.reveal`, which needs the passphrase and counts wrong ones against the client).

`advance_stage` takes the position the facilitator's screen showed: a stale screen, or a
second console that already moved the room on, is refused (`RoomMovedOn`) instead of
skipping a question.
"""

from __future__ import annotations

from typing import ClassVar

from core import ballots
from core.crypto.passphrases import WrongPassphrase
from core.db import Database
from core.domain import Stage, StagePosition, WorkshopCode
from core.errors import BeiduiError
from core.workshops import PASSPHRASE_LIMITER, WorkshopView, get_workshop, move_to


class RoomMovedOn(BeiduiError):
    """The workshop is no longer where the facilitator's screen showed it."""

    key: ClassVar[str] = "errors.room_moved_on"


def next_step(current: StagePosition, n_questions: int) -> StagePosition | None:
    """The step "next" takes from `current`; None once the results are revealed."""
    match current.stage:
        case Stage.DRAFT:
            return StagePosition(Stage.QUESTIONS, 0) if n_questions else StagePosition(Stage.VOTING)
        case Stage.QUESTIONS:
            if current.question + 1 < n_questions:
                return StagePosition(Stage.QUESTIONS, current.question + 1)
            return StagePosition(Stage.VOTING)
        case Stage.VOTING:
            return StagePosition(Stage.CLOSED)
        case Stage.CLOSED:
            return StagePosition(Stage.REVEALED)
        case _:
            return None


def is_reversible(target: StagePosition) -> bool:
    """Only moves between questions can be taken back; the rest needs a confirmation."""
    return target.stage == Stage.QUESTIONS


def advance_stage(
    db: Database,
    secret_key: bytes,
    code: WorkshopCode,
    grant: str,
    seen: StagePosition,
    target: StagePosition,
    *,
    passphrase: str = "",
    client_key: str = "",
) -> WorkshopView:
    """Move the room from `seen` (what the console showed) to `target`.

    Closing and the reveal go through their own services; a wrong passphrase at the reveal
    counts against `client_key` (never stored) like a wrong one at the console's door.
    """
    now = get_workshop(db, code)
    if now.position != seen:
        raise RoomMovedOn("stale console", stage=now.stage.value)
    if target.stage == Stage.CLOSED:
        return ballots.close_voting(db, secret_key, now.code, grant)
    if target.stage == Stage.REVEALED:
        PASSPHRASE_LIMITER.check(now.code, client_key)
        try:
            return ballots.reveal(db, secret_key, now.code, grant, passphrase)
        except WrongPassphrase:
            PASSPHRASE_LIMITER.record_failure(now.code, client_key)
            raise
    return move_to(db, secret_key, now.code, grant, target)
