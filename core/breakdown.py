"""Results per self-declared role, k-anonymous.

A role is shown only when at least k ballots declared it. Smaller roles, and ballots with
no role, are merged into one "other" group, which is itself withheld entirely when it has
fewer than k ballots. Because the room's total is public, whatever is not shown (the total
minus the shown groups) must itself be empty or hold at least k ballots: otherwise the
smallest shown role is merged into "other" too, so no group can be derived by subtraction.

This module must never return, count or name a role below the threshold, and never order
groups by when their ballots arrived: anything built from a `Breakdown` (charts, tables,
exports) can then show all of it safely.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from core.errors import BeiduiError
from core.tally import (
    COUNTING_METHODS,
    DEFAULT_COUNTING,
    CountingId,
    MethodId,
    TallyResult,
    build_profile,
)

Role = str
"""A self-declared role ("funder", "grantee staff", ...), as stored with the ballot."""

MIN_K: Final = 3
DEFAULT_K: Final = 5


class ThresholdTooSmall(BeiduiError):
    """The workshop's anonymity threshold k is below the minimum of 3."""

    key = "tally.errors.threshold_too_small"


def check_threshold(k: int) -> int:
    """Return k, or raise `ThresholdTooSmall` when it would identify people."""
    if k < MIN_K:
        raise ThresholdTooSmall(k=k, minimum=MIN_K)
    return k


def guard_count(count: int, k: int = DEFAULT_K) -> int | None:
    """A count shown per role or group: the count itself if at least k, else None (hidden)."""
    check_threshold(k)
    return count if count >= k else None


@dataclass(frozen=True)
class Group:
    """One shown group: a role with at least k ballots, or the merged "other" (role None)."""

    role: Role | None
    ballot_count: int
    result: TallyResult

    @property
    def is_other(self) -> bool:
        return self.role is None


@dataclass(frozen=True)
class Breakdown:
    """The groups that passed the threshold: roles by name, then "other" if shown."""

    k: int
    counting: CountingId
    groups: tuple[Group, ...]

    @property
    def roles(self) -> tuple[Role, ...]:
        return tuple(g.role for g in self.groups if g.role is not None)


def breakdown(
    ballots: Sequence[tuple[Role | None, Sequence[MethodId]]],
    methods: Sequence[MethodId],
    ballot_size: int | None = None,
    *,
    k: int = DEFAULT_K,
    counting: CountingId = DEFAULT_COUNTING,
) -> Breakdown:
    """Count each role with at least k ballots on its own; merge the rest into "other".

    An empty or blank role counts as no role. "Other" is shown only with at least k
    ballots. Roles are listed alphabetically (never by size or arrival), "other" last.
    """
    check_threshold(k)
    function = COUNTING_METHODS[counting].function
    # Fix K for every group from the whole room, so a group's points mean the same thing.
    size = build_profile([r for _, r in ballots], methods, ballot_size).ballot_size
    sizes = Counter(role or None for role, _ in ballots)
    shown = {role: n for role, n in sizes.items() if role is not None and n >= k}
    # Differencing: the room's total is shown too, so total minus the shown groups is a group
    # of its own. While that complement has 1..k-1 ballots, merge the smallest shown role
    # (ties: alphabetical) into "other", which then has at least k.
    while shown and 0 < len(ballots) - sum(shown.values()) < k:
        del shown[min(shown, key=lambda role: (shown[role], role))]
    groups: list[Group] = []
    for role in sorted(shown):
        rankings = [r for declared, r in ballots if (declared or None) == role]
        groups.append(Group(role, len(rankings), function(rankings, methods, size)))
    other = [r for declared, r in ballots if (declared or None) not in shown]
    if len(other) >= k:
        groups.append(Group(None, len(other), function(other, methods, size)))
    # Never trust the loop alone. With no group shown, the "complement" is just the room's
    # own total, which is public anyway.
    complement = len(ballots) - sum(g.ballot_count for g in groups)
    if any(g.ballot_count < k for g in groups) or (groups and 0 < complement < k):
        raise AssertionError("breakdown would expose a group below k")
    return Breakdown(k, counting, tuple(groups))
