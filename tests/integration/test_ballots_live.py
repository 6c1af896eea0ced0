"""Live results: the count is live; a tally only counts all but the newest k ballots and only
when that adds k ballots to the last one, so no two publications (live, at close, final)
can be subtracted to show fewer than k ballots. The live key never reaches the database."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import text

from core.ballot_values import AlreadyRevealed, NotLiveResults
from core.cards import issue_cards
from core.casting import submit_ballot
from core.closing import close_voting
from core.crypto import passphrases
from core.instance import Instance
from core.live_key import is_live_unlocked, unlock_live_results
from core.results import (
    LIVE_COUNTING,
    ballot_count,
    live_decision,
    published_results,
    refresh_live_results,
)
from core.reveal import reveal
from core.reveal_policy import RevealReason
from tests.casting import receipts_of
from tests.conftest import DbFactory
from tests.integration.test_ballots import PASS, assert_has_texts, open_room, row_counts

K = 4


def test_no_publication_live_at_close_or_final_differs_from_an_earlier_one_by_fewer_than_k(
    instance: Instance,
) -> None:
    # Issue 10: the final tally minus the last live one was the last voter's ranking.
    room = open_room(instance, is_live_results=True, anonymity_k=K)
    cards = iter(issue_cards(room.console, 30))
    unlock_live_results(room.console, PASS)
    seen: list[int] = []

    def batch(n: int) -> None:
        tickets = [
            submit_ballot(room.db, room.key, room.code, next(cards), room.methods[:2], None)
            for _ in range(n)
        ]
        if n >= K:
            receipts_of(tickets)
        refresh_live_results(room.db, room.key, room.code)
        shown = published_results(room.db, room.code)
        if shown is not None and (not seen or seen[-1] != shown.ballots_counted):
            seen.append(shown.ballots_counted)

    for _ in range(5):
        batch(K)
    assert ballot_count(room.db, room.code) == 20  # the count itself is always live
    # 8 stored: the first tally counts 4 (the newest k held back), then every 4 more.
    assert seen == [4, 8, 12, 16]
    shown = published_results(room.db, room.code)
    assert shown is not None and not shown.is_final and set(shown.tallies) == set(LIVE_COUNTING)
    assert sum(t.first_choices for t in shown.totals) == 16
    batch(2)  # two late voters: queued, written by the close
    close_voting(room.console)
    refresh_live_results(room.db, room.key, room.code)
    decision = live_decision(room.db, room.code)
    assert decision is not None and decision.reason is RevealReason.HELD_FOR_REVEAL
    assert decision.ballots_held == 6 and decision.message.params["held"] == 6
    assert published_results(room.db, room.code).ballots_counted == 16  # type: ignore[union-attr]
    reveal(room.console, PASS)
    final = published_results(room.db, room.code)
    assert final is not None and final.is_final and final.ballots_counted == 22
    every = [*seen, final.ballots_counted]
    assert all(b - a >= K for a, b in itertools.pairwise(every))
    with room.db.engine.connect() as conn:
        payload = conn.execute(text("SELECT tally_json FROM result_publications")).scalar_one()
    # Aggregates only: no list of rankings, no count per distinct ranking.
    assert "\\n" not in payload and "ranking" not in payload


def test_the_live_key_is_kept_in_server_memory_only_and_forgotten_at_the_reveal(
    instance: Instance, db_factory: DbFactory
) -> None:
    room = open_room(instance, is_live_results=True, anonymity_k=K)
    before = row_counts(room.db)
    with pytest.raises(passphrases.WrongPassphrase):
        unlock_live_results(room.console, "not the passphrase")
    assert row_counts(room.db) == before

    def live_column() -> object:
        with room.db.engine.connect() as conn:
            return conn.execute(text("SELECT box_private_key_live FROM workshop_secrets")).scalar()

    unlock_live_results(room.console, PASS)
    assert is_live_unlocked(room.db, room.code)
    assert live_column() is None and row_counts(room.db) == before  # nothing written
    # A restarted server (a new engine on the same database) holds no key: it publishes
    # nothing until the facilitator unlocks again with the passphrase.
    restarted = db_factory(migrate_schema=False)
    assert not is_live_unlocked(restarted, room.code)
    cards = issue_cards(room.console, 10)
    receipts_of(
        [submit_ballot(room.db, room.key, room.code, c, room.methods[:1], None) for c in cards[:8]]
    )
    refresh_live_results(restarted, room.key, room.code)
    assert published_results(room.db, room.code) is None
    refresh_live_results(room.db, room.key, room.code)
    assert published_results(room.db, room.code).ballots_counted == 4  # type: ignore[union-attr]
    close_voting(room.console)
    reveal(room.console, PASS)
    assert not is_live_unlocked(room.db, room.code)
    assert live_column() is None
    with pytest.raises(AlreadyRevealed) as info:
        unlock_live_results(room.console, PASS)
    assert_has_texts(info.value)
    final = published_results(room.db, room.code)
    assert final is not None and final.is_final and final.ballots_counted == 8


def test_a_workshop_without_live_results_refuses_to_unlock_and_publishes_nothing(
    instance: Instance,
) -> None:
    room = open_room(instance)
    with pytest.raises(NotLiveResults) as info:
        unlock_live_results(room.console, PASS)
    assert_has_texts(info.value)
    cards = issue_cards(room.console, 10)
    receipts_of(
        [submit_ballot(room.db, room.key, room.code, c, room.methods[:1], None) for c in cards]
    )
    refresh_live_results(room.db, room.key, room.code)
    assert published_results(room.db, room.code) is None
    assert row_counts(room.db)["result_publications"] == 0
