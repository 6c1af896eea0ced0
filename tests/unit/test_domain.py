"""Stage rules: forward only, no voting before it opens, nothing back from revealed."""

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
