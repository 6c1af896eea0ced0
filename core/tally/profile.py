"""Ballots encoded once for every counting method: each distinct ranking with its count.

Validation lives here too, so an uncountable ranking is refused the same way whichever
method counts it. The encoding is sorted: not even it reflects the order ballots arrived in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from core.ballot_values import check_ranking
from core.domain import MethodId

CountingId = str
"""A way of counting the ballots: a key of `COUNTING_METHODS`."""

Ranking = Sequence[MethodId]
Ballots = Sequence[Sequence[MethodId]]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Profile:
    """Ballots encoded once: each distinct ranking with how many ballots carry it.

    `rankings` is (distinct × K) of method indices, -1 padding a truncated ballot; rows are
    sorted, so the encoding does not depend on ballot order either.
    """

    methods: tuple[MethodId, ...]
    ballot_size: int
    rankings: IntArray
    counts: IntArray

    @property
    def ballot_count(self) -> int:
        return int(self.counts.sum())

    @cached_property
    def position_counts(self) -> IntArray:
        """(methods × K): how many ballots put each method at each place."""
        m, k = len(self.methods), self.ballot_size
        codes = self.rankings * k + np.arange(k, dtype=np.int64)
        weights = np.broadcast_to(self.counts[:, None], self.rankings.shape)
        valid = self.rankings >= 0
        flat = np.bincount(codes[valid], weights=weights[valid], minlength=m * k)
        return np.rint(flat).astype(np.int64).reshape(m, k)

    @cached_property
    def points(self) -> IntArray:
        return self.position_counts @ np.arange(self.ballot_size, 0, -1, dtype=np.int64)


def _check_methods(methods: Sequence[MethodId]) -> tuple[MethodId, ...]:
    out = tuple(methods)
    if len(set(out)) != len(out):
        raise ValueError("methods must be distinct")
    return out


def build_profile(
    ballots: Ballots | Profile, methods: Sequence[MethodId], ballot_size: int | None = None
) -> Profile:
    """Validate and encode ballots once, so several counting methods can share the work.

    `ballot_size` is K (rank 1 earns K points); by default the longest ballot's length.
    Passing a `Profile` returns it unchanged (after checking it is for the same methods).
    """
    methods_t = _check_methods(methods)
    if isinstance(ballots, Profile):
        if ballots.methods != methods_t:
            raise ValueError("profile was built for other methods")
        if ballot_size is not None and ballot_size != ballots.ballot_size:
            raise ValueError("profile was built for another ballot size")
        return ballots
    # Identical rankings are counted once: a room's ballots repeat a lot.
    distinct = Counter(map(tuple, ballots))
    keys = list(distinct)
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
    longest = int(lengths.max()) if len(keys) else 0
    if ballot_size is not None and ballot_size < 1:
        raise ValueError("ballot_size must be at least 1")
    k = max(1, longest) if ballot_size is None else ballot_size
    known = frozenset(methods_t)
    for ranking in keys:  # the ballot box's own rule (`EmptyBallot`, `UnknownMethod`, ...)
        check_ranking(ranking, known, k)
    index = {m: i for i, m in enumerate(methods_t)}
    flat = [index[m] for ranking in keys for m in ranking]
    rankings = np.full((len(keys), k), -1, dtype=np.int64)
    rankings[np.arange(k) < lengths[:, None]] = flat
    counts = np.fromiter(distinct.values(), dtype=np.int64, count=len(keys))
    # Counter keeps first-seen order; sort rows so not even the encoding reflects arrival.
    order = np.lexsort(rankings.T[::-1])
    return Profile(methods_t, k, rankings[order], counts[order])


def position_counts(
    ballots: Ballots | Profile, methods: Sequence[MethodId], ballot_size: int | None = None
) -> dict[MethodId, tuple[int, ...]]:
    """For each method, how many ballots put it 1st, 2nd, ..., K-th."""
    p = build_profile(ballots, methods, ballot_size)
    return {m: tuple(row) for m, row in zip(p.methods, p.position_counts.tolist(), strict=True)}
