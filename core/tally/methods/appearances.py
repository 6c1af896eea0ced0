"""Appearances: how many ballots name each method anywhere in their top K."""

from __future__ import annotations

from collections.abc import Sequence

from core.domain import MethodId
from core.tally.counting import counting_method
from core.tally.profile import Ballots, Profile, build_profile
from core.tally.result import TallyResult, rank_by_score


def appearances(
    ballots: Ballots | Profile, methods: Sequence[MethodId], ballot_size: int | None = None
) -> TallyResult:
    """How many ballots include each method anywhere in their top K."""
    p = build_profile(ballots, methods, ballot_size)
    return rank_by_score(
        "appearances", p.methods, p.position_counts.sum(axis=1).tolist(), p.ballot_count
    )


COUNTING = counting_method("appearances", appearances, position=30)
