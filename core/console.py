"""Every move of the room, the close and the reveal included, through one service.

The console offers a single obvious button for the most frequent live action. Which move
that button makes and whether it can be taken back are rules of the stages
(`StagePosition.next_step`, `StagePosition.is_reversible` in core.domain); this module makes
every move (`advance_stage`), so the page calls one service whatever the stage: a plain move,
closing the box (`closing.close_voting`) or the reveal (`reveal.reveal`, which needs the
passphrase and counts wrong ones against the client).

`advance_stage` takes the position the facilitator's screen showed: a stale screen, or a
second console that already moved the room on, is refused (`RoomMovedOn`) instead of
skipping a question.
"""

from __future__ import annotations

from typing import ClassVar

from core.closing import close_voting
from core.crypto.passphrases import WrongPassphrase
from core.db import Database
from core.domain import Stage, StagePosition, WorkshopCode
from core.errors import BeiduiError
from core.reveal import reveal
from core.workshops import PASSPHRASE_LIMITER, WorkshopView, get_workshop, move_to


class RoomMovedOn(BeiduiError):
    """The workshop is no longer where the facilitator's screen showed it."""

    key: ClassVar[str] = "errors.room_moved_on"


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
    # One case per stage, so a new stage has to say here how the room gets there.
    match target.stage:
        case Stage.DRAFT | Stage.QUESTIONS | Stage.VOTING:
            return move_to(db, secret_key, now.code, grant, target)
        case Stage.CLOSED:
            return close_voting(db, secret_key, now.code, grant)
        case Stage.REVEALED:
            PASSPHRASE_LIMITER.check(now.code, client_key)
            try:
                return reveal(db, secret_key, now.code, grant, passphrase)
            except WrongPassphrase:
                PASSPHRASE_LIMITER.record_failure(now.code, client_key)
                raise
