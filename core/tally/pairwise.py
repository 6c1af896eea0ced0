"""The pairwise preference matrix: how many ballots rank one method above another."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.domain import MethodId
from core.tally.profile import Ballots, IntArray, Profile, build_profile


@dataclass(frozen=True)
class Pairwise:
    """`prefer[a][b]`: ballots ranking method a above method b (indices into `methods`).

    A ranked method beats an unranked one; two unranked methods are tied on that ballot.
    """

    methods: tuple[MethodId, ...]
    prefer: tuple[tuple[int, ...], ...]

    def margin(self, a: MethodId, b: MethodId) -> int:
        i, j = self.methods.index(a), self.methods.index(b)
        return self.prefer[i][j] - self.prefer[j][i]


def pairwise_array(p: Profile) -> IntArray:
    n_methods, k = len(p.methods), p.ballot_size
    # place[b, m]: position of method m on distinct ballot b, K when unranked.
    place = np.full((len(p.rankings), n_methods), k, dtype=np.int8 if k < 127 else np.int64)
    rows, cols = np.nonzero(p.rankings >= 0)
    place[rows, p.rankings[rows, cols]] = cols
    prefer = np.empty((n_methods, n_methods), dtype=np.int64)
    weights = p.counts.astype(np.float64)
    for a in range(n_methods):
        prefer[a] = np.rint(weights @ (place[:, a : a + 1] < place)).astype(np.int64)
    return prefer


def pairwise(
    ballots: Ballots | Profile, methods: Sequence[MethodId], ballot_size: int | None = None
) -> Pairwise:
    """The pairwise preference matrix (for the report and for Schulze)."""
    p = build_profile(ballots, methods, ballot_size)
    return Pairwise(p.methods, tuple(tuple(row) for row in pairwise_array(p).tolist()))
