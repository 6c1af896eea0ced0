"""Casting as a room does, for tests: `submit_ballot` queues, and a ballot is written only
with its batch of at least k (or when voting closes), so tests submit first, then close or
fill the batch, then read the receipts with `receipts_of`."""

from __future__ import annotations

from collections.abc import Sequence

from core.casting import BallotState, Ticket, wait_for_ballot


def receipts_of(tickets: Sequence[Ticket], timeout: float = 60.0) -> list[str]:
    """Each ticket's receipt, waiting for its batch; fails if one was refused or still waits."""
    out: list[str] = []
    for ticket in tickets:
        status = wait_for_ballot(ticket.id, timeout)
        assert status.state is BallotState.STORED, status
        assert status.receipt is not None
        out.append(status.receipt)
    return out
