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

    # The rules every page and service asks a stage, so none of them lists stages itself.
    # (Properties, not sets in the class body: those would become members of the enum.)

    @property
    def is_editable(self) -> bool:
        """Methods, roles, settings and themes may still change: nobody has voted yet."""
        return self in (Stage.DRAFT, Stage.QUESTIONS)

    @property
    def are_questions_editable(self) -> bool:
        """The questions themselves change only before the room has discussed any."""
        return self is Stage.DRAFT

    @property
    def accepts_notes(self) -> bool:
        """Phones may send notes on the question on the screen."""
        return self is Stage.QUESTIONS

    @property
    def accepts_ballots(self) -> bool:
        """Cards may be spent on ballots."""
        return self is Stage.VOTING

    @property
    def has_voting_ended(self) -> bool:
        """No ballot can be cast any more (closed, or already revealed)."""
        return self in (Stage.CLOSED, Stage.REVEALED)

    @property
    def awaits_reveal(self) -> bool:
        """Voting is over and the ballots are sealed until the facilitator reveals them."""
        return self is Stage.CLOSED

    @property
    def shows_live_results(self) -> bool:
        """Live results (if the workshop chose them) may be on show: voting or closed."""
        return self in (Stage.VOTING, Stage.CLOSED)

    @property
    def shows_results(self) -> bool:
        """The final ranked result, receipts and the export are public."""
        return self is Stage.REVEALED

    @property
    def is_final(self) -> bool:
        """Nothing comes after this stage."""
        return self is Stage.REVEALED

    @property
    def rewrites_box(self) -> bool:
        """Moving here rewrites the ballot box (the close or the reveal), not only the stage."""
        return self in (Stage.CLOSED, Stage.REVEALED)

    @property
    def needs_passphrase(self) -> bool:
        """Moving here opens the box, which needs the workshop's passphrase."""
        return self is Stage.REVEALED

    @property
    def is_revisitable(self) -> bool:
        """A move here can be taken back (discussions return to an earlier question)."""
        return self is Stage.QUESTIONS


STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)


class StageTransitionRefused(BeiduiError, key="errors.stage_transition"): ...


class VotingNotOpen(BeiduiError, key="errors.voting_not_open"): ...


@dataclass(frozen=True)
class StagePosition:
    """A stage plus, during QUESTIONS, which question (0-based) is on the screen."""

    stage: Stage
    question: int = 0

    @property
    def question_on_screen(self) -> int | None:
        """The question the room is discussing, or None outside the questions."""
        return self.question if self.stage is Stage.QUESTIONS else None

    @property
    def is_reversible(self) -> bool:
        """Only moves between questions can be taken back; the rest needs a confirmation."""
        return self.stage.is_revisitable

    def next_step(self, n_questions: int) -> StagePosition | None:
        """The step the console's "next" takes from here; None once nothing comes after."""
        match self.stage:
            case Stage.DRAFT:
                return (
                    StagePosition(Stage.QUESTIONS, 0)
                    if n_questions
                    else StagePosition(Stage.VOTING)
                )
            case Stage.QUESTIONS:
                if self.question + 1 < n_questions:
                    return StagePosition(Stage.QUESTIONS, self.question + 1)
                return StagePosition(Stage.VOTING)
            case Stage.VOTING:
                return StagePosition(Stage.CLOSED)
            case Stage.CLOSED:
                return StagePosition(Stage.REVEALED)
            case Stage.REVEALED:
                return None


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
