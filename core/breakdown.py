"""Results per self-declared role, k-anonymous.

A role is shown only when at least k ballots declared it. Smaller roles, and ballots with
no role, are merged into one "other" group, which is itself withheld entirely when it has
fewer than k ballots. Because the room's total is public, whatever is not shown (the total
minus the shown groups) must itself be empty or hold at least k ballots: otherwise the
smallest shown role is merged into "other" too, so no group can be derived by subtraction.

This module must never return or count a role below the threshold, never name one unless
the workshop offered it (the offered list is public and says nothing about who declared
what), and never order groups by when their ballots arrived: anything built from a
`Breakdown` (charts, tables, exports) can then show all of it safely.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.domain import MethodId
from core.errors import BeiduiError
from core.limits import DEFAULT_ANONYMITY_K, MIN_ANONYMITY_K
from core.tally.profile import CountingId, build_profile
from core.tally.registry import COUNTING_METHODS, DEFAULT_COUNTING
from core.tally.result import TallyResult

Role = str
"""A self-declared role ("funder", "grantee staff", ...), as stored with the ballot."""


class ThresholdTooSmall(BeiduiError, key="tally.errors.threshold_too_small"):
    """The workshop's anonymity threshold k is below the minimum of 3."""


def check_threshold(k: int) -> int:
    """Return k, or raise `ThresholdTooSmall` when it would identify people."""
    if k < MIN_ANONYMITY_K:
        raise ThresholdTooSmall(k=k, minimum=MIN_ANONYMITY_K)
    return k


def guard_count(count: int, k: int = DEFAULT_ANONYMITY_K) -> int | None:
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
    plan: GroupPlan

    @property
    def roles(self) -> tuple[Role, ...]:
        return tuple(g.role for g in self.groups if g.role is not None)


@dataclass(frozen=True)
class GroupPlan:
    """Which roles a breakdown shows on their own and which go into "other", and why.

    `shown`: roles with at least k ballots, shown by name (alphabetical). `too_small`:
    offered roles with fewer than k ballots (possibly none; the count is never given).
    `merged_against_subtraction`: roles with at least k ballots merged into "other"
    only because the small roles (and ballots with no role) together hold 1..k-1 ballots,
    which anyone could otherwise work out as the room's total minus the shown groups; the
    smallest such role is chosen (ties: alphabetical), never more than needed.
    `is_other_shown`: whether "other" reaches k and is shown.
    """

    k: int
    shown: tuple[Role, ...]
    too_small: tuple[Role, ...]
    merged_against_subtraction: tuple[Role, ...]
    is_other_shown: bool
    other_count: int
    """Ballots in "other" (shown only when `is_other_shown`)."""

    def group_of(self, role: Role | None) -> Role | None:
        """The group a ballot declaring `role` is counted in: the role, or None ("other")."""
        return role if role and role in self.shown else None


def choose_groups(
    role_counts: Mapping[Role | None, int],
    *,
    k: int = DEFAULT_ANONYMITY_K,
    offered: Sequence[Role] = (),
    merged_before: Sequence[Role] = (),
) -> GroupPlan:
    """Decide which roles are shown and which are merged into "other" (`GroupPlan`).

    `role_counts`: ballots per declared role (None or "" = no role). `offered`: the roles
    the workshop offered; only those are ever named as too small. `merged_before`: roles
    the reveal stored merged against subtraction (`PublishedResults.roles_merged`). Stable
    public API: the reveal stores each ballot's `plan.group_of(role)` instead of its role.

    The rule, the smallest merge that resists differencing: every role with at least k
    ballots is shown, except that while the ballots not shown (small roles and no role)
    number 1..k-1, the smallest shown role is merged into "other" as well.
    """
    check_threshold(k)
    counts: Counter[Role | None] = Counter()
    for role, n in role_counts.items():
        counts[role or None] += n
    total = sum(counts.values())
    shown = {role: n for role, n in counts.items() if role is not None and n >= k}
    merged: list[Role] = []
    # Differencing: the room's total is shown too, so total minus the shown groups is a group
    # of its own. While that complement has 1..k-1 ballots, merge the smallest shown role
    # (ties: alphabetical) into "other", which then has at least k.
    while shown and 0 < total - sum(shown.values()) < k:
        smallest = min(shown, key=lambda role: (shown[role], role))
        merged.append(smallest)
        del shown[smallest]
    # Only offered roles are named: that list is public and says nothing about whether
    # anyone declared them. A role seen only in ballots is never named unless shown.
    # Roles the reveal already stored merged (their ballots now count as "other") are
    # reported as merged against subtraction, as they were decided, not as too small.
    merged += [r for r in merged_before if r not in shown and r not in merged]
    too_small = sorted(set(offered) - set(shown) - set(merged))
    other = total - sum(shown.values())
    return GroupPlan(
        k=k,
        shown=tuple(sorted(shown)),
        too_small=tuple(too_small),
        merged_against_subtraction=tuple(sorted(merged)),
        is_other_shown=other >= k,
        other_count=other,
    )


def breakdown(
    ballots: Sequence[tuple[Role | None, Sequence[MethodId]]],
    methods: Sequence[MethodId],
    ballot_size: int | None = None,
    *,
    k: int = DEFAULT_ANONYMITY_K,
    counting: CountingId = DEFAULT_COUNTING,
    offered: Sequence[Role] = (),
    merged_before: Sequence[Role] = (),
) -> Breakdown:
    """Count each group `choose_groups` shows on its own; the rest together as "other".

    An empty or blank role counts as no role. "Other" is shown only with at least k
    ballots. Roles are listed alphabetically (never by size or arrival), "other" last.
    """
    plan = choose_groups(
        Counter(role or None for role, _ in ballots),
        k=k,
        offered=offered,
        merged_before=merged_before,
    )
    function = COUNTING_METHODS[counting].function
    # Fix K for every group from the whole room, so a group's points mean the same thing.
    size = build_profile([r for _, r in ballots], methods, ballot_size).ballot_size
    groups: list[Group] = []
    for role in plan.shown:
        rankings = [r for declared, r in ballots if (declared or None) == role]
        groups.append(Group(role, len(rankings), function(rankings, methods, size)))
    other = [r for declared, r in ballots if plan.group_of(declared) is None]
    if plan.is_other_shown:
        groups.append(Group(None, len(other), function(other, methods, size)))
    # Never trust the plan alone. With no group shown, the "complement" is just the room's
    # own total, which is public anyway.
    complement = len(ballots) - sum(g.ballot_count for g in groups)
    if any(g.ballot_count < k for g in groups) or (groups and 0 < complement < k):
        raise AssertionError("breakdown would expose a group below k")
    return Breakdown(k, counting, tuple(groups), plan)


def points_share(result: TallyResult, method: MethodId) -> float:
    """A method's share (%) of all the points a group gave, one decimal (0.0 for none)."""
    total = sum(result.scores.values())
    return round(100 * result.scores[method] / total, 1) if total else 0.0


def explain(
    plan: GroupPlan, role_labels: Mapping[Role, str], lang: str, *, offered: Sequence[Role]
) -> list[str]:
    """The plan in plain sentences: roles offered, shown, too small, merged and why, and
    what "other" holds. Never a count of a group below k."""
    from core.i18n import t

    def names(roles: Sequence[Role]) -> str:
        return t("tally.list_separator", lang).join(role_labels.get(r, r) for r in roles)

    k = plan.k
    lines = []
    if offered:
        lines.append(t("export.roles.offered", lang, roles=names(offered)))
    if plan.shown:
        lines.append(t("export.roles.shown", lang, k=k, roles=names(plan.shown)))
    else:
        lines.append(t("export.roles.none_shown", lang, k=k))
    if plan.too_small:
        lines.append(t("export.roles.too_small", lang, k=k, roles=names(plan.too_small)))
    if plan.merged_against_subtraction:
        merged = names(plan.merged_against_subtraction)
        lines.append(t("export.roles.merged", lang, k=k, roles=merged))
    if plan.is_other_shown:
        lines.append(t("export.roles.other_shown", lang, n=plan.other_count))
    elif plan.other_count:
        lines.append(t("export.roles.other_hidden", lang, k=k))
    return lines
