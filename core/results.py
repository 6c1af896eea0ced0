"""What screens may show about a ballot box: the live count, batched live tallies, the final
tally, the opened ballots and the receipts.

Live tallies are published only through `core.reveal_policy` (each counts all but k of the
stored ballots, at least k more than the last one) and stored as aggregates: per-method
points, first choices and appearances plus the resulting orderings. This module must never store or
return how many ballots carried a given ranking, never show anything individual before the
reveal, and never return ballots in an order that could follow the order of casting.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.ballot_box import sealed_ballots, workshop_row
from core.ballot_values import (
    NotRevealed,
    OpenedBallot,
    ballot_aad,
    open_ballots,
    ranking_from_text,
    shuffled,
)
from core.crypto import human_codes
from core.db import Database
from core.domain import Stage, WorkshopCode
from core.limits import MAX_CODE_TEXT
from core.live_key import live_keypair
from core.models import (
    OPENED_BALLOTS,
    RESULT_PUBLICATIONS,
    SEALED_BALLOTS,
    WORKSHOPS,
    Method,
    Role,
)
from core.publication import PublishedResults, aggregate, parse_publication, store_publication
from core.reveal_policy import RevealDecision, decide_reveal
from core.tally.profile import CountingId

# What a live publication counts: the positional figures, which the stored aggregates
# determine completely (instant-runoff and Schulze need more than aggregates; they are
# shown after the reveal).
LIVE_COUNTING: Final[tuple[CountingId, ...]] = ("points", "first_choices", "appearances")

_W = WORKSHOPS.c
_B = SEALED_BALLOTS.c
_O = OPENED_BALLOTS.c
_P = RESULT_PUBLICATIONS.c


def _workshop_row(session: Session, code: WorkshopCode) -> Any:
    return workshop_row(session, code, _W.is_live_results, is_typed=True)


def _count(session: Session, workshop_id: int) -> int:
    return int(session.scalar(select(func.count()).where(_B.workshop_id == workshop_id)) or 0)


def ballot_count(db: Database, code: WorkshopCode) -> int:
    """How many ballots are in the box (always allowed: the count alone says nothing)."""
    with db.read.begin() as session:
        return _count(session, _workshop_row(session, code).id)


def _decision(session: Session, workshop_id: int, stage: Stage, k: int) -> RevealDecision:
    last = session.scalar(select(_P.ballots_counted).where(_P.workshop_id == workshop_id))
    return decide_reveal(
        last, _count(session, workshop_id), k=k, is_voting_closed=stage.awaits_reveal
    )


def refresh_live_results(db: Database, secret_key: bytes, code: WorkshopCode) -> None:
    """Publish a new live tally if the workshop shows live results, this server holds the
    box key (`live_key.unlock_live_results`, memory only) and `reveal_policy` says so: the
    tally counts a random `current - k` of the stored ballots and at least k more than the
    last one, so no two publications (nor the last one and the final tally) can be
    subtracted to show fewer than k ballots. Otherwise does nothing.

    Safe to call from every projector every second: it reads two counts and returns unless
    a batch is due. `secret_key` is unused since the key left the database; kept so callers
    need not change.
    """
    del secret_key
    with db.read.begin() as session:
        w = _workshop_row(session, code)
        if not w.is_live_results or not w.stage.shows_live_results:
            return
        keypair = live_keypair(db, w.id)
        if keypair is None:
            return
        decision = _decision(session, w.id, w.stage, w.anonymity_k)
    if not decision.should_publish:
        return
    with db.write.begin() as session:
        # FOR UPDATE: batches (FOR SHARE on this row) wait, so the count and the tally below
        # see the same ballots; a second projector publishing at the same moment waits and
        # then finds nothing new. SQLite serialises writers already.
        current = session.execute(
            select(_W.stage).where(_W.id == w.id).with_for_update()
        ).scalar_one()
        if not current.shows_live_results:
            return
        # Decided again under the lock: another projector may have published meanwhile.
        decision = _decision(session, w.id, current, w.anonymity_k)
        if not decision.should_publish:
            return
        blobs = sealed_ballots(session, w.id)
        # Which ballots are held back is drawn afresh each time, never by storage order.
        counted = shuffled(blobs)[: decision.ballots_to_publish]
        methods = list(
            session.scalars(
                select(Method.key).where(Method.workshop_id == w.id).order_by(Method.position)
            )
        )
        roles = list(session.scalars(select(Role.key).where(Role.workshop_id == w.id)))
        opened = open_ballots(
            keypair, counted, ballot_aad(w.id, w.code), methods, roles, w.ballot_size
        )
        results = aggregate(
            [b.ranking for b in opened], methods, w.ballot_size, LIVE_COUNTING, is_final=False
        )
        store_publication(session, w.id, results)


def live_decision(db: Database, code: WorkshopCode) -> RevealDecision | None:
    """What the projector says about the live tally (how many ballots until the next one,
    or how many appear only at the reveal); None unless live results while voting/closed."""
    with db.read.begin() as session:
        w = _workshop_row(session, code)
        if not w.is_live_results or not w.stage.shows_live_results:
            return None
        return _decision(session, w.id, w.stage, w.anonymity_k)


def published_results(db: Database, code: WorkshopCode) -> PublishedResults | None:
    """What the projector may show: the final tally after the reveal; for a live-results
    workshop the last batched publication; otherwise None."""
    with db.read.begin() as session:
        w = _workshop_row(session, code)
        if w.stage.shows_results:
            methods = list(
                session.scalars(
                    select(Method.key).where(Method.workshop_id == w.id).order_by(Method.position)
                )
            )
            rankings = [
                ranking_from_text(r)
                for r in session.scalars(select(_O.ranking).where(_O.workshop_id == w.id))
            ]
            stored_final = session.scalar(select(_P.tally_json).where(_P.workshop_id == w.id))
            merged = parse_publication(stored_final).roles_merged if stored_final else ()
            final = aggregate(rankings, methods, w.ballot_size, None, is_final=True)
            return replace(final, roles_merged=merged)
        if not w.is_live_results:
            return None
        stored = session.scalar(select(_P.tally_json).where(_P.workshop_id == w.id))
    return None if stored is None else parse_publication(stored)


def opened_rankings(db: Database, code: WorkshopCode) -> list[OpenedBallot]:
    """Every opened ballot, only after the reveal (`NotRevealed` before).

    Sorted by ranking, then role (no role first), so the order depends only on the contents.
    """
    with db.read.begin() as session:
        w = _workshop_row(session, code)
        if not w.stage.shows_results:
            raise NotRevealed("ballots are listed after the reveal")
        rows = session.execute(select(_O.role, _O.ranking).where(_O.workshop_id == w.id)).all()
    out = [OpenedBallot(role, ranking_from_text(ranking)) for role, ranking in rows]
    out.sort(key=lambda b: (b.ranking, b.role is not None, b.role or ""))
    return out


def receipts(db: Database, code: WorkshopCode) -> list[str]:
    """Every ballot's receipt, sorted, only after the reveal (`NotRevealed` before)."""
    with db.read.begin() as session:
        w = _workshop_row(session, code)
        if not w.stage.shows_results:
            raise NotRevealed("receipts are listed after the reveal")
        return sorted(session.scalars(select(_B.receipt).where(_B.workshop_id == w.id)))


def verify_receipt(db: Database, code: WorkshopCode, receipt: str) -> bool:
    """Whether a ballot with this receipt is in the box. Malformed text is simply False.

    A receipt proves that a ballot was counted, not what it said.
    """
    if not isinstance(receipt, str) or len(receipt) > MAX_CODE_TEXT:
        return False
    try:
        normalized = human_codes.normalize_receipt(receipt)
    except human_codes.MalformedReceipt:
        return False
    with db.read.begin() as session:
        w = _workshop_row(session, code)
        found = session.scalar(
            select(func.count()).where(_B.workshop_id == w.id, _B.receipt == normalized)
        )
    return bool(found)
