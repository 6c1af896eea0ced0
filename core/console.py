"""Every move of the room, the close and the reveal included, through one service.

The console offers a single obvious button for the most frequent live action. Which move
that button makes and whether it can be taken back are rules of the stages
(`StagePosition.next_step`, `StagePosition.is_reversible` in core.domain); this module makes
every move (`advance_stage`), so the page calls one service whatever the stage: a plain
move (`move_to`), closing the box (`closing.close_voting`) or the reveal (`reveal.reveal`,
which needs the passphrase and counts wrong ones against the client).

`advance_stage` takes the position the facilitator's screen showed: a stale screen, or a
second console that already moved the room on, is refused (`RoomMovedOn`) instead of
skipping a question.
"""

from __future__ import annotations

from core.closing import close_voting
from core.console_access import PASSPHRASE_LIMITER, Console
from core.crypto.passphrases import WrongPassphrase
from core.domain import Stage, StagePosition, StageTransitionRefused, check_transition
from core.errors import BeiduiError
from core.note_batches import stage_change
from core.reveal import reveal
from core.workshops import WorkshopView, get_workshop, minute_now, view_of


class RoomMovedOn(BeiduiError, key="errors.room_moved_on"):
    """The workshop is no longer where the facilitator's screen showed it."""


def move_to(console: Console, target: StagePosition) -> WorkshopView:
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
    with stage_change(console.db) as write_waiting_notes, console.db.write.begin() as session:
        w = console.workshop(session)
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


def advance_stage(
    console: Console,
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
    now = get_workshop(console.db, console.code)
    if now.position != seen:
        raise RoomMovedOn("stale console", stage=now.stage.value)
    # One case per stage, so a new stage has to say here how the room gets there.
    match target.stage:
        case Stage.DRAFT | Stage.QUESTIONS | Stage.VOTING:
            return move_to(console, target)
        case Stage.CLOSED:
            return close_voting(console)
        case Stage.REVEALED:
            PASSPHRASE_LIMITER.check(now.code, client_key)
            try:
                return reveal(console, passphrase)
            except WrongPassphrase:
                PASSPHRASE_LIMITER.record_failure(now.code, client_key)
                raise
