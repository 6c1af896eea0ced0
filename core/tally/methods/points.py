"""Points (a Borda count over the top K): the default counting method."""

from __future__ import annotations

from collections.abc import Sequence

from core.domain import MethodId
from core.tally.counting import counting_method
from core.tally.profile import Ballots, Profile, build_profile
from core.tally.result import TallyResult, rank_by_score


def points(
    ballots: Ballots | Profile, methods: Sequence[MethodId], ballot_size: int | None = None
) -> TallyResult:
    """Rank 1 earns K points, rank 2 K-1, ..., rank K 1; unranked earns 0.

    A truncated ballot's rank r still earns K-r+1 (it is not rescaled to its own length).
    """
    p = build_profile(ballots, methods, ballot_size)
    return rank_by_score("points", p.methods, p.points.tolist(), p.ballot_count)


COUNTING = counting_method("points", points, position=10)
