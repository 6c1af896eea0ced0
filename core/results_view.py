"""What each audience may see of a workshop's results, decided here and nowhere else.

- The room (the projector and the phones, `room_results`): the published tally only — the
  final one after the reveal, or, for a live-results workshop, the last batched publication
  (`core.results.published_results`) — with the few sentences read from the back of the
  room. Never an opened ballot, never a group of voters.
- The evaluators (a console holder, `evaluator_results`): after the reveal, also what the
  opened ballots show: the full account of how the counting methods agree with head-to-head
  counts, how often each method took each place, and the role breakdown, which shows only
  groups of at least k (`core.breakdown` re-checks that itself).

Pages only render these values; they never choose what an audience may see.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import robustness
from core.ballot_values import OpenedBallot
from core.breakdown import Breakdown, breakdown
from core.console_access import Console
from core.db import Database
from core.domain import MethodId, WorkshopCode
from core.i18n import Message
from core.publication import PublishedResults
from core.results import opened_rankings, published_results
from core.tally.pairwise import pairwise
from core.tally.profile import position_counts
from core.tally.registry import DEFAULT_COUNTING
from core.tally.result import TallyResult
from core.workshops import WorkshopView, get_workshop


@dataclass(frozen=True)
class RoomResults:
    """What the projector and the phones show: one published tally and its headline."""

    published: PublishedResults
    headline: tuple[Message, ...]
    """Two or three sentences: whether the counting methods agree, then the top two margins."""
    differences: tuple[Message, ...]
    """How the counting methods differ beyond the first sentence (one tap away)."""

    @property
    def default(self) -> TallyResult:
        """The ranking under the default counting method (the chart and the table)."""
        return self.published.tallies[DEFAULT_COUNTING]


def room_view(published: PublishedResults | None) -> RoomResults | None:
    """The room's view of a publication (None: nothing may be shown yet)."""
    if published is None:
        return None
    tallies = published.tallies
    agreement = robustness.agreement(tallies)
    headline = [*agreement[:1], *robustness.margins(tallies[DEFAULT_COUNTING], top=2)]
    return RoomResults(published, tuple(headline), tuple(agreement[1:]))


def room_results(db: Database, code: WorkshopCode) -> RoomResults | None:
    """What anyone in the room may see now (no grant needed)."""
    return room_view(published_results(db, code))


@dataclass(frozen=True)
class EvaluatorResults:
    """What a console holder sees on the results page."""

    is_revealed: bool
    """False before the reveal: nothing else is filled in."""
    published: PublishedResults | None = None
    account: tuple[Message, ...] = ()
    """Agreement between counting methods, then margins with head-to-head counts."""
    order: tuple[MethodId, ...] = ()
    """The order charts list methods in: the default ranking, else the template's."""
    places: dict[MethodId, tuple[int, ...]] | None = None
    """How many ballots put each method 1st, 2nd, ...; None when no ballot was opened."""
    roles: Breakdown | None = None
    """Groups of at least k only; None when no ballot was opened."""
    offered_roles: tuple[str, ...] = ()


def evaluator_view(
    w: WorkshopView, published: PublishedResults | None, rankings: list[OpenedBallot]
) -> EvaluatorResults:
    """The evaluators' view of a revealed workshop, from its publication and opened ballots."""
    account: list[Message] = []
    if published is not None:
        head_to_head = pairwise([r for _, r in rankings], w.method_keys, w.ballot_size)
        account = robustness.summarize(
            published.tallies, close_within=w.ballot_size, pairwise=head_to_head
        )
    order = published.tallies[DEFAULT_COUNTING].order if published else w.method_keys
    offered = tuple(r.key for r in w.roles)
    if not rankings:
        return EvaluatorResults(True, published, tuple(account), tuple(order), None, None, offered)
    only = [r for _, r in rankings]
    groups = breakdown(
        rankings,
        w.method_keys,
        w.ballot_size,
        k=w.anonymity_k,
        offered=offered,
        merged_before=published.roles_merged if published else (),
    )
    places = position_counts(only, w.method_keys, w.ballot_size)
    return EvaluatorResults(True, published, tuple(account), tuple(order), places, groups, offered)


def evaluator_results(unlocked: Console) -> EvaluatorResults:
    """What the holder of a live console may see of its workshop's results (`NotAuthorized`
    otherwise); before the reveal only that nothing is revealed yet."""
    unlocked.check()
    w = get_workshop(unlocked.db, unlocked.code)
    if not w.stage.shows_results:
        return EvaluatorResults(is_revealed=False)
    db, code = unlocked.db, unlocked.code
    return evaluator_view(w, published_results(db, code), opened_rankings(db, code))
