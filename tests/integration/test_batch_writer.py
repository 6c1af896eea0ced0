"""The batch writer under load: one thread writes, the others keep submitting.

A submit that completes a batch while another thread is writing one does not wait for the
database: the writer loops back and takes every ballot queued meanwhile (one commit for
all of them). And an event loop can await a ballot's batch through `notify_when_done`
instead of polling.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from core import batches, casting
from core.cards import issue_cards
from core.instance import Instance
from tests.casting import receipts_of
from tests.integration.test_ballots import distinct_rankings, open_room

K = 3


def test_a_submit_during_a_write_queues_for_the_writer_instead_of_waiting(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = open_room(instance, anonymity_k=K)
    cards = issue_cards(room.console, 3 * K)
    rankings = distinct_rankings(room, 3 * K)
    writing = threading.Event()
    may_finish = threading.Event()
    writers: list[tuple[str, int]] = []
    original = batches._commit_batch

    def slow_commit(db: Any, mixer: Any, batch: list[Any], **kw: Any) -> list[Any]:
        writers.append((threading.current_thread().name, len(batch)))
        if len(writers) == 1:
            writing.set()
            assert may_finish.wait(30)
        return original(db, mixer, batch, **kw)

    monkeypatch.setattr(batches, "_commit_batch", slow_commit)

    def submit(i: int) -> casting.Ticket:
        return casting.submit_ballot(
            room.db, room.key, room.code, cards[i], rankings[i], None, client_key=f"c{i}"
        )

    first: list[casting.Ticket] = []
    writer = threading.Thread(
        target=lambda: first.extend(submit(i) for i in range(K)), name="the-writer"
    )
    writer.start()
    assert writing.wait(30)
    # The first batch is being written. 2k more ballots arrive: every submit returns at
    # once, queued, although two batches' worth are waiting.
    later = [submit(i) for i in range(K, 3 * K)]
    assert all(casting.ballot_status(t.id).state is casting.BallotState.WAITING for t in later)
    may_finish.set()
    writer.join(30)
    assert receipts_of(first) and len(receipts_of(later)) == 2 * K
    # The writer wrote both: its own batch, then everything queued while it wrote, at once.
    assert writers == [("the-writer", K), ("the-writer", 2 * K)]


def test_notify_when_done_calls_back_once_when_the_batch_is_written(instance: Instance) -> None:
    room = open_room(instance, anonymity_k=K)
    cards = issue_cards(room.console, K)
    rankings = distinct_rankings(room, K)
    calls: list[str] = []
    tickets = []
    for i in range(K - 1):
        ticket = casting.submit_ballot(room.db, room.key, room.code, cards[i], rankings[i], None)
        assert casting.notify_when_done(ticket.id, lambda i=i: calls.append(f"b{i}"))
        tickets.append(ticket)
    assert calls == []  # still waiting for its batch
    last = casting.submit_ballot(room.db, room.key, room.code, cards[-1], rankings[-1], None)
    receipts_of([*tickets, last])
    assert sorted(calls) == [f"b{i}" for i in range(K - 1)]
    # Already written: no callback, the caller reads the status instead.
    assert casting.notify_when_done(last.id, lambda: calls.append("late")) is False
    assert "late" not in calls
    with pytest.raises(casting.UnknownTicket):
        casting.notify_when_done("no-such-ticket", lambda: None)


def test_a_failing_callback_does_not_stop_the_batch(instance: Instance) -> None:
    room = open_room(instance, anonymity_k=K)
    cards = issue_cards(room.console, K)
    rankings = distinct_rankings(room, K)
    first = casting.submit_ballot(room.db, room.key, room.code, cards[0], rankings[0], None)

    def broken() -> None:
        raise RuntimeError("the waiting request went away")

    assert casting.notify_when_done(first.id, broken)
    rest = [
        casting.submit_ballot(room.db, room.key, room.code, cards[i], rankings[i], None)
        for i in range(1, K)
    ]
    assert len(receipts_of([first, *rest])) == K
