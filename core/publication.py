"""A publication: the aggregate figures and orderings the projector may show, and their
stored form (`result_publications`), live or final.

Stored as aggregates only: per-method points, first choices and appearances plus the
resulting orderings. Must never store how many ballots carried a given ranking.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.domain import MethodId
from core.models import RESULT_PUBLICATIONS, ResultPublication
from core.tally.profile import CountingId, build_profile
from core.tally.registry import tally_all
from core.tally.result import TallyResult

_FORMAT_VERSION: Final = 1


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


def aggregate(
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


def parse_publication(text: str) -> PublishedResults:
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


def final_roles_merged(session: Session, workshop_id: int) -> tuple[str, ...]:
    """The roles the stored final publication merged against subtraction (none if absent)."""
    stored = session.scalar(
        select(RESULT_PUBLICATIONS.c.tally_json).where(
            RESULT_PUBLICATIONS.c.workshop_id == workshop_id
        )
    )
    return parse_publication(stored).roles_merged if stored else ()


def store_publication(session: Session, workshop_id: int, results: PublishedResults) -> None:
    payload = _to_json(results)
    changed = session.execute(
        update(RESULT_PUBLICATIONS)
        .where(RESULT_PUBLICATIONS.c.workshop_id == workshop_id)
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
    """Store the final tally inside the reveal's transaction (called by `core.reveal.reveal`),
    with the names of the roles the reveal merged against subtraction (no counts)."""
    results = replace(
        aggregate(rankings, methods, ballot_size, None, is_final=True),
        roles_merged=tuple(sorted(roles_merged)),
    )
    store_publication(session, workshop_id, results)
    return results
