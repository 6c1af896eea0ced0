"""What each audience sees of the results is decided by one service (core/results_view.py):
the room sees the published tally and its headline, an evaluator also the breakdown — and
only with a live console."""

from __future__ import annotations

import dataclasses

import pytest

from core.console_access import end_console, unlock_console
from core.instance import Instance
from core.results_view import RoomResults, evaluator_results, room_results
from core.reveal import reveal
from core.tally.registry import DEFAULT_COUNTING
from core.workshops import NotAuthorized
from tests.casting import VOTED_RANKING, voted_and_closed

PASS = "facilitator secret 1"
TOP = list(VOTED_RANKING)


def _voted(instance: Instance) -> str:
    return voted_and_closed(instance, "Seen", PASS)


def test_before_the_reveal_neither_audience_sees_a_tally(instance: Instance) -> None:
    code = _voted(instance)
    assert room_results(instance.db, code) is None
    unlocked = unlock_console(instance.db, instance.secret_key, code, PASS)
    assert evaluator_results(unlocked).is_revealed is False


def test_the_room_sees_the_published_tally_and_never_a_group(instance: Instance) -> None:
    code = _voted(instance)
    reveal(unlock_console(instance.db, instance.secret_key, code, PASS), PASS)
    room = room_results(instance.db, code)
    assert isinstance(room, RoomResults)
    assert room.published.is_final and room.published.ballots_counted == 6
    assert room.default.winners == (TOP[0],)
    assert room.default == room.published.tallies[DEFAULT_COUNTING]
    assert 1 <= len(room.headline) <= 3
    # Nothing about roles or single ballots is part of the room's view.
    assert {f.name for f in dataclasses.fields(RoomResults)} == {
        "published",
        "headline",
        "differences",
    }


def test_an_evaluator_sees_places_and_groups_of_at_least_k(instance: Instance) -> None:
    code = _voted(instance)
    unlocked = unlock_console(instance.db, instance.secret_key, code, PASS)
    reveal(unlocked, PASS)
    view = evaluator_results(unlocked)
    assert view.is_revealed and view.published is not None
    assert view.account and view.order[0] == TOP[0]
    assert view.places is not None and view.places[TOP[0]][0] == 6
    assert view.roles is not None
    assert all(g.ballot_count >= 3 for g in view.roles.groups)
    assert "mentor" not in view.roles.roles  # one ballot: never shown on its own


def test_an_ended_console_sees_no_results(instance: Instance) -> None:
    code = _voted(instance)
    unlocked = unlock_console(instance.db, instance.secret_key, code, PASS)
    reveal(unlocked, PASS)
    end_console(instance.db, instance.secret_key, unlocked.token)
    with pytest.raises(NotAuthorized):
        evaluator_results(unlocked)
