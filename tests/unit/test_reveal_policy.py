"""core.reveal_policy: a new live tally only every k ballots, or when voting closes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.breakdown import ThresholdTooSmall
from core.reveal_policy import RevealReason, decide_reveal


def test_nothing_is_published_before_the_first_k_ballots() -> None:
    decision = decide_reveal(None, 4, k=5)
    assert not decision.should_publish
    assert decision.reason is RevealReason.WAITING
    assert decision.ballots_until_next == 1
    assert decision.message.key == "tally.reveal.waiting"


def test_a_batch_of_k_new_ballots_is_published() -> None:
    assert decide_reveal(None, 5, k=5).should_publish
    assert decide_reveal(10, 15, k=5).reason is RevealReason.BATCH_COMPLETE
    assert not decide_reveal(10, 14, k=5).should_publish


def test_closing_publishes_whatever_is_new_even_below_k() -> None:
    decision = decide_reveal(10, 11, k=5, is_voting_closed=True)
    assert decision.should_publish and decision.reason is RevealReason.VOTING_CLOSED


def test_closing_with_nothing_new_keeps_the_published_result() -> None:
    decision = decide_reveal(10, 10, k=5, is_voting_closed=True)
    assert not decision.should_publish and decision.reason is RevealReason.UP_TO_DATE


def test_closing_before_anything_was_published_publishes() -> None:
    assert decide_reveal(None, 2, k=5, is_voting_closed=True).should_publish


def test_a_shrinking_count_is_a_bug() -> None:
    with pytest.raises(ValueError):
        decide_reveal(10, 9, k=5)


def test_a_threshold_below_three_is_rejected() -> None:
    with pytest.raises(ThresholdTooSmall):
        decide_reveal(None, 10, k=2)


@given(st.integers(3, 20), st.lists(st.integers(0, 7), max_size=60))
def test_while_open_consecutive_publications_are_always_at_least_k_ballots_apart(
    k: int, arrivals: list[int]
) -> None:
    published: list[int] = []
    count = 0
    for arriving in arrivals:
        count += arriving
        if decide_reveal(published[-1] if published else None, count, k=k).should_publish:
            published.append(count)
    steps = [b - a for a, b in zip([0, *published], published, strict=False)]
    assert all(step >= k for step in steps)
