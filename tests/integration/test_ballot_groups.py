"""`submit_ballots`: the casts that arrive together are checked, read and queued as one group
(the ballot route hands them over so), and each still gets exactly the answer it would get
on its own: its ticket or its own named error, in order, on every backend."""

from __future__ import annotations

import pytest

from core import casting
from core.ballot_values import CardAlreadySpent, CardNotFound, EmptyBallot, VotingClosed
from core.cards import card_counts, issue_cards
from core.casting import (
    BallotRequest,
    Ticket,
    receipt_when_stored,
    submit_ballot,
    submit_ballots,
)
from core.closing import close_voting
from core.crypto import human_codes
from core.errors import BeiduiError
from core.instance import Instance
from core.ratelimit import TooManyAttempts
from tests.integration.test_ballots import open_room

# A batching bug makes a receipt never come: fail with BallotStillWaiting, don't hang.
WAIT = 30.0


def _kinds(results: list[Ticket | BeiduiError]) -> list[str]:
    return [type(r).__name__ for r in results]


def test_each_cast_of_a_group_gets_its_own_answer_in_order(instance: Instance) -> None:
    room = open_room(instance)
    cards = issue_cards(room.console, 8)
    # One card spent before the group, in a batch of its own.
    spent = [
        submit_ballot(room.db, room.key, room.code, c, room.methods[:1], None, client_key="x")
        for c in cards[:5]
    ]
    assert all(receipt_when_stored(t, WAIT) for t in spent)
    fresh = cards[5:]
    top = room.methods[:2]
    group = [
        BallotRequest(fresh[0], top, None, "a"),
        BallotRequest(fresh[0], top, None, "b"),  # the same card again, in the same group
        BallotRequest(human_codes.new_card_code(), top, None, "c"),  # a card never issued
        BallotRequest(cards[0], top, None, "d"),  # spent before
        BallotRequest("7KQM", top, None, "e"),  # malformed: decided without the database
        BallotRequest(fresh[1], [], None, "f"),  # an empty ranking: the card stays unused
        BallotRequest(fresh[2], top, room.roles[0], "g"),
    ]
    results = submit_ballots(room.db, room.key, room.code, group)
    assert _kinds(results) == [
        "Ticket",
        "CardAlreadySpent",
        "CardNotFound",
        "CardAlreadySpent",
        "CardCodeWrongLength",
        "EmptyBallot",
        "Ticket",
    ]
    assert isinstance(results[1], CardAlreadySpent) and isinstance(results[5], EmptyBallot)
    # The refused casts reserved nothing: fresh[1] casts later, and the two tickets plus
    # three more make a batch that stores all of them.
    more = [
        submit_ballot(room.db, room.key, room.code, fresh[1], top, None, client_key="f"),
        *(
            submit_ballot(room.db, room.key, room.code, c, top, None, client_key="h")
            for c in issue_cards(room.console, 2)
        ),
    ]
    tickets = [r for r in results if isinstance(r, Ticket)] + more
    assert all(receipt_when_stored(t, WAIT) for t in tickets)
    counts = card_counts(room.db, room.code)
    assert counts.spent == 5 + 5


def test_a_group_of_guesses_stops_where_the_same_guesses_one_by_one_stop(
    instance: Instance,
) -> None:
    guesses = [human_codes.new_card_code() for _ in range(10)]

    one_by_one: list[str] = []
    room = open_room(instance)
    for guess in guesses:
        try:
            submit_ballot(
                room.db, room.key, room.code, guess, room.methods[:1], None, client_key="g"
            )
        except BeiduiError as err:
            one_by_one.append(type(err).__name__)

    other = open_room(instance)  # the limiter counts per workshop: a fresh start
    group = [BallotRequest(g, other.methods[:1], None, "g") for g in guesses]
    together = _kinds(submit_ballots(other.db, other.key, other.code, group))

    assert together == one_by_one
    stopped_at = together.index(TooManyAttempts.__name__)  # the limit was reached ...
    assert set(together[:stopped_at]) == {CardNotFound.__name__}
    assert set(together[stopped_at:]) == {TooManyAttempts.__name__}  # ... and held


def test_a_group_sent_after_the_close_is_refused_cast_by_cast(instance: Instance) -> None:
    room = open_room(instance)
    cards = issue_cards(room.console, 3)
    first = submit_ballot(room.db, room.key, room.code, cards[0], room.methods[:1], None)
    close_voting(room.console)
    assert receipt_when_stored(first, WAIT)
    group = [
        BallotRequest(cards[1], room.methods[:1], None, "a"),
        BallotRequest(cards[2], [], None, "b"),
    ]
    results = submit_ballots(room.db, room.key, room.code, group)
    assert isinstance(results[0], VotingClosed) and isinstance(results[1], EmptyBallot)
    assert card_counts(room.db, room.code).spent == 1


@pytest.mark.parametrize("size", [1, 40])
def test_a_group_of_good_casts_is_stored_whole(instance: Instance, size: int) -> None:
    room = open_room(instance)
    cards = issue_cards(room.console, size + 5)
    group = [BallotRequest(c, room.methods[:2], None, f"p{i}") for i, c in enumerate(cards)]
    results = submit_ballots(room.db, room.key, room.code, group)
    assert all(isinstance(r, Ticket) for r in results)
    receipts = [receipt_when_stored(r, WAIT) for r in results if isinstance(r, Ticket)]
    assert len(set(receipts)) == size + 5
    assert card_counts(room.db, room.code).spent == size + 5


def test_a_failure_that_is_not_a_named_error_frees_every_card_the_group_reserved(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = open_room(instance)
    cards = issue_cards(room.console, 5)
    real_digest = casting.card_digest
    calls: list[str] = []

    def digest_failing_on_the_third(key: bytes, box: object, code: str) -> bytes:
        calls.append(code)
        if len(calls) == 3:
            raise RuntimeError("the machine hiccupped")
        return real_digest(key, box, code)  # type: ignore[arg-type]

    monkeypatch.setattr(casting, "card_digest", digest_failing_on_the_third)
    group = [BallotRequest(c, room.methods[:1], None, "p") for c in cards[:3]]
    with pytest.raises(RuntimeError):
        submit_ballots(room.db, room.key, room.code, group)
    monkeypatch.undo()
    # The two cards reserved before the failure are free: the whole room casts them now.
    again = [BallotRequest(c, room.methods[:1], None, "p") for c in cards]
    results = submit_ballots(room.db, room.key, room.code, again)
    assert all(isinstance(r, Ticket) for r in results)
    assert all(receipt_when_stored(r, WAIT) for r in results if isinstance(r, Ticket))
