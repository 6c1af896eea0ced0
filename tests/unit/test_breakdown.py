"""core.breakdown: per-role results that never reveal a role below the threshold k."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.breakdown import ThresholdTooSmall, breakdown, choose_groups, guard_count
from core.limits import MIN_ANONYMITY_K

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
    assert caught.value.message.params == {"k": 2, "minimum": MIN_ANONYMITY_K}
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


# --- issue 11: merge only what differencing requires, and say why --------------------------


def test_a_role_with_k_ballots_is_merged_only_when_the_small_roles_alone_are_below_k() -> None:
    # The room: 6 mentors vanished because 3 co-funders were left over. With 2
    # more ballots that gave no role, the small ones alone reach k: nobody is hidden.
    offered = ["funder", "staff", "mentor", "co_funder", "board"]
    plan = choose_groups(
        {"funder": 20, "staff": 12, "mentor": 6, "co_funder": 3}, k=5, offered=offered
    )
    assert plan.shown == ("funder", "staff")
    assert plan.merged_against_subtraction == ("mentor",)
    assert plan.too_small == ("board", "co_funder")
    assert plan.is_other_shown and plan.other_count == 9
    plan = choose_groups(
        {"funder": 20, "staff": 12, "mentor": 6, "co_funder": 3, None: 2}, k=5, offered=offered
    )
    assert plan.shown == ("funder", "mentor", "staff")
    assert plan.merged_against_subtraction == ()
    assert plan.group_of("mentor") == "mentor" and plan.group_of("co_funder") is None


@given(
    st.dictionaries(
        st.sampled_from(["p", "q", "r", "s", None]), st.integers(min_value=0, max_value=12)
    ),
    st.integers(min_value=3, max_value=6),
)
def test_the_plan_merges_the_fewest_roles_that_resist_differencing(
    counts: dict[str | None, int], k: int
) -> None:
    plan = choose_groups(counts, k=k, offered=["p", "q", "r", "s"])
    big = {r for r, n in counts.items() if r is not None and n >= k}
    small_total = sum(n for r, n in counts.items() if r not in big)
    assert all(counts[r] >= k for r in plan.shown)
    assert set(plan.shown) | set(plan.merged_against_subtraction) == big
    # A role with k ballots is merged only when the small ones alone are 1..k-1, and then
    # exactly one (the smallest) is.
    if 0 < small_total < k and big:
        assert len(plan.merged_against_subtraction) == 1
        merged = plan.merged_against_subtraction[0]
        assert counts[merged] == min(counts[r] for r in big)
    else:
        assert plan.merged_against_subtraction == ()
    complement = sum(counts.values()) - sum(counts[r] for r in plan.shown)
    assert not plan.shown or complement == 0 or complement >= k
    assert set(plan.too_small) <= {"p", "q", "r", "s"}
