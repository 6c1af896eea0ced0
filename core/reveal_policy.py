"""When may a live tally be republished, and of how many ballots? A pure decision, no clock
and no storage.

The ballot COUNT may be shown live. A tally may not: any two publications (live batches,
the one at close, and the final tally at the reveal) must differ by at least k ballots, or
subtracting one from the other shows the few ballots in between — the last voter's ranking,
exactly, if the final tally followed a live one by one ballot. So a live tally always holds
back the newest k ballots (it counts `current - k` of them, a random subset chosen by the
caller), and is republished only when that adds at least k ballots to the last one. The
final tally counts everything, so it is at least k ballots ahead of the last live one; the
held-back ballots appear only at the reveal. This module must never look at ballot
contents or arrival times: only counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from core.breakdown import check_threshold
from core.i18n import Message
from core.limits import DEFAULT_ANONYMITY_K


class RevealReason(Enum):
    """Why a tally is, or is not, published now."""

    BATCH_COMPLETE = "batch_complete"
    """The tally may now count at least k more ballots than the last publication."""
    WAITING = "waiting"
    """Not yet k more ballots (beyond the k always held back) while voting is open."""
    HELD_FOR_REVEAL = "held_for_reveal"
    """Voting closed: the ballots not in the last live tally appear only at the reveal."""


@dataclass(frozen=True)
class RevealDecision:
    """Whether to publish, how many ballots to count, why, and how many more are needed."""

    should_publish: bool
    reason: RevealReason
    ballots_until_next: int
    """While voting: new ballots still needed for the next publication; otherwise 0."""
    ballots_to_publish: int = 0
    """How many ballots the new tally counts (when publishing): always `current - k`."""
    ballots_held: int = 0
    """Ballots in the box but in no published tally (shown after voting closed)."""

    @property
    def message(self) -> Message:
        return Message(
            f"tally.reveal.{self.reason.value}",
            {"remaining": self.ballots_until_next, "held": self.ballots_held},
        )


def decide_reveal(
    last_published_count: int | None,
    current_count: int,
    *,
    k: int = DEFAULT_ANONYMITY_K,
    is_voting_closed: bool = False,
) -> RevealDecision:
    """Decide whether to publish a live tally now that `current_count` ballots are stored.

    `last_published_count` is the ballot count of the last published tally, None if none
    was published yet. Counts only grow; a smaller current count is a bug and raises. The
    final tally is not decided here: it is published at the reveal and counts every ballot.
    """
    check_threshold(k)
    last = 0 if last_published_count is None else last_published_count
    if current_count < 0 or last < 0 or current_count < last:
        raise ValueError("ballot counts must be non-negative and never decrease")
    publishable = current_count - k
    if publishable - last >= k:
        return RevealDecision(
            True,
            RevealReason.BATCH_COMPLETE,
            0,
            ballots_to_publish=publishable,
            ballots_held=k if is_voting_closed else 0,
        )
    if is_voting_closed:
        # Closing adds no exception: a tally of the remainder (fewer than k since the last
        # one) would hand the last voters' rankings to anyone who subtracts.
        return RevealDecision(
            False, RevealReason.HELD_FOR_REVEAL, 0, ballots_held=current_count - last
        )
    return RevealDecision(False, RevealReason.WAITING, last + 2 * k - current_count)
