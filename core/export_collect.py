"""Collect a revealed workshop's export data: one read transaction, then the counting.

`collect` reads the workshop, its opened ballots, receipts, card counts, notes, themes and
summary points in ONE read transaction (so every file of a bundle describes the same
moment), then counts and shapes them into an `ExportData`. It must never read before the
reveal (`NotRevealed`), keep any order that follows casting or storage (ballots, notes and
receipts are sorted by content), or let a role below k through (`k_safe_breakdown`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.ballot_values import NotRevealed, ranking_from_text
from core.breakdown import Breakdown, Role, breakdown
from core.db import Database
from core.domain import MethodId, WorkshopCode
from core.export_data import Counts, ExportData, MethodShare, NoteRow, QuestionExport
from core.models import Card, Note, OpenedBallot, SealedBallot, SummaryPoint, Theme
from core.publication import final_roles_merged
from core.robustness import summarize
from core.tally.methods.instant_runoff import instant_runoff_with_explanation
from core.tally.pairwise import pairwise
from core.tally.profile import CountingId, position_counts
from core.tally.registry import DEFAULT_COUNTING, tally_all
from core.workshops import WorkshopView, load_workshop, view_of


def method_shares(
    rankings: Sequence[Sequence[MethodId]], methods: Sequence[MethodId], ballot_size: int
) -> tuple[MethodShare, ...]:
    """Every method's shares, in `methods` order (callers sort as they show them)."""
    counts = position_counts(rankings, methods, ballot_size)
    n = len(rankings)
    points = {m: sum(c * (ballot_size - i) for i, c in enumerate(counts[m])) for m in methods}
    total = sum(points.values())

    def pct(part: int, whole: int) -> float:
        return round(100 * part / whole, 1) if whole else 0.0

    return tuple(
        MethodShare(
            method=m,
            points=points[m],
            points_pct=pct(points[m], total),
            first_choices=counts[m][0],
            first_pct=pct(counts[m][0], n),
            chosen=sum(counts[m]),
            chosen_pct=pct(sum(counts[m]), n),
            average_score=round(points[m] / n, 2) if n else 0.0,
        )
        for m in methods
    )


def k_safe_breakdown(
    ballots_with_roles: Sequence[tuple[Role | None, Sequence[MethodId]]],
    methods: Sequence[MethodId],
    ballot_size: int | None,
    *,
    k: int,
    counting: CountingId = DEFAULT_COUNTING,
    offered: Sequence[Role] = (),
    merged_before: Sequence[Role] = (),
) -> Breakdown:
    """The role breakdown exports use: `core.breakdown.breakdown`, which also resists
    differencing (what it does not show is empty or holds at least k ballots)."""
    return breakdown(
        ballots_with_roles,
        methods,
        ballot_size,
        k=k,
        counting=counting,
        offered=offered,
        merged_before=merged_before,
    )


# --- the read -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stored:
    """What the database holds for an export, read in one transaction, not yet counted."""

    workshop: WorkshopView
    with_roles: tuple[tuple[Role | None, tuple[MethodId, ...]], ...]
    roles_merged: tuple[Role, ...]
    questions: tuple[QuestionExport, ...]
    receipts: tuple[str, ...]
    cards_issued: int
    cards_spent: int
    revealed_on: str


def _read(session: Session, code: WorkshopCode) -> _Stored:
    w = load_workshop(session, code)
    view = view_of(w)
    if not view.stage.shows_results:
        raise NotRevealed(f"workshop {view.code} is {view.stage.value}", stage=view.stage.value)
    ballots = session.execute(
        select(OpenedBallot.role, OpenedBallot.ranking).where(OpenedBallot.workshop_id == w.id)
    ).all()
    receipts = session.scalars(select(SealedBallot.receipt).where(SealedBallot.workshop_id == w.id))
    issued, spent = session.execute(
        select(func.count(), func.count().filter(Card.is_spent.is_(True))).where(
            Card.workshop_id == w.id
        )
    ).one()
    return _Stored(
        workshop=view,
        with_roles=tuple((role or None, ranking_from_text(ranking)) for role, ranking in ballots),
        roles_merged=final_roles_merged(session, w.id),
        questions=_questions(session, view),
        receipts=tuple(sorted(receipts)),
        cards_issued=int(issued),
        cards_spent=int(spent),
        # Revealed is the last stage, so its last change is the reveal (minute precision).
        revealed_on=w.stage_changed_at.date().isoformat(),
    )


def _questions(session: Session, w: WorkshopView) -> tuple[QuestionExport, ...]:
    """Each question with its notes, themes (facilitator order) and summary points.

    After the reveal no question holds notes back for a batch, so every stored note is on
    its wall (hidden ones flagged); notes still waiting in server memory are never here:
    the last few notes of a question are exactly the ones someone may remember being typed.
    """
    position = {q.id: q.position for q in w.questions}
    ids = list(position)
    notes = session.execute(
        select(Note.question_id, Note.text, Theme.name, Note.dots, Note.is_hidden)
        .outerjoin(Theme, Theme.id == Note.theme_id)
        .where(Note.question_id.in_(ids))
    ).all()
    themes = session.execute(
        select(Theme.question_id, Theme.name)
        .where(Theme.question_id.in_(ids))
        .order_by(Theme.position, Theme.id)
    ).all()
    points = session.execute(
        select(SummaryPoint.question_id, SummaryPoint.text)
        .where(SummaryPoint.question_id.in_(ids))
        .order_by(SummaryPoint.position)
    ).all()
    rows = sorted(
        (
            NoteRow(position[qid], text, theme or None, int(dots), bool(hidden))
            for qid, text, theme, dots, hidden in notes
        ),
        key=_note_order,
    )
    return tuple(
        QuestionExport(
            q.position,
            q.text,
            tuple(name for qid, name in themes if qid == q.id),
            tuple(text for qid, text in points if qid == q.id),
            tuple(n for n in rows if n.question == q.position),
        )
        for q in w.questions
    )


def _note_order(n: NoteRow) -> tuple[int, bool, str, int, str, bool]:
    # By content only (question, theme, most dots first, text), never storage order.
    return (n.question, n.theme is None, n.theme or "", -n.dots, n.text, n.is_hidden)


# --- the counting -------------------------------------------------------------------------


def collect(db: Database, code: WorkshopCode) -> ExportData:
    """Gather a revealed workshop's data; `NotRevealed` before the reveal."""
    with db.read.begin() as session:
        stored = _read(session, code)
    w = stored.workshop
    # Sorted by content, whatever order storage gave: row order must never follow casting.
    rankings = tuple(sorted(ranking for _, ranking in stored.with_roles))
    methods = w.method_keys
    tallies = tally_all(rankings, methods, w.ballot_size)
    _, irv = instant_runoff_with_explanation(rankings, methods, w.ballot_size)
    head_to_head = pairwise(rankings, methods, w.ballot_size)
    # "Close" = a lead no bigger than what one ballot's first choice is worth (K points).
    robustness = (
        tuple(summarize(tallies, close_within=w.ballot_size, pairwise=head_to_head))
        if rankings
        else ()
    )
    by_method = {s.method: s for s in method_shares(rankings, methods, w.ballot_size)}
    safe = k_safe_breakdown(
        sorted(stored.with_roles, key=lambda pair: (pair[0] or "", pair[1])),
        methods,
        w.ballot_size,
        k=w.anonymity_k,
        offered=[r.key for r in w.roles],
        merged_before=stored.roles_merged,
    )
    return ExportData(
        workshop=w,
        rankings=rankings,
        tallies=tallies,
        irv=irv,
        robustness=robustness,
        shares=tuple(by_method[m] for m in tallies[DEFAULT_COUNTING].order),
        head_to_head=head_to_head,
        breakdown=safe,
        questions=stored.questions,
        receipts=stored.receipts,
        counts=Counts(len(rankings), stored.cards_issued, stored.cards_spent),
        revealed_on=stored.revealed_on,
    )
