"""Stage rules: forward only, no voting before it opens, nothing back from revealed; what each
stage allows, and the one "next" step the console offers."""

from __future__ import annotations

import pytest

from core.domain import (
    Stage,
    StagePosition,
    StageTransitionRefused,
    check_transition,
    next_positions,
)

Q = Stage.QUESTIONS


def pos(stage: Stage, q: int = 0) -> StagePosition:
    return StagePosition(stage, q)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (pos(Stage.DRAFT), pos(Q, 0)),
        (pos(Stage.DRAFT), pos(Stage.VOTING)),
        (pos(Q, 0), pos(Q, 3)),
        (pos(Q, 3), pos(Q, 1)),
        (pos(Q, 2), pos(Stage.VOTING)),
        (pos(Stage.VOTING), pos(Stage.CLOSED)),
        (pos(Stage.CLOSED), pos(Stage.REVEALED)),
    ],
)
def test_allowed_moves_go_forward(current: StagePosition, target: StagePosition) -> None:
    assert check_transition(current, target, 4) == target


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (pos(Stage.REVEALED), pos(Stage.VOTING)),
        (pos(Stage.CLOSED), pos(Stage.VOTING)),
        (pos(Stage.VOTING), pos(Q, 0)),
        (pos(Stage.DRAFT), pos(Stage.CLOSED)),
        (pos(Stage.DRAFT), pos(Stage.REVEALED)),
        (pos(Stage.VOTING), pos(Stage.REVEALED)),
        (pos(Q, 1), pos(Q, 1)),
        (pos(Q, 1), pos(Q, 4)),
        (pos(Stage.DRAFT), pos(Stage.DRAFT)),
    ],
)
def test_backward_skipping_or_out_of_range_moves_are_refused(
    current: StagePosition, target: StagePosition
) -> None:
    with pytest.raises(StageTransitionRefused):
        check_transition(current, target, 4)


def test_the_console_offers_exactly_the_allowed_moves() -> None:
    assert next_positions(pos(Stage.REVEALED), 4) == []
    assert next_positions(pos(Stage.VOTING), 4) == [pos(Stage.CLOSED)]
    assert next_positions(pos(Q, 1), 4) == [pos(Q, 0), pos(Q, 2), pos(Q, 3), pos(Stage.VOTING)]
    assert next_positions(pos(Stage.DRAFT), 4)[-1] == pos(Stage.VOTING)


# --- what each stage allows ---------------------------------------------------------------
# Written out member by member: a new stage must be placed in every rule, and a rule that
# quietly widens (say, notes during voting) fails here.
D, V, C, R = Stage.DRAFT, Stage.VOTING, Stage.CLOSED, Stage.REVEALED
RULES: dict[str, set[Stage]] = {
    "is_editable": {D, Q},
    "are_questions_editable": {D},
    "accepts_notes": {Q},
    "accepts_ballots": {V},
    "has_voting_ended": {C, R},
    "awaits_reveal": {C},
    "shows_live_results": {V, C},
    "shows_results": {R},
    "is_final": {R},
    "rewrites_box": {C, R},
    "needs_passphrase": {R},
    "is_revisitable": {Q},
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_stage_rule_holds_for_exactly_its_stages(rule: str) -> None:
    assert {s for s in Stage if getattr(s, rule)} == RULES[rule]


def test_every_stage_is_placed_in_every_rule_and_no_rule_goes_untested() -> None:
    rules = {name for name, v in vars(Stage).items() if isinstance(v, property)}
    assert rules == set(RULES)


def test_no_stage_takes_both_notes_and_ballots_nor_ballots_after_voting_ended() -> None:
    for s in Stage:
        assert not (s.accepts_notes and s.accepts_ballots)
        assert not (s.accepts_ballots and s.has_voting_ended)
        assert not (s.is_editable and s.has_voting_ended)
        assert not (s.shows_results and not s.has_voting_ended)


def test_the_stage_is_stored_and_compared_as_its_plain_value() -> None:
    # The database column holds these strings (migration 0001): renaming one loses workshops.
    assert [s.value for s in Stage] == ["draft", "questions", "voting", "closed", "revealed"]


def test_only_the_questions_have_a_question_on_the_screen() -> None:
    assert pos(Q, 2).question_on_screen == 2
    for s in (D, V, C, R):
        assert pos(s, 2).question_on_screen is None


# --- the console's one "next" step ------------------------------------------------------


def test_next_walks_every_question_then_voting_closing_and_the_reveal() -> None:
    here: StagePosition | None = pos(D)
    walked = []
    while here is not None:
        walked.append(here)
        following = here.next_step(3)
        if following is not None:
            check_transition(here, following, 3)  # every step is one the rules allow
        here = following
    assert walked == [pos(D), pos(Q, 0), pos(Q, 1), pos(Q, 2), pos(V), pos(C), pos(R)]


def test_a_workshop_without_questions_goes_from_draft_to_voting() -> None:
    assert pos(D).next_step(0) == pos(V)


@pytest.mark.parametrize("stage", list(Stage))
def test_only_the_final_stage_has_no_next_step(stage: Stage) -> None:
    assert (pos(stage).next_step(4) is None) == stage.is_final


def test_only_moves_between_questions_can_be_taken_back() -> None:
    assert pos(Q, 2).is_reversible
    for final in (D, V, C, R):
        assert not pos(final).is_reversible
