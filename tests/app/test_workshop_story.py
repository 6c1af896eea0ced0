"""A whole workshop through the pages, as people use it (AppTest drives the real scripts).

1. The facilitator unlocks the console and generates voting cards.
2. The room moves to the first question; a participant joins by code and posts notes.
3. Notes appear on the wall in a batch of k; the participant gives a dot.
4. Voting opens; the participant ranks methods, reviews "1. … 2. …" and casts with a card.
5. A second try with the same card says it was used, and nothing else.
6. Voting closes; a wrong passphrase cannot reveal; the right one does.
7. The projector shows the ranking; the receipts page finds the receipt.
"""

from __future__ import annotations

import json

import pytest

from core import ballots, notes, results
from core.domain import Stage
from core.instance import Instance
from core.templates import available_templates
from core.workshops import create_workshop, get_workshop
from tests.app.conftest import confirm_box, make_app
from web import ballot_api, page_token

PASS = "facilitator secret 1"


def _console(code: str) -> object:
    at = make_app({"lang": "en"}).run()
    at.switch_page("pages/facilitator.py").run()
    at.selectbox(key="console_code").set_value(code).run()
    at.text_input(key="unlock_phrase").input(PASS)
    at.button[0].click().run()
    assert not at.exception
    return at


def _move(at, target_label_part: str) -> None:  # type: ignore[no-untyped-def]
    box = at.selectbox(key="target_stage")
    match = next(o for o in box.options if target_label_part in o)
    box.select(match).run()
    confirm_box(at).check().run()
    at.button(key="move").click().run()
    assert not at.exception


def test_a_workshop_runs_end_to_end_through_the_pages(app_env: Instance) -> None:
    db = app_env.db
    code = create_workshop(db, available_templates()["default"], "Story", PASS, anonymity_k=3)

    # 1. cards
    con = _console(code)
    con.number_input(key="cards_n").set_value(5).run()
    con.button(key="cards_generate").click().run()
    assert not con.exception
    assert ballots.card_counts(db, code).issued == 5
    cards = con.session_state["fresh_cards"][1]
    assert len(cards) == 5

    # 2. first question; a phone joins by typing the code
    _move(con, "question 1")
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
    q_id = get_workshop(db, code).questions[0].id
    for text in ("资助灵活", "Peer exchange", "行动研究"):
        phone.text_area(key=f"note_text_{q_id}").input(text)
        phone.button[0].click().run()
        assert not phone.exception
    wall = notes.wall(db, code, 0)
    assert sorted(n.text for n in wall) == sorted(["资助灵活", "Peer exchange", "行动研究"])
    phone.run()
    target = wall[0]
    phone.button(key=f"dot_{target.id}").click().run()
    assert not phone.exception
    assert next(n for n in notes.wall(db, code, 0) if n.id == target.id).dots == 1

    # 4. voting with a card. The page mounts the ballot component with a page token; ranking,
    # review and cast happen in the browser and go to /api/ballot in one request (the browser
    # story and tests/e2e/test_web_edge.py drive that). Here the route's seam casts, and the
    # component's hand-back of the receipt is played by setting its state.
    _move(con, "Voting")
    phone.run()
    (mounted,) = phone.get("bidi_component")
    data = json.loads(mounted.proto.json)
    assert [m["key"] for m in data["methods"]] != []
    assert data["endpoint"] == ballot_api.CAST_PATH
    token = page_token.check(app_env.secret_key, code, data["token"])
    assert token is not None
    answer = ballot_api.submit(
        app_env,
        code,
        cards[0],
        ["unrestricted_funding", "action_research"],
        None,
        client_key=token.client_key,
    )
    assert answer.state == "stored" and answer.receipt
    phone.session_state[f"ballot_{code}"] = {"receipt": answer.receipt}
    phone.run()
    assert not phone.exception
    receipt = phone.session_state[f"receipt_{code}"]
    assert receipt == answer.receipt
    assert any(receipt in m.value for m in phone.markdown)
    assert not phone.get("bidi_component")  # the page shows the receipt, not the ballot

    # 5. the same card again, from another phone: core's named error
    with pytest.raises(ballots.CardAlreadySpent):
        ballot_api.submit(app_env, code, cards[0], ["co_creation_fund"], None, client_key="x")
    assert results.ballot_count(db, code) == 1

    for card, first in zip(
        cards[1:4],
        ("unrestricted_funding", "co_creation_fund", "unrestricted_funding"),
        strict=True,
    ):
        ballots.cast_ballot(db, app_env.secret_key, code, card, [first], None)

    # 6. close; a wrong passphrase cannot reveal
    con.run()
    _move(con, "Voting closed")
    assert get_workshop(db, code).stage == Stage.CLOSED
    box = con.selectbox(key="target_stage")
    con.text_input(key="stage_phrase").input("not the passphrase")
    confirm_box(con).check().run()
    con.button(key="move").click().run()
    assert con.error and get_workshop(db, code).stage == Stage.CLOSED
    con.text_input(key="stage_phrase").input(PASS)
    confirm_box(con).check().run()
    con.button(key="move").click().run()
    assert not con.exception
    assert get_workshop(db, code).stage == Stage.REVEALED
    assert box is not None

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


def test_a_wrong_stage_move_is_refused_with_a_message(app_env: Instance) -> None:
    code = create_workshop(app_env.db, available_templates()["default"], "W", PASS)
    con = _console(code)
    labels = con.selectbox(key="target_stage").options
    assert not any("Results revealed" in o for o in labels)  # never offered from draft
