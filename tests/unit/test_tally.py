"""core.tally: properties, a plain reference implementation, and the workshop's result.

The reference functions below are written to be obviously right, not fast: one loop over
every ballot, no encoding, no NumPy. The fast implementation must agree with them exactly.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.ballot_values import DuplicateMethod, EmptyBallot, TooManyChoices, UnknownMethod
from core.tally.methods.appearances import appearances
from core.tally.methods.instant_runoff import (
    IRV_TIE_RULE_KEY,
    IrvTieBreak,
    instant_runoff_with_explanation,
)
from core.tally.methods.points import points
from core.tally.methods.schulze import schulze, schulze_with_explanation
from core.tally.profile import build_profile
from core.tally.registry import COUNTING_METHODS, tally_all
from core.tally.result import TallyResult

# --- reference implementation -------------------------------------------------------------


def ref_ordering(methods: Sequence[str], scores: dict[str, int]) -> list[tuple[int, list[str]]]:
    ranks: list[tuple[int, list[str]]] = []
    for s in sorted(set(scores.values()), reverse=True):
        group = [m for m in methods if scores[m] == s]
        ranks.append((1 + sum(len(g) for _, g in ranks), group))
    return ranks


def ref_points(ballots: list[list[str]], methods: list[str], k: int) -> dict[str, int]:
    scores = dict.fromkeys(methods, 0)
    for ballot in ballots:
        for r, m in enumerate(ballot, start=1):
            scores[m] += k - r + 1
    return scores


def ref_first(ballots: list[list[str]], methods: list[str], k: int) -> dict[str, int]:
    scores = dict.fromkeys(methods, 0)
    for ballot in ballots:
        scores[ballot[0]] += 1
    return scores


def ref_appearances(ballots: list[list[str]], methods: list[str], k: int) -> dict[str, int]:
    scores = dict.fromkeys(methods, 0)
    for ballot in ballots:
        for m in ballot:
            scores[m] += 1
    return scores


def ref_irv(
    ballots: list[list[str]], methods: list[str], k: int
) -> tuple[list[tuple[int, list[str]]], dict[str, int], list[str]]:
    """Returns ranks, scores, and the tie-break used in each round."""
    pts = ref_points(ballots, methods, k)
    standing = list(methods)
    scores: dict[str, int] = {}
    groups: list[list[str]] = []
    kinds: list[str] = []
    while standing:
        votes = dict.fromkeys(standing, 0)
        for ballot in ballots:
            for m in ballot:
                if m in votes:
                    votes[m] += 1
                    break
        lowest = min(votes.values())
        tied = [m for m in standing if votes[m] == lowest]
        out = tied
        kind = "none"
        if len(tied) > 1:
            fewest = min(pts[m] for m in tied)
            out = [m for m in tied if pts[m] == fewest]
            kind = "points" if len(out) == 1 else "together"
        for m in out:
            scores[m] = votes[m]
            standing.remove(m)
        groups.append(out)
        kinds.append(kind)
    ranks: list[tuple[int, list[str]]] = []
    for group in reversed(groups):
        ranks.append((1 + sum(len(g) for _, g in ranks), group))
    return ranks, scores, kinds


def ref_pairwise(ballots: list[list[str]], methods: list[str]) -> dict[tuple[str, str], int]:
    prefer = {(a, b): 0 for a in methods for b in methods}
    for ballot in ballots:
        for a in methods:
            for b in methods:
                if a in ballot and (b not in ballot or ballot.index(a) < ballot.index(b)):
                    prefer[a, b] += 1
    return prefer


def ref_schulze(
    ballots: list[list[str]], methods: list[str]
) -> tuple[list[tuple[int, list[str]]], dict[str, int]]:
    d = ref_pairwise(ballots, methods)
    p = {}
    for a in methods:
        for b in methods:
            margin = d[a, b] - d[b, a]
            p[a, b] = margin if a != b and margin > 0 else 0
    for via in methods:
        for a in methods:
            for b in methods:
                if len({a, b, via}) == 3:
                    p[a, b] = max(p[a, b], min(p[a, via], p[via, b]))
    wins = {a: sum(p[a, b] > p[b, a] for b in methods) for a in methods}
    beaten = {a: sum(p[b, a] > p[a, b] for b in methods) for a in methods}
    ranks = ref_ordering(methods, {m: -beaten[m] for m in methods})
    return ranks, wins


def as_lists(result: TallyResult) -> list[tuple[int, list[str]]]:
    return [(rank, list(group)) for rank, group in result.ranks]


# --- strategies ---------------------------------------------------------------------------


@st.composite
def profiles(draw: st.DrawFn, max_methods: int = 7, max_ballots: int = 40) -> tuple:
    n = draw(st.integers(2, max_methods))
    methods = [f"m{i}" for i in range(n)]
    k = draw(st.integers(1, n))
    ballot = st.permutations(methods).flatmap(
        lambda perm: st.integers(1, k).map(lambda length: list(perm[:length]))
    )
    ballots = draw(st.lists(ballot, min_size=0, max_size=max_ballots))
    return ballots, methods, k


# --- fast == reference --------------------------------------------------------------------


@given(profiles())
@settings(max_examples=300, deadline=None)
def test_every_fast_method_matches_the_plain_reference(profile: tuple) -> None:
    ballots, methods, k = profile
    for name, ref in (("points", ref_points), ("first_choices", ref_first)):
        result = COUNTING_METHODS[name].function(ballots, methods, k)
        expected = ref(ballots, methods, k)
        assert dict(result.scores) == expected
        assert as_lists(result) == ref_ordering(methods, expected)
    result = appearances(ballots, methods, k)
    assert dict(result.scores) == ref_appearances(ballots, methods, k)
    irv, explanation = instant_runoff_with_explanation(ballots, methods, k)
    ranks, scores, kinds = ref_irv(ballots, methods, k)
    assert as_lists(irv) == ranks
    assert dict(irv.scores) == scores
    assert [r.tie_break.value for r in explanation.rounds] == kinds
    sch, sch_explanation = schulze_with_explanation(ballots, methods, k)
    ranks, wins = ref_schulze(ballots, methods)
    assert as_lists(sch) == ranks
    assert dict(sch.scores) == wins
    prefer = ref_pairwise(ballots, methods)
    pw = sch_explanation.pairwise
    assert all(
        pw.prefer[i][j] == prefer[a, b]
        for i, a in enumerate(methods)
        for j, b in enumerate(methods)
    )


# --- properties ---------------------------------------------------------------------------


@given(profiles())
@settings(max_examples=200, deadline=None)
def test_points_add_up_to_k_down_to_1_for_every_ranked_place(profile: tuple) -> None:
    ballots, methods, k = profile
    expected = sum(k - r for ballot in ballots for r in range(len(ballot)))
    assert sum(points(ballots, methods, k).scores.values()) == expected


@given(profiles(), st.data())
@settings(max_examples=200, deadline=None)
def test_adding_a_ballot_never_lowers_a_methods_points(profile: tuple, data: st.DataObject) -> None:
    ballots, methods, k = profile
    perm = data.draw(st.permutations(methods))
    extra = list(perm[: data.draw(st.integers(1, k))])
    before = points(ballots, methods, k).scores
    after = points([*ballots, extra], methods, k).scores
    assert all(after[m] >= before[m] for m in methods)


@given(profiles(), st.randoms(use_true_random=False))
@settings(max_examples=200, deadline=None)
def test_the_order_of_ballots_changes_no_result(profile: tuple, rnd: random.Random) -> None:
    ballots, methods, k = profile
    shuffled = list(ballots)
    rnd.shuffle(shuffled)
    for entry in COUNTING_METHODS.values():
        assert entry.function(ballots, methods, k) == entry.function(shuffled, methods, k)
    first = instant_runoff_with_explanation(ballots, methods, k)[1]
    second = instant_runoff_with_explanation(shuffled, methods, k)[1]
    assert first == second


@given(profiles())
@settings(max_examples=300, deadline=None)
def test_a_condorcet_winner_wins_schulze_alone(profile: tuple) -> None:
    ballots, methods, k = profile
    prefer = ref_pairwise(ballots, methods)
    condorcet = [a for a in methods if all(prefer[a, b] > prefer[b, a] for b in methods if b != a)]
    if condorcet:
        assert schulze(ballots, methods, k).winners == (condorcet[0],)


@given(profiles())
@settings(max_examples=200, deadline=None)
def test_every_result_orders_all_methods_with_never_ranked_ones_last_at_zero(
    profile: tuple,
) -> None:
    ballots, methods, k = profile
    ranked = {m for b in ballots for m in b}
    never = [m for m in methods if m not in ranked]
    for entry in COUNTING_METHODS.values():
        result = entry.function(ballots, methods, k)
        assert sorted(result.order) == sorted(methods)
        assert [r.rank for r in result.rows()] == sorted(r.rank for r in result.rows())
        if never and ranked:
            last_group = result.ranks[-1][1]
            assert set(never) <= set(last_group)
            assert all(result.scores[m] == 0 for m in never)
            if entry.id in ("points", "instant_runoff", "schulze"):
                assert set(last_group) == set(never)


# --- examples -----------------------------------------------------------------------------

WORKSHOP_METHODS = [
    "unrestricted_funding",
    "co_creation_fund",
    "action_research",
    "supportive_stance",
    "tiered_capacity_building",
    "mentor_accompaniment",
    "annual_gathering",
    "regional_network",
]


@pytest.fixture
def workshop_ballots() -> list[list[str]]:
    """60 ballots that reproduce the order the workshop published (points, top 5)."""
    uf, cc, ar, ss, tcb, ma, ag, rn = WORKSHOP_METHODS
    groups = [
        (14, [uf, cc, ar, ss, tcb]),
        (9, [cc, uf, ar, tcb, ss]),
        (8, [ar, uf, cc, ss, ma]),
        (7, [uf, ss, cc, tcb, rn]),
        (6, [ss, ar, uf, ag, tcb]),
        (5, [cc, ar, tcb, uf, ag]),
        (4, [tcb, ma, ss, cc, rn]),
        (3, [uf, ar, ma, rn, ag]),
        (2, [ma, tcb, ss, ag, rn]),
        (2, [rn, cc, ss, ar]),
    ]
    ballots = [list(ranking) for count, ranking in groups for _ in range(count)]
    assert len(ballots) == 60
    return ballots


def test_points_reproduce_the_workshops_published_order(workshop_ballots: list[list[str]]) -> None:
    result = points(workshop_ballots, WORKSHOP_METHODS, 5)
    assert result.order[:5] == (
        "unrestricted_funding",
        "co_creation_fund",
        "action_research",
        "supportive_stance",
        "tiered_capacity_building",
    )
    assert all(len(group) == 1 for _, group in result.ranks[:5])


def test_points_match_a_hand_count_of_truncated_ballots() -> None:
    # K=3. a: 3+2+3=8; b: 2+3=5; c: 1+1=2 (the second ballot stops at 2 places: c earns
    # nothing there, and its 2nd place still earns 2, not rescaled); d: 2.
    ballots = [["a", "b", "c"], ["b", "d"], ["a", "c"]]
    result = points(ballots, ["a", "b", "c", "d"], 3)
    assert result.scores == {"a": 6, "b": 5, "c": 3, "d": 2}
    assert result.ranks == ((1, ("a",)), (2, ("b",)), (3, ("c",)), (4, ("d",)))


def test_tied_methods_share_a_rank_and_the_next_rank_is_skipped() -> None:
    result = points([["a", "b"], ["b", "a"], ["c"]], ["a", "b", "c", "d"], 2)
    assert result.ranks == ((1, ("a", "b")), (3, ("c",)), (4, ("d",)))
    assert [r.is_tied for r in result.rows()] == [True, True, False, False]


def test_no_ballots_leave_every_method_tied_first_at_zero() -> None:
    for entry in COUNTING_METHODS.values():
        result = entry.function([], ["a", "b"], 3)
        assert result.ranks == ((1, ("a", "b")),)
        assert result.ballot_count == 0


def test_irv_breaks_a_tie_for_last_by_points_and_explains_it() -> None:
    # Round 1: a 3, b 1, c 1 -> b and c tie on votes; b has fewer points (2 vs 1+1+2=4).
    ballots = [["a", "c"], ["a"], ["a"], ["b", "c"], ["c"]]
    result, explanation = instant_runoff_with_explanation(ballots, ["a", "b", "c"], 2)
    first = explanation.rounds[0]
    assert first.votes == {"a": 3, "b": 1, "c": 1}
    assert first.eliminated == ("b",)
    assert first.tie_break is IrvTieBreak.POINTS
    assert result.order == ("a", "c", "b")
    assert explanation.messages()[-1].key == IRV_TIE_RULE_KEY


def test_irv_eliminates_methods_tied_on_votes_and_points_together() -> None:
    ballots = [["a"], ["a"], ["b"], ["c"]]
    result, explanation = instant_runoff_with_explanation(ballots, ["a", "b", "c"], 1)
    assert explanation.rounds[0].tie_break is IrvTieBreak.TOGETHER
    assert result.ranks == ((1, ("a",)), (2, ("b", "c")))


def test_irv_exhausts_a_truncated_ballot_whose_methods_are_all_gone() -> None:
    ballots = [["a"], ["a"], ["a"], ["b"], ["b", "a"], ["c"], ["c"], ["c"], ["c"]]
    result, explanation = instant_runoff_with_explanation(ballots, ["a", "b", "c"], 2)
    # Round 1: b is lowest; [b] exhausts and [b, a] moves to a. Round 2: a 4, c 4, and a
    # has fewer points (3*2 + 1 = 7 against 8), so a goes.
    assert explanation.rounds[0].eliminated == ("b",)
    assert explanation.rounds[1].votes == {"a": 4, "c": 4}
    assert explanation.rounds[1].exhausted == 1
    assert explanation.rounds[1].eliminated == ("a",)
    assert result.order == ("c", "a", "b")


@pytest.mark.parametrize(
    ("ballots", "error"),
    [
        ([["a", "x"]], UnknownMethod),
        ([["a", "a"]], DuplicateMethod),
        ([["a", "b", "c"]], TooManyChoices),
        ([[]], EmptyBallot),
    ],
)
def test_an_uncountable_ballot_raises_a_named_error(
    ballots: list[list[str]], error: type[Exception]
) -> None:
    with pytest.raises(error):
        points(ballots, ["a", "b", "c"], 2)


def test_every_counting_method_has_a_name_score_and_description_in_both_languages() -> None:
    from core.i18n import catalogue

    for lang in ("zh", "en"):
        keys = catalogue(lang)
        for entry in COUNTING_METHODS.values():
            for key in (entry.name_key, entry.score_key, entry.unit_key, entry.description_key):
                assert key in keys, (lang, key)
        assert IRV_TIE_RULE_KEY in keys


def test_tally_all_counts_every_registered_way_from_one_encoding() -> None:
    ballots = [["a", "b"], ["b"], ["a"]]
    profile = build_profile(ballots, ["a", "b", "c"], 2)
    results = tally_all(profile, ["a", "b", "c"])
    assert list(results) == list(COUNTING_METHODS)
    assert results["points"] == points(ballots, ["a", "b", "c"], 2)


def test_encoding_never_modifies_the_shared_profile() -> None:
    profile = build_profile([["a", "b"], ["b", "c"], ["c"]], ["a", "b", "c"], 2)
    before = profile.rankings.copy()
    tally_all(profile, ["a", "b", "c"])
    assert (profile.rankings == before).all()


# --- issue 11: one ranking rule for Schulze below the winners --------------------------------


def test_schulze_ranks_with_competition_ranking_not_one_plus_the_methods_that_beat_it() -> None:
    # a beats c (one ballot a>c); b beats nobody and nobody beats b. One method beats c,
    # but two are placed above it: competition ranking puts c 3rd, as every counting does.
    result, explanation = schulze_with_explanation([["a", "c"], ["b"]], ["a", "b", "c"], 2)
    assert result.ranks == ((1, ("a", "b")), (3, ("c",)))
    strength = explanation.strongest_paths
    beaten_by_c = sum(strength[i][2] > strength[2][i] for i in range(3))
    assert beaten_by_c == 1


@settings(max_examples=200)
@given(
    st.lists(
        st.lists(st.sampled_from("abcde"), min_size=1, max_size=3, unique=True),
        min_size=1,
        max_size=9,
    )
)
def test_every_schulze_rank_is_one_plus_the_methods_placed_above_it(
    ballots: list[list[str]],
) -> None:
    methods = list("abcde")
    result, explanation = schulze_with_explanation(ballots, methods, 3)
    strength = explanation.strongest_paths
    beaten_by = {
        m: sum(strength[j][i] > strength[i][j] for j in range(len(methods)))
        for i, m in enumerate(methods)
    }
    for rank, group in result.ranks:
        above = [m for m in methods if result.rank_of(m) < rank]
        assert rank == 1 + len(above)
        # One group per count of methods beating it, fewer first: rank 1 = unbeaten = winners.
        assert len({beaten_by[m] for m in group}) == 1
        assert all(beaten_by[m] < beaten_by[group[0]] for m in above)
    assert set(result.winners) == {m for m in methods if beaten_by[m] == 0}
