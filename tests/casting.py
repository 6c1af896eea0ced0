"""Casting as a room does, for tests: `submit_ballot` queues, and a ballot is written only
with its batch of at least k (or when voting closes), so tests submit first, then close or
fill the batch, then read the receipts with `receipts_of`."""

from __future__ import annotations

from collections.abc import Sequence

from core.cards import issue_cards
from core.casting import BallotState, Ticket, submit_ballot, wait_for_ballot
from core.closing import close_voting
from core.console import move_to
from core.console_access import unlock_console
from core.domain import Stage, StagePosition
from core.instance import Admin, Instance
from core.templates import available_templates
from core.workshops import create_workshop


def receipts_of(tickets: Sequence[Ticket], timeout: float = 60.0) -> list[str]:
    """Each ticket's receipt, waiting for its batch; fails if one was refused or still waits."""
    out: list[str] = []
    for ticket in tickets:
        status = wait_for_ballot(ticket.id, timeout)
        assert status.state is BallotState.STORED, status
        assert status.receipt is not None
        out.append(status.receipt)
    return out


# Six ballots, k = 3: four partners (a group shown), one mentor and one without a role (each
# below k, shown merged). What the results tests (core view and page) start from.
VOTED_ROLES: tuple[str | None, ...] = ("partner",) * 4 + ("mentor", None)
VOTED_RANKING: tuple[str, ...] = ("action_research", "co_creation_fund")


def voted_and_closed(instance: Instance, name: str, passphrase: str) -> str:
    """A default-template workshop (k = 3) where six cards voted and voting closed; its code."""
    db, key = instance.db, instance.secret_key
    template = available_templates()["default"]
    code = create_workshop(Admin.trusted(db), template, name, passphrase, anonymity_k=3)
    unlocked = unlock_console(db, key, code, passphrase)
    cards = issue_cards(unlocked, len(VOTED_ROLES))
    move_to(unlocked, StagePosition(Stage.VOTING))
    for card, role in zip(cards, VOTED_ROLES, strict=True):
        submit_ballot(db, key, code, card, VOTED_RANKING, role)
    close_voting(unlocked)
    return code
