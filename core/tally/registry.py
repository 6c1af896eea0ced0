"""The registry of counting methods: the one list pages, exports and reports iterate.

Nobody lists the methods: every module of the `core.tally.methods` package declares its own
`COUNTING = counting_method(id, function, position=...)` (core/tally/counting.py), and this
module finds them all, in the order of their `position` (the default first). Adding a method
is its module plus its four texts `tally.method.<id>.*` in the zh and en locale files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Final

import core.tally.methods
from core.discovery import DiscoveryError, declared_in
from core.domain import MethodId
from core.tally.counting import CountingMethod, TallyFunction, counting_method
from core.tally.profile import Ballots, CountingId, Profile, build_profile
from core.tally.result import TallyResult

__all__ = [
    "COUNTING_METHODS",
    "DEFAULT_COUNTING",
    "CountingMethod",
    "TallyFunction",
    "counting_method",
    "discover_counting_methods",
    "tally_all",
]


def discover_counting_methods(
    package: ModuleType = core.tally.methods,
) -> dict[CountingId, CountingMethod]:
    """Every `COUNTING` declared by a module of `package`, ordered by position; two methods
    at one position, or one id twice, are refused (`DiscoveryError`)."""
    found = declared_in(
        package.__path__,
        package.__name__,
        "COUNTING",
        CountingMethod,
        unique=("id", "position"),
        order="position",
    )
    return {c.id: c for c in found}


DEFAULT_COUNTING: Final[CountingId] = "points"

COUNTING_METHODS: Final[Mapping[CountingId, CountingMethod]] = discover_counting_methods()
"""Every counting method, default first. Pages list them in this order."""

if next(iter(COUNTING_METHODS)) != DEFAULT_COUNTING:
    raise DiscoveryError(f"the default counting {DEFAULT_COUNTING!r} must have the first position")


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
