"""The registry of counting methods: the one list pages, exports and reports iterate.

Nobody lists the methods: every module of the `core.tally.methods` package declares its own
`COUNTING = counting_method(id, function, position=...)` (core/tally/counting.py), and this
module finds them all, in the order of their `position` (the default first). Adding a method
is its module plus its four texts `tally.method.<id>.*` in the zh and en locale files.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Final

import core.tally.methods
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


class RegistryError(RuntimeError):
    """A method module that does not declare itself properly: a programming error, at import."""


def discover_counting_methods(
    package: ModuleType = core.tally.methods,
) -> dict[CountingId, CountingMethod]:
    """Every `COUNTING` declared by a module of `package`, ordered by position.

    Modules are read in name order and the result sorted by `position`, so the order never
    depends on the file system; two methods at one position, or one id twice, are refused.
    """
    found: list[CountingMethod] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        entry = getattr(module, "COUNTING", None)
        if not isinstance(entry, CountingMethod):
            raise RegistryError(f"{module.__name__} declares no COUNTING = counting_method(...)")
        found.append(entry)
    for attribute in ("id", "position"):
        values = [getattr(c, attribute) for c in found]
        if len(set(values)) != len(values):
            raise RegistryError(f"two counting methods share one {attribute}: {sorted(values)}")
    return {c.id: c for c in sorted(found, key=lambda c: c.position)}


DEFAULT_COUNTING: Final[CountingId] = "points"

COUNTING_METHODS: Final[Mapping[CountingId, CountingMethod]] = discover_counting_methods()
"""Every counting method, default first. Pages list them in this order."""

if next(iter(COUNTING_METHODS)) != DEFAULT_COUNTING:
    raise RegistryError(f"the default counting {DEFAULT_COUNTING!r} must have the first position")


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
