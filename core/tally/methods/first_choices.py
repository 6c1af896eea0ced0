"""First choices: how many ballots rank each method first."""

from __future__ import annotations

from collections.abc import Sequence

from core.domain import MethodId
from core.tally.counting import counting_method
from core.tally.profile import Ballots, Profile, build_profile
from core.tally.result import TallyResult, rank_by_score


def first_choices(
    ballots: Ballots | Profile, methods: Sequence[MethodId], ballot_size: int | None = None
) -> TallyResult:
    """How many ballots rank each method first."""
    p = build_profile(ballots, methods, ballot_size)
    return rank_by_score(
        "first_choices", p.methods, p.position_counts[:, 0].tolist(), p.ballot_count
    )


COUNTING = counting_method("first_choices", first_choices, position=20)
