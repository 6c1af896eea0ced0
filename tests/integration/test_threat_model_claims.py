"""Claims of docs/threat-model.md that no other test proved, each proved here on SQLite and
PostgreSQL (the storage contract suite's fixtures).

1. A ticket is 144 random bits, stored nowhere, and forgotten at the first cast made 30
   minutes or more after its batch was written.
2. A group of casts reads the stage and its cards once, and writes nothing below k.
3. The remainder written at the close is in the close's own transaction (PostgreSQL: one
   xid for the stage change, every ballot row and every card row).
4. Two servers: a ballot another server writes after the close is mixed into the whole box
   again; one still waiting there when the reveal commits is refused with `VotingClosed` and
   its card stays unspent.
5. Ballot stuffing: someone with write access can seal a valid extra ballot (then spent
   cards and ballots no longer match); one that opens but is not valid for the workshop
   stops the reveal with `CorruptBallot` and changes nothing.
6. The opened ballots are listed sorted by content.
7. A rewrite the database refuses (`Scrub.FAILED`) leaves the close and the reveal committed
   and names its tables in `unscrubbed_tables` until a later rewrite.
8. SQLite: every committed transaction that spends cards or writes ballots holds a whole
   batch (the PostgreSQL side counts per xid in test_storage_adversary.py).
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from sqlalchemy import event, text

from core import batches, casting, mix, results
from core.ballot_values import CorruptBallot, VotingClosed, ballot_aad, encode_payload
from core.cards import card_counts, issue_cards
from core.casting import (
    TICKET_TTL_SECONDS,
    BallotRequest,
    BallotState,
    Ticket,
    UnknownTicket,
    ballot_status,
    submit_ballot,
    submit_ballots,
    wait_for_ballot,
)
from core.closing import close_voting
from core.crypto import human_codes, sealed_box
from core.instance import Instance
from core.models import random_id
from core.reveal import reveal
from core.storage_residual import storage_residual
from tests.casting import receipts_of
from tests.conftest import DbFactory
from tests.integration.test_adversary import dump
from tests.integration.test_ballots import PASS, Room, open_room, row_counts


def _cast(room: Room, cards: list[str]) -> list[Ticket]:
    return [
        submit_ballot(room.db, room.key, room.code, c, room.methods[:2], None, client_key="t")
        for c in cards
    ]


# --- 1. tickets ----------------------------------------------------------------------------


def test_a_ticket_is_144_random_bits_stored_nowhere_and_forgotten_30_minutes_after_its_batch(
    instance: Instance,
) -> None:
    room = open_room(instance)
    cards = issue_cards(room.console, 6)
    tickets = _cast(room, cards[:5])  # k = 5: one batch
    receipts_of(tickets)
    for ticket in tickets:
        raw = base64.urlsafe_b64decode(ticket.id + "=" * (-len(ticket.id) % 4))
        assert len(raw) * 8 == 144
    everything = repr(dump(room.db))
    assert not [t.id for t in tickets if t.id in everything]
    # The batch was written 30 minutes ago, give or take a minute (the clock is monotonic:
    # move the tickets' times back rather than wait). No cast comes in between: expiry does
    # not wait for memory to be pruned.
    old, recent = tickets[0], tickets[1]
    with casting._TICKETS_GUARD:
        done_at = casting._TICKETS[old.id].done_at
        assert done_at is not None
        casting._TICKETS[old.id].done_at = done_at - TICKET_TTL_SECONDS - 1
        casting._TICKETS[recent.id].done_at = done_at - TICKET_TTL_SECONDS + 60
    with pytest.raises(UnknownTicket):
        ballot_status(old.id)
    assert old.id not in casting._TICKETS, "an expired ticket is forgotten, not only hidden"
    assert ballot_status(recent.id).state is BallotState.STORED
    # A cast prunes the rest of memory the same way (a full scan at most every 10 s).
    with casting._TICKETS_GUARD:
        casting._TICKETS[recent.id].done_at = done_at - TICKET_TTL_SECONDS - 1
        casting._LAST_PRUNE[0] = float("-inf")
    _cast(room, cards[5:])
    assert recent.id not in casting._TICKETS


# --- 2. groups -----------------------------------------------------------------------------


def test_a_group_of_casts_reads_the_stage_and_its_cards_once_and_writes_nothing_below_k(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = open_room(instance)
    cards = issue_cards(room.console, 4)
    reads: list[int] = []
    real_read = casting.read_stage_and_cards

    def counted(db: Any, box: Any, digests: Any) -> Any:
        reads.append(len(digests))
        return real_read(db, box, digests)

    monkeypatch.setattr(casting, "read_stage_and_cards", counted)
    before = row_counts(room.db)
    group = [BallotRequest(c, room.methods[:1], None, f"p{i}") for i, c in enumerate(cards)]
    answers = submit_ballots(room.db, room.key, room.code, group)
    assert all(isinstance(a, Ticket) for a in answers)
    assert reads == [4]  # one read for the whole group, holding its four cards
    assert row_counts(room.db) == before  # four < k: sealed in memory, nothing written
    assert card_counts(room.db, room.code).spent == 0


# --- 3. the close ----------------------------------------------------------------------------


def test_the_remainder_is_written_and_mixed_in_the_closes_own_transaction(
    instance: Instance,
) -> None:
    room = open_room(instance)
    cards = issue_cards(room.console, 8)
    on_time = _cast(room, cards[:5])
    receipts_of(on_time)
    late = _cast(room, cards[5:])  # three below k: they wait for the close
    with room.db.engine.connect() as conn:
        ids_before = set(conn.execute(text("SELECT id FROM sealed_ballots")).scalars())
    assert len(ids_before) == 5
    close_voting(room.console)
    receipts_of(late)
    with room.db.engine.connect() as conn:
        ids_after = set(conn.execute(text("SELECT id FROM sealed_ballots")).scalars())
        assert len(ids_after) == 8 and not ids_after & ids_before  # the whole box, fresh ids
        if room.db.is_sqlite:
            return
        stage_xid = conn.execute(text("SELECT xmin::text FROM workshops")).scalar_one()
        ballot_xids = set(conn.execute(text("SELECT xmin::text FROM sealed_ballots")).scalars())
        card_xids = set(conn.execute(text("SELECT xmin::text FROM cards")).scalars())
    assert ballot_xids == {stage_xid}
    assert card_xids == {stage_xid}


def test_a_ballot_another_server_writes_after_the_close_is_mixed_into_the_box_again(
    instance: Instance, db_factory: DbFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = open_room(instance)
    other = db_factory(migrate_schema=False)  # a second server process on the same store
    cards = issue_cards(room.console, 7)
    receipts_of(_cast(room, cards[:5]))
    monkeypatch.setattr(batches, "_flush_closed", lambda db: None)  # it has not looked yet
    late = submit_ballot(other, room.key, room.code, cards[5], room.methods[:1], None)
    local = _cast(room, cards[6:])
    close_voting(room.console)
    receipts_of(local)
    with room.db.engine.connect() as conn:
        after_close = set(conn.execute(text("SELECT id FROM sealed_ballots")).scalars())
    monkeypatch.undo()
    batches._flush_closed(other)  # its next look at the stage
    receipts_of([late])
    with room.db.engine.connect() as conn:
        mixed = set(conn.execute(text("SELECT id FROM sealed_ballots")).scalars())
        xids = (
            set()
            if room.db.is_sqlite
            else set(conn.execute(text("SELECT xmin::text FROM sealed_ballots")).scalars())
        )
    assert len(after_close) == 6 and len(mixed) == 7
    assert not mixed & after_close  # every row rewritten with a fresh id: mixed again
    assert room.db.is_sqlite or len(xids) == 1  # PostgreSQL: one transaction wrote them all


# --- 4. two servers, the reveal first ------------------------------------------------------------


def test_a_ballot_still_waiting_on_another_server_at_the_reveal_is_refused_and_its_card_unspent(
    instance: Instance, db_factory: DbFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = open_room(instance)
    other = db_factory(migrate_schema=False)  # a second server process on the same store
    cards = issue_cards(room.console, 6)
    receipts_of(_cast(room, cards[:5]))
    # The other server does not look at the stage before the reveal commits (its watcher
    # looks every WATCH_INTERVAL_SECONDS; the reveal came within that window).
    monkeypatch.setattr(batches, "_flush_closed", lambda db: None)
    waiting = submit_ballot(other, room.key, room.code, cards[5], room.methods[:1], None)
    close_voting(room.console)
    reveal(room.console, PASS)
    monkeypatch.undo()
    batches._flush_closed(other)  # its next look at the stage
    status = wait_for_ballot(waiting.id, timeout=30)
    assert status.state is BallotState.REFUSED
    assert isinstance(status.error, VotingClosed)
    assert card_counts(room.db, room.code).spent == 5
    assert results.ballot_count(room.db, room.code) == 5


# --- 5. ballot stuffing ----------------------------------------------------------------------


def _stuff(room: Room, ranking: list[str]) -> None:
    """What someone with write access to the database can do: seal to the stored public key."""
    with room.db.engine.begin() as conn:
        wid, public_key = conn.execute(
            text(
                "SELECT w.id, s.box_public_key FROM workshops w"
                " JOIN workshop_secrets s ON s.workshop_id = w.id WHERE w.code = :c"
            ),
            {"c": room.code},
        ).one()
        sealed = sealed_box.seal(
            bytes(public_key), encode_payload(ranking, None), ballot_aad(wid, room.code)
        )
        conn.execute(
            text(
                "INSERT INTO sealed_ballots (id, workshop_id, sealed, receipt)"
                " VALUES (:i, :w, :s, :r)"
            ),
            {"i": random_id(), "w": wid, "s": sealed, "r": human_codes.receipt_for(sealed)},
        )


def test_a_stuffed_ballot_that_opens_but_is_not_valid_here_stops_the_reveal(
    instance: Instance,
) -> None:
    room = open_room(instance)
    receipts_of(_cast(room, issue_cards(room.console, 5)))
    close_voting(room.console)
    _stuff(room, [room.methods[0], "bribery"])
    before = row_counts(room.db)
    with pytest.raises(CorruptBallot):
        reveal(room.console, PASS)
    assert row_counts(room.db) == before


def test_a_stuffed_valid_ballot_is_counted_and_only_the_card_count_shows_it(
    instance: Instance,
) -> None:
    room = open_room(instance)
    receipts_of(_cast(room, issue_cards(room.console, 5)))
    close_voting(room.console)
    _stuff(room, [room.methods[3]])
    assert card_counts(room.db, room.code).spent == 5
    assert results.ballot_count(room.db, room.code) == 6  # the facilitator can compare
    reveal(room.console, PASS)
    assert len(results.opened_rankings(room.db, room.code)) == 6


# --- 6. listing --------------------------------------------------------------------------------


def test_opened_ballots_are_listed_sorted_by_content(instance: Instance) -> None:
    room = open_room(instance)
    cards = issue_cards(room.console, 10)
    rankings = [tuple(room.methods[i % 4 : i % 4 + 1 + i % 3]) for i in range(10)]
    tickets = [
        submit_ballot(room.db, room.key, room.code, c, r, room.roles[i % 2] if i % 3 else None)
        for i, (c, r) in enumerate(zip(cards, rankings, strict=True))
    ]
    close_voting(room.console)
    receipts_of(tickets)
    reveal(room.console, PASS)
    listed = results.opened_rankings(room.db, room.code)
    assert [b.ranking for b in listed] == sorted(b.ranking for b in listed)
    assert sorted(b.ranking for b in listed) == sorted(rankings)


# --- 7. a refused rewrite ----------------------------------------------------------------------


def test_a_rewrite_the_database_refuses_never_undoes_a_close_or_a_reveal_that_committed(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = open_room(instance)
    tickets = _cast(room, issue_cards(room.console, 3))

    def refused(*_args: object) -> None:
        raise PermissionError("must be owner of table sealed_ballots")

    monkeypatch.setattr(mix, "checkpoint_wal", refused)  # SQLite's scrub
    monkeypatch.setattr(mix, "_rewrite_postgres", refused)  # PostgreSQL's
    close_voting(room.console)
    assert len(receipts_of(tickets)) == 3
    assert mix.unscrubbed_tables(room.db) == {"sealed_ballots", "cards"}
    assert storage_residual(room.console).refused, "the console would blame a snapshot"
    reveal(room.console, PASS)
    assert len(results.opened_rankings(room.db, room.code)) == 3
    assert mix.unscrubbed_tables(room.db) >= {"sealed_ballots", "workshop_secrets"}
    monkeypatch.undo()
    assert mix.scrub_storage(room.db, sorted(mix.unscrubbed_tables(room.db))) is mix.Scrub.DONE


# --- 8. SQLite: one transaction per batch -------------------------------------------------------


def _transactions(statements: list[tuple[int, str]]) -> list[list[str]]:
    """The statements each SQLite connection ran, cut into transactions (a statement outside
    BEGIN … COMMIT is a transaction of its own)."""
    open_tx: dict[int, list[str]] = {}
    done: list[list[str]] = []
    for conn, sql in statements:
        word = sql.strip().split(None, 1)[0].upper() if sql.strip() else ""
        if word == "BEGIN":
            open_tx[conn] = []
        elif word in ("COMMIT", "ROLLBACK"):
            done.append([*open_tx.pop(conn, []), word])
        elif conn in open_tx:
            open_tx[conn].append(sql)
        else:
            done.append([sql, "COMMIT"])
    return done


def test_every_sqlite_transaction_that_writes_ballots_spends_and_writes_at_least_k(
    sqlite_instance: Instance,
) -> None:
    """SQLite's side of `test_no_file_or_wal_record_links_a_card_to_its_ballot` (which counts
    per PostgreSQL xid): every committed SQLite transaction touching the box holds a batch."""
    db = sqlite_instance.db
    statements: list[tuple[int, str]] = []

    @event.listens_for(db.engine, "connect")
    def trace(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.set_trace_callback(lambda sql: statements.append((id(dbapi_conn), sql)))

    db.engine.pool.dispose()  # every connection from now on is traced
    room = open_room(sqlite_instance)
    cards = issue_cards(room.console, 13)
    tickets = _cast(room, cards)  # k = 5: two batches, three wait for the close
    close_voting(room.console)
    receipts_of(tickets)
    spend = re.compile(r"^\s*UPDATE cards SET is_spent\s*=\s*1\b", re.IGNORECASE)
    insert = re.compile(r"^\s*INSERT INTO sealed_ballots\b", re.IGNORECASE)
    written = []
    for tx in _transactions(statements):
        if tx[-1] != "COMMIT":
            continue
        counts = (sum(bool(spend.match(s)) for s in tx), sum(bool(insert.match(s)) for s in tx))
        if counts != (0, 0):
            written.append(counts)
    # Two batches of five, then the close: three spends, and the whole box of 13 re-inserted.
    assert sorted(written) == [(3, 13), (5, 5), (5, 5)]
