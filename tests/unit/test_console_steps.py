"""The console's one "next" button walks the whole workshop, and says which steps are final."""

from __future__ import annotations

from core.console import is_reversible, next_step
from core.domain import Stage, StagePosition, check_transition


def test_next_walks_every_question_then_voting_closing_and_the_reveal() -> None:
    here: StagePosition | None = StagePosition(Stage.DRAFT)
    walked = []
    while here is not None:
        walked.append(here)
        following = next_step(here, 3)
        if following is not None:
            check_transition(here, following, 3)  # every step is one the rules allow
        here = following
    assert walked == [
        StagePosition(Stage.DRAFT),
        StagePosition(Stage.QUESTIONS, 0),
        StagePosition(Stage.QUESTIONS, 1),
        StagePosition(Stage.QUESTIONS, 2),
        StagePosition(Stage.VOTING),
        StagePosition(Stage.CLOSED),
        StagePosition(Stage.REVEALED),
    ]


def test_a_workshop_without_questions_goes_from_draft_to_voting() -> None:
    assert next_step(StagePosition(Stage.DRAFT), 0) == StagePosition(Stage.VOTING)


def test_only_moves_between_questions_can_be_taken_back() -> None:
    assert is_reversible(StagePosition(Stage.QUESTIONS, 2))
    for final in (Stage.VOTING, Stage.CLOSED, Stage.REVEALED):
        assert not is_reversible(StagePosition(final))
