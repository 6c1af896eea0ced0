"""Counting ranked ballots: points, first choices, appearances, instant-runoff and Schulze.

Every function here is pure: it takes rankings (best first) and the workshop's candidate
list and returns a full ordering of ALL candidates, ties reported as ties. Nothing here
touches storage, time or randomness, and the candidate (template) order is never used to
break a tie -- only to list tied candidates in a stable order inside their shared rank.

Ballots are counted once per distinct ranking (`build_profile`), so the order in which
ballots arrived can never influence a result, and 100k ballots cost what ~25k distinct
rankings cost. A plain reference implementation lives in the tests and checks this one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Final

import numpy as np
import numpy.typing as npt

from core.ballot_values import check_ranking
from core.domain import MethodId
from core.i18n import Message

CountingId = str
"""A way of counting the ballots: a key of `COUNTING_METHODS`."""

Ranking = Sequence[MethodId]
Ballots = Sequence[Sequence[MethodId]]
IntArray = npt.NDArray[np.int64]

IRV_TIE_RULE_KEY: Final = "tally.irv.tie_rule"
"""Locale key of the sentence the report prints to explain IRV's elimination tie rule."""


# --- results ------------------------------------------------------------------------------


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


def _ordering(
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


# --- positional counts --------------------------------------------------------------------


def points(
    ballots: Ballots | Profile, methods: Sequence[MethodId], ballot_size: int | None = None
) -> TallyResult:
    """Rank 1 earns K points, rank 2 K-1, ..., rank K 1; unranked earns 0.

    A truncated ballot's rank r still earns K-r+1 (it is not rescaled to its own length).
    """
    p = build_profile(ballots, methods, ballot_size)
    return _ordering("points", p.methods, p.points.tolist(), p.ballot_count)


def first_choices(
    ballots: Ballots | Profile, methods: Sequence[MethodId], ballot_size: int | None = None
) -> TallyResult:
    """How many ballots rank each method first."""
    p = build_profile(ballots, methods, ballot_size)
    return _ordering("first_choices", p.methods, p.position_counts[:, 0].tolist(), p.ballot_count)


def appearances(
    ballots: Ballots | Profile, methods: Sequence[MethodId], ballot_size: int | None = None
) -> TallyResult:
    """How many ballots include each method anywhere in their top K."""
    p = build_profile(ballots, methods, ballot_size)
    return _ordering(
        "appearances", p.methods, p.position_counts.sum(axis=1).tolist(), p.ballot_count
    )


def position_counts(
    ballots: Ballots | Profile, methods: Sequence[MethodId], ballot_size: int | None = None
) -> dict[MethodId, tuple[int, ...]]:
    """For each method, how many ballots put it 1st, 2nd, ..., K-th."""
    p = build_profile(ballots, methods, ballot_size)
    return {m: tuple(row) for m, row in zip(p.methods, p.position_counts.tolist(), strict=True)}


# --- instant-runoff -----------------------------------------------------------------------


class IrvTieBreak(Enum):
    """How the methods eliminated in one IRV round were chosen."""

    NONE = "none"
    """One method had strictly the fewest votes."""
    POINTS = "points"
    """Several had the fewest votes; the one(s) with fewest points went."""
    TOGETHER = "together"
    """Several had the fewest votes and equal points; all went together (and stay tied)."""


@dataclass(frozen=True)
class IrvRound:
    """One IRV round: the votes of every method still standing, and who left."""

    number: int
    votes: Mapping[MethodId, int]
    exhausted: int
    eliminated: tuple[MethodId, ...]
    tie_break: IrvTieBreak
    majority: MethodId | None
    """The method holding more than half of the non-exhausted ballots, if any."""


@dataclass(frozen=True)
class IrvExplanation:
    rounds: tuple[IrvRound, ...]
    tie_rule: Message = field(default_factory=lambda: Message(IRV_TIE_RULE_KEY))

    def messages(self) -> list[Message]:
        """The narrative the report prints, one message per round, then the tie rule."""
        out: list[Message] = []
        for r in self.rounds:
            lowest = min(r.votes[m] for m in r.eliminated)
            if len(r.votes) == len(r.eliminated):
                out.append(
                    Message(
                        "tally.irv.round_final",
                        {"round": r.number, "methods": r.eliminated, "votes": lowest},
                    )
                )
                continue
            out.append(
                Message(
                    f"tally.irv.round_{r.tie_break.value}",
                    {
                        "round": r.number,
                        "methods": r.eliminated,
                        "votes": lowest,
                        "exhausted": r.exhausted,
                    },
                )
            )
        out.append(self.tie_rule)
        return out


def instant_runoff_with_explanation(
    ballots: Ballots | Profile, methods: Sequence[MethodId], ballot_size: int | None = None
) -> tuple[TallyResult, IrvExplanation]:
    """Instant-runoff: repeatedly eliminate the method with fewest current first choices.

    A ballot counts for its highest-ranked method still standing; a truncated ballot whose
    methods are all gone is exhausted. Elimination continues past a majority until every
    method has left, so the full ordering is the reverse elimination order (the winner is
    the same as stopping at a majority: a majority holder can never be lowest).

    Tie rule (locale key `IRV_TIE_RULE_KEY`): among methods tied on fewest votes, the one
    with fewest points (K..1 over all ballots) is eliminated; if several are also tied on
    points, they are eliminated together and share a rank. Never by template order.

    The score of a method is its vote count in the round it left (the winner's in the
    last round); a never-ranked method scores 0 and leaves first.
    """
    p = build_profile(ballots, methods, ballot_size)
    n_methods = len(p.methods)
    pts = p.points
    standing = np.ones(n_methods, dtype=bool)
    rankings, counts = p.rankings, p.counts
    # A copy: `top` is updated in place and must never write into the shared profile.
    top = rankings[:, 0].copy()
    total = p.ballot_count
    rounds: list[IrvRound] = []
    scores = [0] * n_methods
    groups: list[tuple[int, ...]] = []
    while standing.any():
        # Only ballots whose current choice just left need a new one; exhausted ballots
        # are dropped for good, so later rounds get cheaper.
        moved = ~standing[top]
        if moved.any():
            sub = rankings[moved]
            usable = (sub >= 0) & standing[np.maximum(sub, 0)]
            top[moved] = sub[np.arange(len(sub)), usable.argmax(axis=1)]
            live = np.ones(len(top), dtype=bool)
            live[np.flatnonzero(moved)[~usable.any(axis=1)]] = False
            rankings, counts, top = rankings[live], counts[live], top[live]
        votes = np.rint(np.bincount(top, weights=counts, minlength=n_methods)).astype(np.int64)
        active = int(counts.sum())
        idx = np.flatnonzero(standing)
        lowest = votes[idx].min()
        tied = idx[votes[idx] == lowest]
        tie_break = IrvTieBreak.NONE
        if len(tied) > 1:
            fewest = pts[tied].min()
            out = tied[pts[tied] == fewest]
            tie_break = IrvTieBreak.POINTS if len(out) == 1 else IrvTieBreak.TOGETHER
        else:
            out = tied
        leader = idx[votes[idx].argmax()]
        rounds.append(
            IrvRound(
                number=len(rounds) + 1,
                votes={p.methods[i]: int(votes[i]) for i in idx},
                exhausted=total - active,
                eliminated=tuple(p.methods[i] for i in out),
                tie_break=tie_break,
                majority=p.methods[leader] if 2 * votes[leader] > active else None,
            )
        )
        for i in out:
            scores[i] = int(votes[i])
        standing[out] = False
        groups.append(tuple(int(i) for i in out))
    ranks: list[tuple[int, tuple[MethodId, ...]]] = []
    place = 1
    for group in reversed(groups):
        ranks.append((place, tuple(p.methods[i] for i in group)))
        place += len(group)
    result = TallyResult(
        "instant_runoff", tuple(ranks), dict(zip(p.methods, scores, strict=True)), total
    )
    return result, IrvExplanation(tuple(rounds))


def instant_runoff(
    ballots: Ballots | Profile, methods: Sequence[MethodId], ballot_size: int | None = None
) -> TallyResult:
    """Instant-runoff; see `instant_runoff_with_explanation` for the rules."""
    return instant_runoff_with_explanation(ballots, methods, ballot_size)[0]


# --- pairwise / Schulze -------------------------------------------------------------------


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


def _pairwise_array(p: Profile) -> IntArray:
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
    return Pairwise(p.methods, tuple(tuple(row) for row in _pairwise_array(p).tolist()))


@dataclass(frozen=True)
class SchulzeExplanation:
    pairwise: Pairwise
    strongest_paths: tuple[tuple[int, ...], ...]
    """`strongest_paths[a][b]`: strength (smallest margin) of the best beat-path a to b."""


def schulze_with_explanation(
    ballots: Ballots | Profile, methods: Sequence[MethodId], ballot_size: int | None = None
) -> tuple[TallyResult, SchulzeExplanation]:
    """Schulze (beat-path) with margins as path strength, as pref_voting's `beat_path`.

    Method a beats b when the strongest path a->b is stronger than b->a; that relation is
    transitive but partial (two methods may beat each other neither way).

    The ranking rule, one for every counting method: methods are grouped by how many
    methods beat them (fewest first) and ranked with standard competition ranking, so a
    method's rank is 1 + the number of methods in better groups. That is NOT "1 + the
    number of methods that beat it": with ballots A>C and B, A beats C while B beats and is
    beaten by no one; A and B share rank 1 and C is 3rd (two methods above it), not 2nd.
    Rank 1 is exactly the Schulze winner set. The score is the number of methods it beats
    (never-ranked methods beat nobody: 0); methods in one group share a rank even when
    their scores differ.
    """
    p = build_profile(ballots, methods, ballot_size)
    prefer = _pairwise_array(p)
    margin = prefer - prefer.T
    strength = np.where(margin > 0, margin, 0)
    for via in range(len(p.methods)):
        strength = np.maximum(strength, np.minimum(strength[:, via : via + 1], strength[via]))
    np.fill_diagonal(strength, 0)
    beats = strength > strength.T
    beaten_by = beats.sum(axis=0)
    wins = beats.sum(axis=1)
    # Order by beaten_by ascending; _ordering sorts descending, so negate.
    ordered = _ordering("schulze", p.methods, (-beaten_by).tolist(), p.ballot_count)
    result = TallyResult(
        "schulze",
        ordered.ranks,
        {m: int(w) for m, w in zip(p.methods, wins, strict=True)},
        p.ballot_count,
    )
    pw = Pairwise(p.methods, tuple(tuple(row) for row in prefer.tolist()))
    return result, SchulzeExplanation(pw, tuple(tuple(row) for row in strength.tolist()))


def schulze(
    ballots: Ballots | Profile, methods: Sequence[MethodId], ballot_size: int | None = None
) -> TallyResult:
    """Schulze; see `schulze_with_explanation`."""
    return schulze_with_explanation(ballots, methods, ballot_size)[0]


# --- registry -----------------------------------------------------------------------------

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
