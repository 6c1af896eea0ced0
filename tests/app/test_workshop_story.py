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

from core import ballots, notes, results
from core.domain import Stage
from core.instance import Instance
from core.templates import available_templates
from core.workshops import create_workshop, get_workshop
from tests.app.conftest import make_app, next_step, open_tab, unlock_console

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
    code = create_workshop(db, available_templates()["default"], "Story", PASS, anonymity_k=3)

    # 1. cards
    con = _console(code)
    open_tab(con, "Voting cards")
    con.number_input(key="cards_n").set_value(5)
    con.button(key="cards_generate").click().run()
    assert not con.exception
    assert ballots.card_counts(db, code).issued == 5
    cards = con.session_state["fresh_cards"][1]
    assert len(cards) == 5

    # 2. first question; a phone joins by typing the code
    _move(con, "question 1")
    assert con.session_state["tab"] == "Voting cards"  # an action keeps the chosen tab
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
    target = wall[0]
    phone.button(key=f"dot_{target.id}").click().run()
    assert not phone.exception
    assert next(n for n in notes.wall(db, code, 0) if n.id == target.id).dots == 1

    # 4. voting with a card
    con.run()
    for q in (2, 3, 4):
        _move(con, f"question {q}")
    _move(con, "Voting")
    phone.run()
    phone.text_input(key=f"card_{code}").input(cards[0])
    phone.multiselect(key=f"ranking_{code}").select("unrestricted_funding").select(
        "action_research"
    )
    phone.button(key="review").click().run()
    assert any("1. Unrestricted funding\n2. Action research" in m.value for m in phone.markdown)
    phone.button(key="cast").click().run()
    assert not phone.exception
    assert f"ranking_{code}" not in phone.session_state  # the ranking is wiped from the phone
    # Sealed and queued, not written: the phone says so plainly (k = 3, so 2 more).
    assert any("waiting for 2 more ballots" in m.value for m in phone.info)
    assert results.ballot_count(db, code) == 0

    # 5. the same card again, from another phone
    other = make_app({"lang": "en", "w": code}).run()
    other.switch_page("pages/join.py").run()
    other.text_input(key=f"card_{code}").input(cards[0])
    other.multiselect(key=f"ranking_{code}").select("co_creation_fund")
    other.button(key="review").click().run()
    other.button(key="cast").click().run()
    assert "already been used" in other.error[0].value or "already" in other.error[0].value

    # Three more phones of the same server (the app's own engine: its mixer holds the queue).
    from ui.runtime import instance

    page_db = instance().db
    for card, first in zip(
        cards[1:4],
        ("unrestricted_funding", "co_creation_fund", "unrestricted_funding"),
        strict=True,
    ):
        ballots.submit_ballot(page_db, app_env.secret_key, code, card, [first], None)
    # The batch of 3 is stored: the phone's next poll shows its receipt.
    assert results.ballot_count(db, code) == 3
    phone.run()
    assert not phone.exception
    receipt = phone.session_state[f"receipt_{code}"]
    assert any(receipt in m.value for m in phone.markdown)

    # 6. close; a wrong passphrase cannot reveal
    con.run()
    _move(con, "Voting closed")
    assert get_workshop(db, code).stage == Stage.CLOSED
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
    from core.export import instance_fingerprint

    fingerprint = instance_fingerprint(app_env.settings.data_dir)
    assert any(fingerprint in c.value for c in rec.caption)
    assert any(fingerprint in c.value for c in projector.caption)


def test_from_draft_the_console_offers_the_first_question_never_the_reveal(
    app_env: Instance,
) -> None:
    code = create_workshop(app_env.db, available_templates()["default"], "W", PASS)
    con = _console(code)
    assert "question 1" in con.button(key="next_step").label
    assert not any("Results revealed" in (b.label or "") for b in con.button)
