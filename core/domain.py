"""The workshop's domain: stages, their allowed transitions, and plain value types.

No storage and no user interface here: pure rules that services and tests share.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.errors import BeiduiError

WorkshopCode = str
MethodId = str
"""A candidate being ranked (an enablement method of the workshop template)."""
RoleId = str

MIN_ANONYMITY_K = 3
MAX_BALLOT_SIZE = 10


class Stage(StrEnum):
    """Where a workshop is in its day; it only ever moves forward (questions among themselves)."""

    DRAFT = "draft"
    """Being prepared: participants who join see a waiting page."""
    QUESTIONS = "questions"
    """The room discusses the evaluation questions, one at a time; notes are open."""
    VOTING = "voting"
    """The project team turns its back; cards can be spent on ranked ballots."""
    CLOSED = "closed"
    """Voting has ended; ballots stay sealed until the facilitator reveals them."""
    REVEALED = "revealed"
    """The box has been opened and the ranked result is public."""


STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)


class StageTransitionRefused(BeiduiError):
    key = "errors.stage_transition"


class VotingNotOpen(BeiduiError):
    key = "errors.voting_not_open"


@dataclass(frozen=True)
class StagePosition:
    """A stage plus, during QUESTIONS, which question (0-based) is on the screen."""

    stage: Stage
    question: int = 0


def check_transition(
    current: StagePosition, target: StagePosition, n_questions: int
) -> StagePosition:
    """Validate a move; returns the target or raises `StageTransitionRefused`.

    Forward only, one phase at a time past the questions (so voting is never skipped into
    a reveal, and nothing goes back from revealed to voting). Inside QUESTIONS the facilitator
    may move to any question, since discussions do come back to an earlier one.
    """
    if target.stage == Stage.QUESTIONS and not 0 <= target.question < max(n_questions, 1):
        raise StageTransitionRefused(
            f"question {target.question} out of range", stage=target.stage.value
        )
    cur_i = STAGE_ORDER.index(current.stage)
    tgt_i = STAGE_ORDER.index(target.stage)
    if current.stage == target.stage == Stage.QUESTIONS:
        if current.question == target.question:
            raise StageTransitionRefused("already there", stage=target.stage.value)
        return target
    if tgt_i <= cur_i:
        raise StageTransitionRefused(
            f"{current.stage} -> {target.stage} goes backwards", stage=target.stage.value
        )
    if target.stage == Stage.QUESTIONS and n_questions == 0:
        raise StageTransitionRefused("no questions", stage=target.stage.value)
    # Draft may skip the questions straight to voting; after voting, one step at a time.
    allowed_jump = current.stage == Stage.DRAFT and target.stage == Stage.VOTING
    if tgt_i != cur_i + 1 and not allowed_jump:
        raise StageTransitionRefused(
            f"{current.stage} -> {target.stage} skips a stage", stage=target.stage.value
        )
    return target


def next_positions(current: StagePosition, n_questions: int) -> list[StagePosition]:
    """The moves a facilitator can make from here, in the order the console offers them."""
    out: list[StagePosition] = []
    candidates = [StagePosition(Stage.QUESTIONS, q) for q in range(n_questions)]
    candidates += [StagePosition(s) for s in STAGE_ORDER if s != Stage.QUESTIONS]
    for target in candidates:
        try:
            check_transition(current, target, n_questions)
        except StageTransitionRefused:
            continue
        out.append(target)
    return out
