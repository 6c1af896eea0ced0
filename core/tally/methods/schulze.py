"""Schulze (beat-path): the method that beats every other by the strongest path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.domain import MethodId
from core.tally.counting import counting_method
from core.tally.pairwise import Pairwise, pairwise_array
from core.tally.profile import Ballots, Profile, build_profile
from core.tally.result import TallyResult, rank_by_score


@dataclass(frozen=True)
class SchulzeExplanation:
    pairwise: Pairwise
    strongest_paths: tuple[tuple[int, ...], ...]
    """`strongest_paths[a][b]`: strength (smallest margin) of the best beat-path a to b."""


def schulze_with_explanation(
    ballots: Ballots | Profile, methods: Sequence[MethodId], ballot_size: int | None = None
) -> tuple[TallyResult, SchulzeExplanation]:
    """Schulze (beat-path) with margins as path strength, as pref_voting's `beat_path`.

    Method a beats b when the strongest path a->b is stronger than b->a; that relation is
    transitive but partial (two methods may beat each other neither way).

    The ranking rule, one for every counting method: methods are grouped by how many
    methods beat them (fewest first) and ranked with standard competition ranking, so a
    method's rank is 1 + the number of methods in better groups. That is NOT "1 + the
    number of methods that beat it": with ballots A>C and B, A beats C while B beats and is
    beaten by no one; A and B share rank 1 and C is 3rd (two methods above it), not 2nd.
    Rank 1 is exactly the Schulze winner set. The score is the number of methods it beats
    (never-ranked methods beat nobody: 0); methods in one group share a rank even when
    their scores differ.
    """
    p = build_profile(ballots, methods, ballot_size)
    prefer = pairwise_array(p)
    margin = prefer - prefer.T
    strength = np.where(margin > 0, margin, 0)
    for via in range(len(p.methods)):
        strength = np.maximum(strength, np.minimum(strength[:, via : via + 1], strength[via]))
    np.fill_diagonal(strength, 0)
    beats = strength > strength.T
    beaten_by = beats.sum(axis=0)
    wins = beats.sum(axis=1)
    # Order by beaten_by ascending; rank_by_score sorts descending, so negate.
    ordered = rank_by_score("schulze", p.methods, (-beaten_by).tolist(), p.ballot_count)
    result = TallyResult(
        "schulze",
        ordered.ranks,
        {m: int(w) for m, w in zip(p.methods, wins, strict=True)},
        p.ballot_count,
    )
    pw = Pairwise(p.methods, tuple(tuple(row) for row in prefer.tolist()))
    return result, SchulzeExplanation(pw, tuple(tuple(row) for row in strength.tolist()))


def schulze(
    ballots: Ballots | Profile, methods: Sequence[MethodId], ballot_size: int | None = None
) -> TallyResult:
    """Schulze; see `schulze_with_explanation`."""
    return schulze_with_explanation(ballots, methods, ballot_size)[0]


COUNTING = counting_method("schulze", schulze, position=50)
