"""core.breakdown: per-role results that never reveal a role below the threshold k."""

from __future__ import annotations

import pytest

from core.breakdown import MIN_K, ThresholdTooSmall, breakdown, guard_count

METHODS = ["a", "b", "c"]


def ballots_for(role: str | None, n: int, ranking: list[str] | None = None) -> list:
    return [(role, ranking or ["a", "b"]) for _ in range(n)]


def test_small_roles_never_appear_in_breakdowns() -> None:
    votes = (
        ballots_for("funder", 5)
        + ballots_for("grantee", 6)
        + ballots_for("board", 2)
        + ballots_for(None, 3)
    )
    result = breakdown(votes, METHODS, 3, k=5)
    assert result.roles == ("funder", "grantee")
    assert "board" not in repr(result)


def test_a_small_role_cannot_be_derived_by_subtracting_the_shown_groups_from_the_room() -> None:
    # Shown: funder 5 and grantee 6 of 13 would leave board's 2 ballots as total - shown.
    votes = ballots_for("funder", 5) + ballots_for("grantee", 6) + ballots_for("board", 2)
    result = breakdown(votes, METHODS, 3, k=5)
    assert [g.role for g in result.groups] == ["grantee", None]
    assert [g.ballot_count for g in result.groups] == [6, 7]
    assert "board" not in repr(result)


def test_small_roles_and_undeclared_ballots_merge_into_other_when_it_reaches_k() -> None:
    votes = (
        ballots_for("funder", 5)
        + ballots_for("board", 2)
        + ballots_for("staff", 2)
        + ballots_for(None, 1)
    )
    result = breakdown(votes, METHODS, 3, k=5)
    other = result.groups[-1]
    assert other.is_other and other.role is None
    assert other.ballot_count == 5
    assert [g.role for g in result.groups] == ["funder", None]


def test_other_is_withheld_entirely_below_k() -> None:
    votes = ballots_for("board", 2) + ballots_for(None, 2)
    result = breakdown(votes, METHODS, 3, k=5)
    assert result.groups == ()


def test_a_blank_role_counts_as_no_role() -> None:
    votes = ballots_for("", 3) + ballots_for(None, 2)
    result = breakdown(votes, METHODS, 3, k=5)
    assert [g.role for g in result.groups] == [None]


def test_a_threshold_below_three_is_rejected_with_a_named_error() -> None:
    with pytest.raises(ThresholdTooSmall) as caught:
        breakdown(ballots_for("funder", 5), METHODS, 3, k=2)
    assert caught.value.message.key == "tally.errors.threshold_too_small"
    assert caught.value.message.params == {"k": 2, "minimum": MIN_K}
    with pytest.raises(ThresholdTooSmall):
        guard_count(10, k=1)


def test_the_count_guard_shows_a_count_only_from_k_up() -> None:
    assert guard_count(4, k=5) is None
    assert guard_count(0, k=3) is None
    assert guard_count(5, k=5) == 5


def test_roles_are_listed_by_name_never_by_size_or_arrival() -> None:
    votes = ballots_for("zeta", 9) + ballots_for("alpha", 5) + ballots_for("mid", 7)
    assert breakdown(votes, METHODS, 3, k=5).roles == ("alpha", "mid", "zeta")


def test_each_group_is_counted_with_the_rooms_ballot_size() -> None:
    # The funder ballots rank only 1 method, but K stays 3 for everyone: 5 * 3 points.
    votes = ballots_for("funder", 5, ["c"]) + ballots_for("staff", 5, ["a", "b", "c"])
    result = breakdown(votes, METHODS, None, k=5)
    assert result.groups[0].result.scores["c"] == 15
