"""Summary points: what the facilitator reads back to the room about each question.

Grant-checked; a question's summary is replaced as a whole (0..8 points, each 1..200
characters). This module must never hold anything that names a note's author: points are the
facilitator's own words.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select

from core.console_access import Console
from core.db import Database
from core.domain import WorkshopCode
from core.errors import BeiduiError
from core.limits import MAX_SUMMARY_POINT_LENGTH, MAX_SUMMARY_POINTS
from core.models import SummaryPoint
from core.notes import question_at
from core.text import normalize_text
from core.workshops import load_workshop


class TooManySummaryPoints(BeiduiError, key="notes.errors.summary_too_many"): ...


class InvalidSummaryPoint(BeiduiError, key="notes.errors.summary_point_length"): ...


def set_summary_points(
    console: Console,
    question: int,
    points: Sequence[str],
) -> None:
    """Replace the question's summary with `points` (0..8, each 1..200 characters)."""
    with console.db.write.begin() as session:
        w = console.workshop(session, locked=True)
        q = question_at(w, question)
        if len(points) > MAX_SUMMARY_POINTS:
            raise TooManySummaryPoints("too many points", high=MAX_SUMMARY_POINTS)
        cleaned = [normalize_text(p) for p in points]
        for i, p in enumerate(cleaned):
            if not 1 <= len(p) <= MAX_SUMMARY_POINT_LENGTH:
                raise InvalidSummaryPoint(
                    "summary point length", point=i + 1, low=1, high=MAX_SUMMARY_POINT_LENGTH
                )
        session.execute(delete(SummaryPoint).where(SummaryPoint.question_id == q.id))
        session.add_all(
            SummaryPoint(question_id=q.id, position=i, text=p) for i, p in enumerate(cleaned)
        )


def summary_points(db: Database, code: WorkshopCode, question: int) -> list[str]:
    with db.read.begin() as session:
        q = question_at(load_workshop(session, code), question)
        return list(
            session.scalars(
                select(SummaryPoint.text)
                .where(SummaryPoint.question_id == q.id)
                .order_by(SummaryPoint.position)
            )
        )
