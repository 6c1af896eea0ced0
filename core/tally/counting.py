"""What a counting method module declares about itself: `COUNTING = counting_method(...)`.

`core.tally.registry` finds every module of `core.tally.methods` and reads that one value, so
adding a method is its module plus its texts (`tally.method.<id>.*`) in both locale files:
no list to extend anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.domain import MethodId
from core.tally.profile import Ballots, CountingId, Profile
from core.tally.result import TallyResult

TallyFunction = Callable[[Ballots | Profile, Sequence[MethodId], int | None], TallyResult]


@dataclass(frozen=True)
class CountingMethod:
    """A registered counting method and the locale keys the pages and report use for it."""

    id: CountingId
    function: TallyFunction
    name_key: str
    score_key: str
    """Axis title / table header for `TallyResult.scores` ("Points")."""
    unit_key: str
    """The unit after a number in a sentence ("12 points")."""
    description_key: str
    position: int = 0
    """Where pages, exports and reports list it: smallest first (the default is first)."""


def counting_method(
    counting: CountingId, function: TallyFunction, *, position: int
) -> CountingMethod:
    """The registration a method module declares as `COUNTING`; its texts follow from its id."""
    return CountingMethod(
        counting,
        function,
        f"tally.method.{counting}.name",
        f"tally.method.{counting}.score",
        f"tally.method.{counting}.unit",
        f"tally.method.{counting}.description",
        position,
    )
