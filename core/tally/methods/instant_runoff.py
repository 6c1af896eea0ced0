"""Instant-runoff: eliminate the method with fewest current first choices, round by round.

The rounds travel as data (`IrvExplanation`) and are put into words at the edge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

import numpy as np

from core.domain import MethodId
from core.i18n import Message
from core.tally.counting import counting_method
from core.tally.profile import Ballots, Profile, build_profile
from core.tally.result import TallyResult

IRV_TIE_RULE_KEY: Final = "tally.irv.tie_rule"
"""Locale key of the sentence the report prints to explain IRV's elimination tie rule."""


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


COUNTING = counting_method("instant_runoff", instant_runoff, position=40)
