"""What screens may show about a ballot box: the live count, batched live tallies, the final
tally, the opened ballots and the receipts.

Live tallies are published only through `core.reveal_policy` (each counts all but k of the
stored ballots, at least k more than the last one) and stored as aggregates: per-method
points, first choices and appearances plus the resulting orderings. This module must never store or
return how many ballots carried a given ranking, never show anything individual before the
reveal, and never return ballots in an order that could follow the order of casting.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.ballots import (
    NotRevealed,
    _shuffled,
    ballot_aad,
    join_code,
    live_keypair,
    open_ballots,
)
from core.crypto import human_codes
from core.db import Database
from core.domain import Stage, WorkshopCode
from core.models import (
    OPENED_BALLOTS,
    RESULT_PUBLICATIONS,
    SEALED_BALLOTS,
    WORKSHOP_SECRETS,
    WORKSHOPS,
    Method,
    ResultPublication,
    Role,
)
from core.reveal_policy import RevealDecision, decide_reveal
from core.tally.profile import CountingId, MethodId, build_profile
from core.tally.registry import tally_all
from core.tally.result import TallyResult
from core.workshops import WorkshopNotFound

# What a live publication counts: the positional figures, which the stored aggregates
# determine completely (instant-runoff and Schulze need more than aggregates; they are
# shown after the reveal).
LIVE_COUNTING: Final[tuple[CountingId, ...]] = ("points", "first_choices", "appearances")
_FORMAT_VERSION: Final = 1

_W = WORKSHOPS.c
_S = WORKSHOP_SECRETS.c
_B = SEALED_BALLOTS.c
_O = OPENED_BALLOTS.c
_P = RESULT_PUBLICATIONS.c


@dataclass(frozen=True)
class MethodTotals:
    """One method's aggregate figures: K points for a first place down to 1 for a K-th."""

    method: MethodId
    points: int
    first_choices: int
    appearances: int


@dataclass(frozen=True)
class PublishedResults:
    """What the projector may show now.

    Live (`is_final` False): the last batched publication, counting `ballots_counted`
    ballots (fewer than `ballot_count` while voting goes on), with the positional tallies.
    Final (after the reveal): every registered counting method over every ballot.
    """

    ballots_counted: int
    is_final: bool
    ballot_size: int
    totals: tuple[MethodTotals, ...]
    """Per method, in the workshop's method order."""
    tallies: Mapping[CountingId, TallyResult]
    roles_merged: tuple[str, ...] = ()
    """Final only: roles with at least k ballots that the reveal stored merged into "other"
    to stop subtraction (`breakdown.GroupPlan.merged_against_subtraction`). Stored ballots no
    longer carry those roles, so this is how screens and exports can still say why."""


# --------------------------------------------------------------------------------------------
# Aggregates and their stored form
# --------------------------------------------------------------------------------------------


def _aggregate(
    rankings: Sequence[Sequence[MethodId]],
    methods: Sequence[MethodId],
    ballot_size: int,
    counting: Sequence[CountingId] | None,
    *,
    is_final: bool,
) -> PublishedResults:
    profile = build_profile(rankings, methods, ballot_size)
    positions = profile.position_counts
    totals = tuple(
        MethodTotals(
            method=m,
            points=int(profile.points[i]),
            first_choices=int(positions[i, 0]),
            appearances=int(positions[i].sum()),
        )
        for i, m in enumerate(profile.methods)
    )
    tallies = tally_all(profile, methods, ballot_size, counting)
    return PublishedResults(profile.ballot_count, is_final, profile.ballot_size, totals, tallies)


def _to_json(results: PublishedResults) -> str:
    return json.dumps(
        {
            "v": _FORMAT_VERSION,
            "is_final": results.is_final,
            "ballot_size": results.ballot_size,
            "ballots_counted": results.ballots_counted,
            "roles_merged": list(results.roles_merged),
            "totals": [
                [t.method, t.points, t.first_choices, t.appearances] for t in results.totals
            ],
            "tallies": {
                c: {
                    "ranks": [[rank, list(group)] for rank, group in r.ranks],
                    "scores": dict(r.scores),
                }
                for c, r in results.tallies.items()
            },
        },
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )


def _from_json(text: str) -> PublishedResults:
    data: dict[str, Any] = json.loads(text)
    n = int(data["ballots_counted"])
    return PublishedResults(
        ballots_counted=n,
        is_final=bool(data["is_final"]),
        ballot_size=int(data["ballot_size"]),
        totals=tuple(MethodTotals(str(m), int(p), int(f), int(a)) for m, p, f, a in data["totals"]),
        tallies={
            c: TallyResult(
                counting=c,
                ranks=tuple((int(rank), tuple(group)) for rank, group in t["ranks"]),
                scores={str(m): int(s) for m, s in t["scores"].items()},
                ballot_count=n,
            )
            for c, t in data["tallies"].items()
        },
        roles_merged=tuple(str(r) for r in data.get("roles_merged", ())),
    )


def _store_publication(session: Session, workshop_id: int, results: PublishedResults) -> None:
    payload = _to_json(results)
    changed = session.execute(
        update(RESULT_PUBLICATIONS)
        .where(_P.workshop_id == workshop_id)
        .values(ballots_counted=results.ballots_counted, tally_json=payload)
    )
    if changed.rowcount == 0:  # type: ignore[attr-defined]
        session.add(
            ResultPublication(
                workshop_id=workshop_id,
                ballots_counted=results.ballots_counted,
                tally_json=payload,
            )
        )


def publish_final(
    session: Session,
    workshop_id: int,
    methods: Sequence[MethodId],
    ballot_size: int,
    rankings: Sequence[Sequence[MethodId]],
    roles_merged: Sequence[str] = (),
) -> PublishedResults:
    """Store the final tally inside the reveal's transaction (called by `ballots.reveal`),
    with the names of the roles the reveal merged against subtraction (no counts)."""
    results = replace(
        _aggregate(rankings, methods, ballot_size, None, is_final=True),
        roles_merged=tuple(sorted(roles_merged)),
    )
    _store_publication(session, workshop_id, results)
    return results


# --------------------------------------------------------------------------------------------
# Services
# --------------------------------------------------------------------------------------------


def _workshop_row(session: Session, code: WorkshopCode) -> Any:
    row = session.execute(
        select(
            _W.id,
            _W.code,
            _W.stage,
            _W.ballot_size,
            _W.anonymity_k,
            _W.is_live_results,
        ).where(_W.code == join_code(code))
    ).one_or_none()
    if row is None:
        raise WorkshopNotFound(f"no workshop {code!r}", code=code)
    return row


def _count(session: Session, workshop_id: int) -> int:
    return int(session.scalar(select(func.count()).where(_B.workshop_id == workshop_id)) or 0)


def ballot_count(db: Database, code: WorkshopCode) -> int:
    """How many ballots are in the box (always allowed: the count alone says nothing)."""
    with db.read.begin() as session:
        return _count(session, _workshop_row(session, code).id)


def _decision(session: Session, workshop_id: int, stage: Stage, k: int) -> RevealDecision:
    last = session.scalar(select(_P.ballots_counted).where(_P.workshop_id == workshop_id))
    return decide_reveal(
        last, _count(session, workshop_id), k=k, is_voting_closed=stage == Stage.CLOSED
    )


def refresh_live_results(db: Database, secret_key: bytes, code: WorkshopCode) -> None:
    """Publish a new live tally if the workshop shows live results, this server holds the
    box key (`ballots.unlock_live_results`, memory only) and `reveal_policy` says so: the
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
        if not w.is_live_results or Stage(w.stage) not in (Stage.VOTING, Stage.CLOSED):
            return
        keypair = live_keypair(db, w.id)
        if keypair is None:
            return
        decision = _decision(session, w.id, Stage(w.stage), w.anonymity_k)
    if not decision.should_publish:
        return
    with db.write.begin() as session:
        # FOR UPDATE: batches (FOR SHARE on this row) wait, so the count and the tally below
        # see the same ballots; a second projector publishing at the same moment waits and
        # then finds nothing new. SQLite serialises writers already.
        current = session.execute(
            select(_W.stage).where(_W.id == w.id).with_for_update()
        ).scalar_one()
        if Stage(current) not in (Stage.VOTING, Stage.CLOSED):
            return
        # Decided again under the lock: another projector may have published meanwhile.
        decision = _decision(session, w.id, Stage(current), w.anonymity_k)
        if not decision.should_publish:
            return
        blobs = [bytes(b) for b in session.scalars(select(_B.sealed).where(_B.workshop_id == w.id))]
        # Which ballots are held back is drawn afresh each time, never by storage order.
        counted = _shuffled(blobs)[: decision.ballots_to_publish]
        methods = list(
            session.scalars(
                select(Method.key).where(Method.workshop_id == w.id).order_by(Method.position)
            )
        )
        roles = list(session.scalars(select(Role.key).where(Role.workshop_id == w.id)))
        opened = open_ballots(
            keypair, counted, ballot_aad(w.id, w.code), methods, roles, w.ballot_size
        )
        results = _aggregate(
            [r for r, _ in opened], methods, w.ballot_size, LIVE_COUNTING, is_final=False
        )
        _store_publication(session, w.id, results)


def live_decision(db: Database, code: WorkshopCode) -> RevealDecision | None:
    """What the projector says about the live tally (how many ballots until the next one,
    or how many appear only at the reveal); None unless live results while voting/closed."""
    with db.read.begin() as session:
        w = _workshop_row(session, code)
        if not w.is_live_results or Stage(w.stage) not in (Stage.VOTING, Stage.CLOSED):
            return None
        return _decision(session, w.id, Stage(w.stage), w.anonymity_k)


def published_results(db: Database, code: WorkshopCode) -> PublishedResults | None:
    """What the projector may show: the final tally after the reveal; for a live-results
    workshop the last batched publication; otherwise None."""
    with db.read.begin() as session:
        w = _workshop_row(session, code)
        if Stage(w.stage) == Stage.REVEALED:
            methods = list(
                session.scalars(
                    select(Method.key).where(Method.workshop_id == w.id).order_by(Method.position)
                )
            )
            rankings = [
                tuple(r.split("\n"))
                for r in session.scalars(select(_O.ranking).where(_O.workshop_id == w.id))
            ]
            stored_final = session.scalar(select(_P.tally_json).where(_P.workshop_id == w.id))
            merged = _from_json(stored_final).roles_merged if stored_final else ()
            final = _aggregate(rankings, methods, w.ballot_size, None, is_final=True)
            return replace(final, roles_merged=merged)
        if not w.is_live_results:
            return None
        stored = session.scalar(select(_P.tally_json).where(_P.workshop_id == w.id))
    return None if stored is None else _from_json(stored)


def opened_rankings(db: Database, code: WorkshopCode) -> list[tuple[str | None, tuple[str, ...]]]:
    """Every opened ballot as (role, ranking), only after the reveal (`NotRevealed` before).

    Sorted by ranking, then role (no role first), so the order depends only on the contents.
    """
    with db.read.begin() as session:
        w = _workshop_row(session, code)
        if Stage(w.stage) != Stage.REVEALED:
            raise NotRevealed("ballots are listed after the reveal")
        rows = session.execute(select(_O.role, _O.ranking).where(_O.workshop_id == w.id)).all()
    out = [(role, tuple(ranking.split("\n"))) for role, ranking in rows]
    out.sort(key=lambda rr: (rr[1], rr[0] is not None, rr[0] or ""))
    return out


def receipts(db: Database, code: WorkshopCode) -> list[str]:
    """Every ballot's receipt, sorted, only after the reveal (`NotRevealed` before)."""
    with db.read.begin() as session:
        w = _workshop_row(session, code)
        if Stage(w.stage) != Stage.REVEALED:
            raise NotRevealed("receipts are listed after the reveal")
        return sorted(session.scalars(select(_B.receipt).where(_B.workshop_id == w.id)))


def verify_receipt(db: Database, code: WorkshopCode, receipt: str) -> bool:
    """Whether a ballot with this receipt is in the box. Malformed text is simply False.

    A receipt proves that a ballot was counted, not what it said.
    """
    if not isinstance(receipt, str) or len(receipt) > 64:
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


__all__ = [
    "LIVE_COUNTING",
    "MethodTotals",
    "PublishedResults",
    "ballot_count",
    "live_decision",
    "opened_rankings",
    "published_results",
    "receipts",
    "refresh_live_results",
    "verify_receipt",
]
