"""core.tally agrees with pref_voting (a test-only dependency) where their rules coincide.

- Schulze: pref_voting's `beat_path` (margins) on a `ProfileWithTies`, after
  `use_extended_strict_preference()` so a ranked option beats an unranked one (without it
  pref_voting treats unranked options as incomparable and elects differently).
- IRV: pref_voting's `instant_runoff` eliminates every tied-lowest option at once, we break
  such ties by points; the winners must match whenever no round had a tie for last among
  methods that still held votes (ties among zero-vote methods change no later round).
- Points (K..1 on truncated ballots): pref_voting has no such rule for truncated ballots
  (its Borda variants score differently) and votelib is not installed, so the points rule
  is checked against a hand count here and against the plain reference in test_tally.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.tally.methods import instant_runoff as ours_irv
from core.tally.methods.instant_runoff import instant_runoff_with_explanation
from core.tally.methods.points import points
from core.tally.methods.schulze import schulze
from core.tally.pairwise import pairwise

pref_voting = pytest.importorskip("pref_voting")

from pref_voting.iterative_methods import instant_runoff  # noqa: E402
from pref_voting.margin_based_methods import beat_path  # noqa: E402
from pref_voting.profiles_with_ties import ProfileWithTies  # noqa: E402


@st.composite
def profiles(draw: st.DrawFn) -> tuple[list[list[str]], list[str], int]:
    n = draw(st.integers(2, 6))
    methods = [f"m{i}" for i in range(n)]
    k = draw(st.integers(1, n))
    ballot = st.permutations(methods).flatmap(
        lambda perm: st.integers(1, k).map(lambda length: list(perm[:length]))
    )
    return draw(st.lists(ballot, min_size=1, max_size=30)), methods, k


def to_pref_voting(ballots: list[list[str]], methods: list[str]) -> ProfileWithTies:
    index = {m: i for i, m in enumerate(methods)}
    profile = ProfileWithTies(
        [{index[m]: r for r, m in enumerate(b, start=1)} for b in ballots],
        candidates=list(range(len(methods))),
    )
    profile.use_extended_strict_preference()
    return profile


@given(profiles())
@settings(max_examples=200, deadline=None)
def test_schulze_winners_match_pref_voting_beat_path(profile: tuple) -> None:
    ballots, methods, k = profile
    expected = beat_path(to_pref_voting(ballots, methods))
    assert sorted(methods.index(m) for m in schulze(ballots, methods, k).winners) == expected


@given(profiles())
@settings(max_examples=200, deadline=None)
def test_the_pairwise_matrix_matches_pref_voting_supports(profile: tuple) -> None:
    ballots, methods, k = profile
    pv = to_pref_voting(ballots, methods)
    pw = pairwise(ballots, methods, k)
    for i in range(len(methods)):
        for j in range(len(methods)):
            if i != j:
                assert pw.prefer[i][j] == pv.support(i, j)


@given(profiles())
@settings(max_examples=300, deadline=None)
def test_irv_winner_matches_pref_voting_when_no_round_needed_a_tie_break(profile: tuple) -> None:
    ballots, methods, k = profile
    result, explanation = instant_runoff_with_explanation(ballots, methods, k)
    needed_tie_break = any(
        sum(v == min(r.votes.values()) for v in r.votes.values()) > 1 and min(r.votes.values()) > 0
        for r in explanation.rounds
    )
    if needed_tie_break:
        return
    expected = instant_runoff(to_pref_voting(ballots, methods))
    assert sorted(methods.index(m) for m in result.winners) == expected


def test_irv_matches_pref_voting_on_a_named_truncated_profile() -> None:
    # 11 ballots, K=3. Round 1: a 4, b 3, c 4. b leaves: two ballots move to c, one is
    # exhausted. Round 2: c 6, a 4.
    ballots = [["a", "b"]] * 4 + [["b", "c"]] * 2 + [["b"]] + [["c", "a", "b"]] * 4
    methods = ["a", "b", "c"]
    result = ours_irv.instant_runoff(ballots, methods, 3)
    assert result.winners == ("c",)
    assert instant_runoff(to_pref_voting(ballots, methods)) == [2]


def test_points_5_to_1_match_a_hand_count_pref_voting_cannot_do() -> None:
    # K=5. Ballot 1 ranks 5 (5,4,3,2,1); ballot 2 ranks 2 (5,4); ballot 3 ranks 1 (5).
    ballots = [["a", "b", "c", "d", "e"], ["c", "a"], ["e"]]
    result = points(ballots, ["a", "b", "c", "d", "e", "f"], 5)
    assert result.scores == {"a": 5 + 4, "b": 4, "c": 3 + 5, "d": 2, "e": 1 + 5, "f": 0}
    assert result.order == ("a", "c", "e", "b", "d", "f")
