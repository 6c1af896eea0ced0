"""The registry of counting methods: the one list pages, exports and reports iterate.

Each entry names its function and the locale keys (`tally.method.<id>.*`) that say what it
counts. Pages list the methods in this order, the default first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from core.domain import MethodId
from core.tally.methods.appearances import appearances
from core.tally.methods.first_choices import first_choices
from core.tally.methods.instant_runoff import instant_runoff
from core.tally.methods.points import points
from core.tally.methods.schulze import schulze
from core.tally.profile import Ballots, CountingId, Profile, build_profile
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


def _entry(counting: CountingId, function: TallyFunction) -> CountingMethod:
    return CountingMethod(
        counting,
        function,
        f"tally.method.{counting}.name",
        f"tally.method.{counting}.score",
        f"tally.method.{counting}.unit",
        f"tally.method.{counting}.description",
    )


DEFAULT_COUNTING: Final[CountingId] = "points"

COUNTING_METHODS: Final[Mapping[CountingId, CountingMethod]] = {
    c.id: c
    for c in (
        _entry("points", points),
        _entry("first_choices", first_choices),
        _entry("appearances", appearances),
        _entry("instant_runoff", instant_runoff),
        _entry("schulze", schulze),
    )
}
"""Every counting method, default first. Pages list them in this order."""


def tally_all(
    ballots: Ballots | Profile,
    methods: Sequence[MethodId],
    ballot_size: int | None = None,
    counting: Sequence[CountingId] | None = None,
) -> dict[CountingId, TallyResult]:
    """Count the same ballots every registered way (or the ones named), encoding once."""
    p = build_profile(ballots, methods, ballot_size)
    chosen = list(COUNTING_METHODS) if counting is None else list(counting)
    return {c: COUNTING_METHODS[c].function(p, p.methods, p.ballot_size) for c in chosen}
