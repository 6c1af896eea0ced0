"""What every counting method returns: a full ordering of all methods, ties as ties."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.domain import MethodId
from core.tally.profile import CountingId


@dataclass(frozen=True)
class ResultRow:
    """One line of a ranked result: tied methods share `rank`."""

    rank: int
    method: MethodId
    score: int
    is_tied: bool


def place_text(row: ResultRow) -> str:
    """How a place is written everywhere — projector, phones, tables, reports — one rule:
    standard competition ranking (two methods tied for 5th are both 5th, the next is 7th),
    and a tied place carries "=" so "5=" reads as shared, not as a typo."""
    return f"{row.rank}=" if row.is_tied else str(row.rank)


@dataclass(frozen=True)
class TallyResult:
    """A full ordering of every method under one counting method.

    `ranks` lists (rank, tied methods) best first, with standard competition ranking: two
    methods tied for 1st are both rank 1 and the next is rank 3. Inside a tie, methods keep
    the template order only so the display is stable; they are equal. `scores` holds every
    method's figure (points, votes, ...); what it means depends on `counting`.
    """

    counting: CountingId
    ranks: tuple[tuple[int, tuple[MethodId, ...]], ...]
    scores: Mapping[MethodId, int]
    ballot_count: int

    @property
    def winners(self) -> tuple[MethodId, ...]:
        return self.ranks[0][1] if self.ranks else ()

    @property
    def order(self) -> tuple[MethodId, ...]:
        """All methods, best first (tied ones adjacent)."""
        return tuple(m for _, group in self.ranks for m in group)

    def rank_of(self, method: MethodId) -> int:
        for rank, group in self.ranks:
            if method in group:
                return rank
        raise KeyError(method)

    def rows(self) -> list[ResultRow]:
        return [
            ResultRow(rank, m, self.scores[m], len(group) > 1)
            for rank, group in self.ranks
            for m in group
        ]


def rank_by_score(
    counting: CountingId, methods: tuple[MethodId, ...], scores: Sequence[int], ballots: int
) -> TallyResult:
    """Rank by score, highest first; equal scores share a rank."""
    by_score: dict[int, list[MethodId]] = {}
    for m, s in zip(methods, scores, strict=True):
        by_score.setdefault(int(s), []).append(m)
    ranks: list[tuple[int, tuple[MethodId, ...]]] = []
    place = 1
    for s in sorted(by_score, reverse=True):
        ranks.append((place, tuple(by_score[s])))
        place += len(by_score[s])
    return TallyResult(
        counting, tuple(ranks), {m: int(s) for m, s in zip(methods, scores, strict=True)}, ballots
    )
