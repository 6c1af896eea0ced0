"""core.reveal_policy: a live tally holds back the newest k ballots and comes only k at a
time, so no two publications (live, at close, final) differ by fewer than k ballots."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.breakdown import ThresholdTooSmall
from core.reveal_policy import RevealReason, decide_reveal


def test_nothing_is_published_before_two_k_ballots() -> None:
    decision = decide_reveal(None, 9, k=5)
    assert not decision.should_publish
    assert decision.reason is RevealReason.WAITING
    assert decision.ballots_until_next == 1
    assert decision.message.key == "tally.reveal.waiting"


def test_a_tally_counts_all_but_the_newest_k_and_k_more_than_the_last_one() -> None:
    first = decide_reveal(None, 10, k=5)
    assert first.should_publish and first.ballots_to_publish == 5
    later = decide_reveal(10, 20, k=5)
    assert later.reason is RevealReason.BATCH_COMPLETE and later.ballots_to_publish == 15
    assert not decide_reveal(10, 19, k=5).should_publish


def test_closing_never_publishes_a_remainder_below_k() -> None:
    # Issue 10: the close used to publish 1 new ballot, i.e. the last voter's ranking.
    decision = decide_reveal(10, 16, k=5, is_voting_closed=True)
    assert not decision.should_publish and decision.reason is RevealReason.HELD_FOR_REVEAL
    assert decision.ballots_held == 6
    assert decision.message.key == "tally.reveal.held_for_reveal"


def test_closing_before_anything_was_published_holds_everything_for_the_reveal() -> None:
    decision = decide_reveal(None, 2, k=5, is_voting_closed=True)
    assert not decision.should_publish and decision.ballots_held == 2


def test_a_shrinking_count_is_a_bug() -> None:
    with pytest.raises(ValueError):
        decide_reveal(10, 9, k=5)


def test_a_threshold_below_three_is_rejected() -> None:
    with pytest.raises(ThresholdTooSmall):
        decide_reveal(None, 10, k=2)


@given(st.integers(3, 20), st.lists(st.integers(0, 7), max_size=60), st.booleans())
def test_no_two_publications_nor_the_final_tally_are_fewer_than_k_ballots_apart(
    k: int, arrivals: list[int], close_early: bool
) -> None:
    published: list[int] = []
    count = 0
    for i, arriving in enumerate(arrivals):
        count += arriving
        closed = close_early and i == len(arrivals) - 1
        decision = decide_reveal(
            published[-1] if published else None, count, k=k, is_voting_closed=closed
        )
        if decision.should_publish:
            published.append(decision.ballots_to_publish)
    final = count  # the reveal counts every ballot
    every = [0, *published, final] if published else [0, final]
    steps = [b - a for a, b in itertools.pairwise(every)]
    assert all(step >= k for step in steps[1:])  # from the first publication on
    assert not published or published[0] >= k
