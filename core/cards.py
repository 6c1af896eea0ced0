"""Voting cards: issuing them, voiding the leftovers, counting them, and a card's digest.

Only HMAC digests (instance secret + workshop salt) are stored. Nothing here ever says which
card is which, and nothing links a card to a ballot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.ballot_box import Box, workshop_id_of
from core.ballot_values import CardsNotUsed, InvalidCardCount, VotingClosed
from core.console_access import Console
from core.crypto import human_codes
from core.db import Database
from core.domain import WorkshopCode
from core.limits import MAX_CARDS_PER_CALL, MAX_CODE_TEXT
from core.models import CARDS
from core.ratelimit import AttemptLimiter
from core.workshops import WorkshopNotFound

# One limiter per process, shared by every page session: wrong card codes from one client
# make that client wait (see core/ratelimit.py). Tests may call `CARD_LIMITER` directly.
CARD_LIMITER: Final = AttemptLimiter()


@dataclass(frozen=True)
class CardCounts:
    """How many cards a workshop has issued, and how many of them are spent or void."""

    issued: int
    spent: int
    void: int

    @property
    def unused(self) -> int:
        return self.issued - self.spent - self.void


def issue_cards(console: Console, count: int) -> list[str]:
    """Issue `count` (1..500) new single-use cards and return their codes, once.

    Only HMAC digests (instance secret + workshop salt) are stored: the codes returned here
    exist nowhere else, so print them now. Allowed before and during voting, never after.
    """
    is_count = isinstance(count, int) and not isinstance(count, bool)
    if not is_count or not 1 <= count <= MAX_CARDS_PER_CALL:
        raise InvalidCardCount("card count", low=1, high=MAX_CARDS_PER_CALL)
    for _attempt in range(5):
        codes: set[str] = set()
        while len(codes) < count:
            codes.add(human_codes.new_card_code())
        try:
            with console.db.write.begin() as session:
                w = console.workshop(session)
                if w.is_open_mode:
                    raise CardsNotUsed("open mode")
                if w.stage.has_voting_ended:
                    raise VotingClosed("voting has ended", stage=w.stage)
                assert w.secrets is not None
                salt = w.secrets.card_salt
                # Digest order is random: the stored order says nothing about the printed one.
                digests = sorted(
                    human_codes.card_digest(console.secret_key, salt, c) for c in codes
                )
                rows = [
                    {"digest": d, "workshop_id": w.id, "is_spent": False, "is_void": False}
                    for d in digests
                ]
                session.execute(insert(CARDS), rows)
        except IntegrityError:
            continue  # a 43.7-bit code collided with an existing card: draw the batch again
        return list(codes)
    raise InvalidCardCount("could not draw unique card codes", low=1, high=MAX_CARDS_PER_CALL)


def void_unused_cards(console: Console) -> int:
    """Void every card of this workshop not yet spent (e.g. leftovers after the session)."""
    with console.db.write.begin() as session:
        w = console.workshop(session)
        result = session.execute(
            update(CARDS)
            .where(
                CARDS.c.workshop_id == w.id, CARDS.c.is_spent.is_(False), CARDS.c.is_void.is_(False)
            )
            .values(is_void=True)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def card_counts(db: Database, code: WorkshopCode) -> CardCounts:
    """Issued / spent / void card counts (numbers only: never which card is which)."""
    with db.read.begin() as session:
        wid = workshop_id_of(session, code)
        if wid is None:
            raise WorkshopNotFound(f"no workshop {code!r}", code=code)
        # One pass over the workshop's cards: three counts, never which card is which.
        row = session.execute(
            select(
                func.count(),
                func.count().filter(CARDS.c.is_spent.is_(True)),
                func.count().filter(CARDS.c.is_void.is_(True)),
            ).where(CARDS.c.workshop_id == wid)
        ).one()
        issued, spent, void = int(row[0]), int(row[1]), int(row[2])
    return CardCounts(issued=issued, spent=spent, void=void)


def card_digest(secret_key: bytes, box: Box, card_code: str) -> bytes:
    """The stored digest of a typed card code (crypto's `MalformedCardCode` if malformed)."""
    if not isinstance(card_code, str) or len(card_code) > MAX_CODE_TEXT:
        raise human_codes.CardCodeWrongLength(expected=human_codes.CARD_CODE_LENGTH)
    return human_codes.card_digest(secret_key, box.card_salt, card_code)
