"""The casting path's SQL: built once, compiled once per dialect.

On SQLite the batch writer runs these on the pooled driver connection (`sqlite_statements`),
because SQLAlchemy's per-statement work cost as much as the writing itself
(benchmarks/cast.py); PostgreSQL runs them through SQLAlchemy.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from core.db import Database
from core.models import CARDS, SEALED_BALLOTS, WORKSHOPS

_W = WORKSHOPS.c
_C = CARDS.c

# Built once: compiled once per dialect, then reused from SQLAlchemy's statement cache.
STAGE_FOR_CAST = (
    select(_W.stage).where(_W.id == bindparam("wid")).with_for_update(read=True)
)  # FOR SHARE on PostgreSQL: close_voting's UPDATE waits for casts in flight, and casts
# that start after it see CLOSED; SQLite's BEGIN IMMEDIATE already serialises writers.
SPEND_CARD = (
    update(CARDS)
    .where(
        _C.digest == bindparam("b_digest"),
        _C.workshop_id == bindparam("b_wid"),
        _C.is_spent.is_(False),
        _C.is_void.is_(False),
    )
    .values(is_spent=True)
)
CARD_STATE = select(_C.is_spent, _C.is_void).where(
    _C.digest == bindparam("b_digest"), _C.workshop_id == bindparam("b_wid")
)
INSERT_SEALED = insert(SEALED_BALLOTS)
# The stage as `submit_ballot` reads it: no lock, the batch's transaction checks it again.
STAGE_READ = select(_W.stage).where(_W.id == bindparam("wid"))
# The state of a group of cards (an unknown card has no row).
CARDS_STATE_IN = select(_C.digest, _C.is_spent, _C.is_void).where(
    _C.workshop_id == bindparam("b_wid"), _C.digest.in_(bindparam("b_digests", expanding=True))
)


@functools.lru_cache(maxsize=64)
def sqlite_cards_in(n: int) -> str:
    """`CARDS_STATE_IN` for SQLite's driver with `n` digests: workshop id, then digests."""
    marks = ", ".join("?" * n)
    return (
        f"SELECT {_C.digest.name}, {_C.is_spent.name}, {_C.is_void.name} FROM {CARDS.name} "
        f"WHERE {_C.workshop_id.name} = ? AND {_C.digest.name} IN ({marks})"
    )


@dataclass(frozen=True)
class Prepared:
    """A Core statement compiled once for a dialect: its SQL and its parameter order."""

    sql: str
    names: tuple[str, ...]
    defaults: dict[str, Any]

    @classmethod
    def of(cls, db: Database, stmt: Any) -> Prepared:
        compiled = stmt.compile(dialect=db.engine.dialect)
        return cls(str(compiled), tuple(compiled.positiontup or ()), dict(compiled.params))

    def args(self, values: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(values[n] if n in values else self.defaults[n] for n in self.names)


_SQLITE_PREPARED: dict[str, Prepared] = {}


def sqlite_statements(db: Database) -> dict[str, Prepared]:
    if not _SQLITE_PREPARED:
        _SQLITE_PREPARED.update(
            stage=Prepared.of(db, STAGE_FOR_CAST),
            read_stage=Prepared.of(db, STAGE_READ),
            spend=Prepared.of(db, SPEND_CARD),
            insert=Prepared.of(db, INSERT_SEALED),
        )
    return _SQLITE_PREPARED
