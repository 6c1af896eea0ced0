"""Live results: the count is live, a tally only per batch of k new ballots (or at close)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core import crypto
from core.ballots import (
    AlreadyRevealed,
    NotLiveResults,
    cast_ballot,
    close_voting,
    issue_cards,
    reveal,
    unlock_live_results,
)
from core.instance import Instance
from core.results import LIVE_COUNTING, ballot_count, published_results, refresh_live_results
from core.tally import points
from tests.integration.test_ballots import PASS, assert_has_texts, open_room, row_counts

K = 4


def test_a_live_tally_is_published_only_after_k_new_ballots_and_at_close(
    instance: Instance,
) -> None:
    room = open_room(instance, is_live_results=True, anonymity_k=K)
    cards = issue_cards(room.db, room.key, room.code, room.grant, 11)
    cast: list[tuple[str, ...]] = []

    def vote(i: int) -> None:
        ranking = (room.methods[i % 3], room.methods[3])
        cast_ballot(room.db, room.key, room.code, cards[i], ranking, None)
        cast.append(ranking)
        refresh_live_results(room.db, room.key, room.code)

    vote(0)
    assert published_results(room.db, room.code) is None  # locked: nothing counted
    unlock_live_results(room.db, room.key, room.code, room.grant, PASS)
    seen: list[int | None] = []
    for i in range(1, 10):
        vote(i)
        shown = published_results(room.db, room.code)
        seen.append(None if shown is None else shown.ballots_counted)
        assert ballot_count(room.db, room.code) == i + 1  # the count itself is always live
    # 2..3 ballots: waiting; 4th: first batch; then again only when 4 more arrived.
    assert seen == [None, None, 4, 4, 4, 4, 8, 8, 8]
    shown = published_results(room.db, room.code)
    assert shown is not None and not shown.is_final
    assert set(shown.tallies) == set(LIVE_COUNTING)
    close_voting(room.db, room.key, room.code, room.grant)
    refresh_live_results(room.db, room.key, room.code)
    shown = published_results(room.db, room.code)
    assert shown is not None and shown.ballots_counted == 10  # closing publishes the rest
    assert shown.tallies["points"] == points(cast, room.methods, room.ballot_size)
    stored = row_counts(room.db)["result_publications"]
    assert stored == 1
    with room.db.engine.connect() as conn:
        payload = conn.execute(text("SELECT tally_json FROM result_publications")).scalar_one()
    # Aggregates only: no list of rankings, no count per distinct ranking.
    assert "\\n" not in payload and "ranking" not in payload


def test_unlocking_live_results_stores_the_key_only_under_the_instance_secret(
    instance: Instance,
) -> None:
    room = open_room(instance, is_live_results=True, anonymity_k=K)
    before = row_counts(room.db)
    with pytest.raises(crypto.WrongPassphrase):
        unlock_live_results(room.db, room.key, room.code, room.grant, "not the passphrase")
    assert row_counts(room.db) == before

    def live_blob() -> bytes | None:
        with room.db.engine.connect() as conn:
            value = conn.execute(
                text("SELECT box_private_key_live FROM workshop_secrets")
            ).scalar_one()
        return None if value is None else bytes(value)

    assert live_blob() is None
    unlock_live_results(room.db, room.key, room.code, room.grant, PASS)
    blob = live_blob()
    assert blob is not None
    with pytest.raises(crypto.CannotUnwrap):  # another instance's secret opens nothing
        crypto.unwrap_with_key(b"\x01" * 32, blob)
    for card in issue_cards(room.db, room.key, room.code, room.grant, 2):
        cast_ballot(room.db, room.key, room.code, card, room.methods[:1], None)
    close_voting(room.db, room.key, room.code, room.grant)
    reveal(room.db, room.key, room.code, room.grant, PASS)
    assert live_blob() is None  # the reveal erases the server's copy
    with pytest.raises(AlreadyRevealed) as info:
        unlock_live_results(room.db, room.key, room.code, room.grant, PASS)
    assert_has_texts(info.value)
    final = published_results(room.db, room.code)
    assert final is not None and final.is_final and final.ballots_counted == 2


def test_a_workshop_without_live_results_refuses_to_unlock_and_publishes_nothing(
    instance: Instance,
) -> None:
    room = open_room(instance)
    with pytest.raises(NotLiveResults) as info:
        unlock_live_results(room.db, room.key, room.code, room.grant, PASS)
    assert_has_texts(info.value)
    for card in issue_cards(room.db, room.key, room.code, room.grant, 6):
        cast_ballot(room.db, room.key, room.code, card, room.methods[:1], None)
        refresh_live_results(room.db, room.key, room.code)
    assert published_results(room.db, room.code) is None
    assert row_counts(room.db)["result_publications"] == 0
