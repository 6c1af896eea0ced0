"""A whole workshop through the pages, as people use it (AppTest drives the real scripts).

1. The facilitator unlocks the console and generates voting cards.
2. The room moves to the first question; a participant joins by code and posts notes.
3. Notes appear on the wall in a batch of k; the participant's dots are counted k at a time.
4. Voting opens; the phone mounts the ballot component, whose one request casts with a card:
   sealed and queued, it waits (nothing written) until k ballots make a batch, then the
   component hands the receipt back and the page keeps it, in the URL too.
5. A second try with the same card is refused, while it waits and once it is stored; a
   ballot left over at the end waits until the close writes it.
6. Voting closes; a wrong passphrase cannot reveal; the right one does.
7. The projector shows the ranking; the receipts page finds the receipt.
"""

from __future__ import annotations

import json

import pytest

from core import notes, results
from core.ballot_values import CardAlreadySpent
from core.cards import card_counts
from core.casting import submit_ballot
from core.domain import Stage
from core.instance import Admin, Instance
from core.templates import available_templates
from core.workshops import create_workshop, get_workshop
from tests.app.conftest import make_app, next_step, open_tab, unlock_console
from ui import state
from ui.runtime import instance
from web import ballot_api, page_token

PASS = "facilitator secret 1"


def _console(code: str) -> object:
    at = make_app({"lang": "en"}).run()
    at.switch_page("pages/facilitator.py").run()
    unlock_console(at, code, PASS)
    assert not at.exception
    return at


def _move(at, target_label_part: str) -> None:  # type: ignore[no-untyped-def]
    """The one "next" button, pressed until the console's stage names the target."""
    assert target_label_part in at.button(key="next_step").label
    next_step(at)
    assert not at.exception


def test_a_workshop_runs_end_to_end_through_the_pages(app_env: Instance) -> None:
    db = app_env.db
    code = create_workshop(
        Admin.trusted(db), available_templates()["default"], "Story", PASS, anonymity_k=3
    )

    # 1. cards
    con = _console(code)
    open_tab(con, "Voting cards")
    con.number_input(key="cards_n").set_value(5)
    con.button(key="cards_generate").click().run()
    assert not con.exception
    assert card_counts(db, code).issued == 5
    cards = con.session_state[state.FRESH_CARDS][1]
    assert len(cards) == 5

    # 2. first question; a phone joins by typing the code
    _move(con, "question 1")
    assert con.session_state[state.CONSOLE_TAB] == "Voting cards"  # an action keeps the chosen tab
    phone = make_app({"lang": "en"}).run()
    phone.switch_page("pages/join.py").run()
    phone.text_input(key="join_code").input(code.lower())
    phone.button[0].click().run()
    assert not phone.exception
    assert phone.query_params["w"] == code
    assert "Which of your growth" in phone.markdown[1].value or any(
        "Which of your growth" in m.value for m in phone.markdown
    )

    # 3. notes wait for a batch of k=3, then all show at once
    for text in ("资助灵活", "Peer exchange", "行动研究"):
        phone.text_area(key=f"note_text_{code}").input(text)
        phone.button[0].click().run()
        assert not phone.exception
    wall = notes.wall(db, code, 0)
    assert sorted(n.text for n in wall) == sorted(["资助灵活", "Peer exchange", "行动研究"])
    phone.run()
    # dots wait for a batch of k=3 too: the phone says so, and its third dot counts all three
    for i, target in enumerate(wall):
        phone.button(key=f"dot_{target.id}").click().run()
        assert not phone.exception
        if i < 2:
            assert f"together with the next {2 - i} dot" in phone.info[0].value
            assert all(n.dots == 0 for n in notes.wall(db, code, 0))
    assert phone.success[0].value.startswith("Dot given")
    assert [n.dots for n in notes.wall(db, code, 0)] == [1, 1, 1]

    # 4. voting with a card. The page mounts the ballot component with a page token; ranking,
    # review and cast happen in the browser and go to /api/ballot in one request (the browser
    # story and tests/e2e/test_web_edge.py drive that). Here the route's seam casts, on the
    # page's own instance (the mixer that holds the queue is this server's memory), and the
    # component's hand-back of the receipt is played by setting its state.
    con.run()
    for q in (2, 3, 4):
        _move(con, f"question {q}")
    _move(con, "Voting")
    phone.run()
    (mounted,) = phone.get("bidi_component")
    data = json.loads(mounted.proto.json)
    assert [m["key"] for m in data["methods"]] != []
    assert data["endpoint"] == ballot_api.CAST_PATH
    token = page_token.check(app_env.secret_key, code, data["token"])
    assert token is not None
    server = instance()
    answer = ballot_api.submit(
        server,
        code,
        cards[0],
        ["unrestricted_funding", "action_research"],
        None,
        client_key=token.client_key,
    )
    # Sealed and queued, not written: k = 3, so it waits for 2 more and holds no receipt.
    assert answer.state == "waiting" and answer.waiting_for == 2
    assert answer.ticket and answer.receipt is None
    assert results.ballot_count(db, code) == 0
    assert ballot_api.status(server, code, answer.ticket) == answer
    phone.run()
    assert not phone.exception
    assert phone.get("bidi_component")  # nothing to hand back yet: the ballot stays
    assert f"receipt_{code}" not in phone.session_state

    # 5. the same card again, from another phone, while the first waits: core's named error,
    # and nothing queued or written for it
    with pytest.raises(CardAlreadySpent):
        ballot_api.submit(server, code, cards[0], ["co_creation_fund"], None, client_key="x")
    assert ballot_api.status(server, code, answer.ticket) == answer  # still waiting for 2

    # Two more phones fill the batch of 3: all three are written together.
    for card, first in zip(cards[1:3], ("co_creation_fund", "unrestricted_funding"), strict=True):
        submit_ballot(server.db, server.secret_key, code, card, [first], None)
    stored = ballot_api.status(server, code, answer.ticket)
    assert stored is not None and stored.state == "stored" and stored.receipt
    assert results.ballot_count(db, code) == 3
    # The component hands the receipt back; the page keeps it, in the URL too.
    phone.session_state[state.ballot(code)] = {"receipt": stored.receipt}
    phone.run()
    assert not phone.exception
    receipt = phone.session_state[state.receipt(code)]
    assert receipt == stored.receipt
    assert phone.query_params["receipt"] == receipt
    assert any(receipt in m.value for m in phone.markdown)
    assert not phone.get("bidi_component")  # the page shows the receipt, not the ballot

    # The same card once its ballot is stored: refused again, from the database this time.
    with pytest.raises(CardAlreadySpent):
        ballot_api.submit(server, code, cards[0], ["co_creation_fund"], None, client_key="x")
    assert results.ballot_count(db, code) == 3

    # A fourth ballot is the start of the next batch: it waits, unwritten, until the close.
    last = ballot_api.submit(server, code, cards[3], ["unrestricted_funding"], None, client_key="y")
    assert last.state == "waiting" and last.waiting_for == 2 and last.ticket
    assert results.ballot_count(db, code) == 3

    # 6. close; a wrong passphrase cannot reveal
    con.run()
    _move(con, "Voting closed")
    assert get_workshop(db, code).stage == Stage.CLOSED
    # The close wrote the waiting remainder (joined to the whole box's mix): it is stored.
    closed = ballot_api.status(server, code, last.ticket)
    assert closed is not None and closed.state == "stored" and closed.receipt
    assert results.ballot_count(db, code) == 4
    con.text_input(key="stage_phrase").input("not the passphrase")
    con.button(key="FormSubmitter:reveal_form-Next: Results revealed").click().run()
    assert con.error and get_workshop(db, code).stage == Stage.CLOSED
    con.text_input(key="stage_phrase").input(PASS)
    con.button(key="FormSubmitter:reveal_form-Next: Results revealed").click().run()
    assert not con.exception
    assert get_workshop(db, code).stage == Stage.REVEALED

    # 7. projector and receipts
    projector = make_app({"lang": "en", "w": code}).run()
    projector.switch_page("pages/projector.py").run()
    assert not projector.exception
    table = projector.dataframe[0].value
    assert table.iloc[0, 1] == "Unrestricted funding"
    rec = make_app({"lang": "en", "w": code}).run()
    rec.switch_page("pages/receipts.py").run()
    rec.text_input(key="receipt_input").input(receipt)
    rec.button[0].click().run()
    assert "Found" in rec.success[0].value
    # Issue 11: both public screens show the key fingerprint every export is signed with.
    from core.export_signing import instance_fingerprint

    fingerprint = instance_fingerprint(app_env.settings.data_dir)
    assert any(fingerprint in c.value for c in rec.caption)
    assert any(fingerprint in c.value for c in projector.caption)


def test_from_draft_the_console_offers_the_first_question_never_the_reveal(
    app_env: Instance,
) -> None:
    code = create_workshop(Admin.trusted(app_env.db), available_templates()["default"], "W", PASS)
    con = _console(code)
    assert "question 1" in con.button(key="next_step").label
    assert not any("Results revealed" in (b.label or "") for b in con.button)
