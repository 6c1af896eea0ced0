"""When may a live tally be republished? A pure decision, no clock and no storage.

The ballot COUNT may be shown live; a new tally only after at least k new ballots since the
last publication (so no single ballot's effect can be read off two consecutive results),
or when voting closes. The first publication needs k ballots too. This module must never
look at ballot contents or arrival times: only counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from core.breakdown import DEFAULT_K, check_threshold
from core.i18n import Message


class RevealReason(Enum):
    """Why a tally is, or is not, published now."""

    BATCH_COMPLETE = "batch_complete"
    """At least k ballots arrived since the last publication."""
    VOTING_CLOSED = "voting_closed"
    """Voting closed with ballots not yet in a published tally."""
    WAITING = "waiting"
    """Fewer than k new ballots while voting is open."""
    UP_TO_DATE = "up_to_date"
    """Voting closed and the last publication already counts every ballot."""


@dataclass(frozen=True)
class RevealDecision:
    """Whether to publish, why, and how many more ballots the next batch needs."""

    should_publish: bool
    reason: RevealReason
    ballots_until_next: int
    """0 when publishing or closed; otherwise new ballots still needed for the next batch."""

    @property
    def message(self) -> Message:
        return Message(f"tally.reveal.{self.reason.value}", {"remaining": self.ballots_until_next})


def decide_reveal(
    last_published_count: int | None,
    current_count: int,
    *,
    k: int = DEFAULT_K,
    is_voting_closed: bool = False,
) -> RevealDecision:
    """Decide whether to publish a new tally of `current_count` ballots.

    `last_published_count` is the ballot count of the last published tally, None if none
    was published yet. Counts only grow; a smaller current count is a bug and raises.
    """
    check_threshold(k)
    last = 0 if last_published_count is None else last_published_count
    if current_count < 0 or last < 0 or current_count < last:
        raise ValueError("ballot counts must be non-negative and never decrease")
    new = current_count - last
    if is_voting_closed:
        if new > 0 or last_published_count is None:
            return RevealDecision(True, RevealReason.VOTING_CLOSED, 0)
        return RevealDecision(False, RevealReason.UP_TO_DATE, 0)
    if new >= k:
        return RevealDecision(True, RevealReason.BATCH_COMPLETE, 0)
    return RevealDecision(False, RevealReason.WAITING, k - new)
