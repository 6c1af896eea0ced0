"""A live workshop that never stumbles (issue 12), through the pages as people use them.

Phones keep their receipt across a reload and move on to the results by themselves; a cast
after the close says it was not counted; a tampered value or a locked database gets a
localized message and keeps what was typed; the console survives a reload, keeps its tab
after an action, and its lock ends the session.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from core import note_themes, notes
from core.ballot_values import UnknownMethod, UnknownRole, VotingClosed
from core.bilingual import Bilingual
from core.cards import issue_cards
from core.casting import submit_ballot
from core.closing import close_voting
from core.console import move_to
from core.console_access import open_console, resume_console, unlock_console
from core.domain import Stage, StagePosition
from core.i18n import t, tm
from core.instance import Admin, Instance
from core.reveal import reveal
from core.templates import available_templates
from core.workshops import NotAuthorized, create_workshop, get_workshop
from tests.app.conftest import make_app, next_step, open_tab
from tests.app.conftest import unlock_console as type_unlock
from ui import live, state
from web import ballot_api, page_token

PASS = "facilitator secret 1"


def _room(inst: Instance, stage: Stage = Stage.VOTING) -> tuple[str, str, list[str]]:
    db, key = inst.db, inst.secret_key
    code = create_workshop(
        Admin.trusted(db), available_templates()["default"], "现场", PASS, anonymity_k=3
    )
    grant = unlock_console(db, key, code, PASS).token
    cards = issue_cards(open_console(db, key, code, grant), 5)
    if stage != Stage.DRAFT:
        move_to(open_console(db, key, code, grant), StagePosition(stage))
    return code, grant, cards


def _phone(code: str, **query: str):  # type: ignore[no-untyped-def]
    at = make_app({"lang": "en", "w": code, **query}).run()
    at.switch_page("pages/join.py").run()
    assert not at.exception
    return at


def _component_data(phone) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """What the page hands its ballot component (ranking, review and cast happen in the
    browser and reach /api/ballot in one request: tests/e2e drive that)."""
    (mounted,) = phone.get("bidi_component")
    return dict(json.loads(mounted.proto.json))


def _cast(phone, inst: Instance, code: str, card: str, *methods: str, role: str | None = None):  # type: ignore[no-untyped-def]
    """The component's one request, through the route's seam with the page's own token."""
    token = page_token.check(inst.secret_key, code, _component_data(phone)["token"])
    assert token is not None
    return ballot_api.submit(inst, code, card, list(methods), role, client_key=token.client_key)


def _hand_back(phone, code: str, receipt: str) -> None:  # type: ignore[no-untyped-def]
    """The component hands the receipt to the page, as the browser does a moment later."""
    phone.session_state[state.ballot(code)] = {"receipt": receipt}
    phone.run()


def test_a_phone_that_reloads_after_voting_keeps_its_receipt_and_follows_to_the_results(
    app_env: Instance,
) -> None:
    code, grant, cards = _room(app_env)
    phone = _phone(code)
    answer = _cast(phone, app_env, code, cards[0], "action_research")
    # k = 3: sealed and waiting for two more ballots before anything is written.
    assert answer.state == "waiting" and answer.waiting_for == 2
    for card in cards[1:3]:
        submit_ballot(app_env.db, app_env.secret_key, code, card, ["co_creation_fund"], None)
    stored = ballot_api.status(app_env, code, str(answer.ticket))
    assert stored is not None and stored.state == "stored" and stored.receipt
    receipt = stored.receipt
    _hand_back(phone, code, receipt)
    assert not phone.exception
    assert phone.session_state[state.receipt(code)] == receipt
    assert phone.query_params["receipt"] == receipt
    assert "card" not in phone.query_params and cards[0] not in str(dict(phone.query_params))
    # The reload: a new session with only the URL.
    reloaded = _phone(code, receipt=receipt)
    assert any(receipt in m.value for m in reloaded.markdown)
    assert not reloaded.get("bidi_component")  # no empty ballot
    close_voting(open_console(app_env.db, app_env.secret_key, code, grant))
    reveal(open_console(app_env.db, app_env.secret_key, code, grant), PASS)
    live.forget_cached_reads()  # a second later, the shared one-second cache has expired
    reloaded.run()  # the page's follow-the-room fragment ticking
    assert not reloaded.exception
    assert reloaded.header[0].value == "Results"
    assert any(receipt in c.value for c in reloaded.caption)


def _hand_back_ticket(phone, code: str, ticket: str) -> None:  # type: ignore[no-untyped-def]
    """The component hands its ticket to the page at once when the answer is "waiting"."""
    phone.session_state[state.ballot(code)] = {"ticket": ticket}
    phone.run()


def test_a_phone_that_reloads_while_its_ballot_waits_resumes_and_gets_its_receipt(
    app_env: Instance,
) -> None:
    code, _, cards = _room(app_env)
    phone = _phone(code)
    answer = _cast(phone, app_env, code, cards[0], "action_research")
    assert answer.state == "waiting" and answer.ticket
    ticket = str(answer.ticket)
    _hand_back_ticket(phone, code, ticket)
    assert not phone.exception
    # The ticket (never the card, never the ranking) is what the URL keeps while waiting.
    assert phone.query_params["ticket"] == ticket
    assert cards[0] not in str(dict(phone.query_params))
    # The reload, a new session with only the URL: the component resumes the wait.
    reloaded = _phone(code, ticket=ticket)
    data = _component_data(reloaded)
    assert data["ticket"] == ticket and data["waitingFor"] == 2 and not data["notice"]
    assert data["card"] == "" and "action_research" not in json.dumps(data["ticket"])
    # Two more ballots fill the batch; the resumed component polls, gets the receipt and
    # hands it back: the page shows it and the receipt replaces the ticket in the URL.
    for card in cards[1:3]:
        submit_ballot(app_env.db, app_env.secret_key, code, card, ["co_creation_fund"], None)
    stored = ballot_api.status(app_env, code, ticket)
    assert stored is not None and stored.state == "stored" and stored.receipt
    _hand_back(reloaded, code, stored.receipt)
    assert not reloaded.exception
    assert any(stored.receipt in m.value for m in reloaded.markdown)
    assert reloaded.query_params["receipt"] == stored.receipt
    assert "ticket" not in reloaded.query_params
    # A reload before the component handed anything back: the page finds the receipt itself.
    again = _phone(code, ticket=ticket)
    assert any(stored.receipt in m.value for m in again.markdown)
    assert again.query_params["receipt"] == stored.receipt and "ticket" not in again.query_params
    assert not again.get("bidi_component")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_ticket_the_server_no_longer_knows_says_the_ballot_was_not_stored_and_shows_it_again(
    app_env: Instance, lang: str
) -> None:
    code, _, _ = _room(app_env)
    # A restart forgot every ticket: the ballot was never written, its card is unused.
    at = make_app({"lang": lang, "w": code, "ticket": "forgotten-by-a-restart"}).run()
    at.switch_page("pages/join.py").run()
    assert not at.exception
    data = _component_data(at)
    assert data["ticket"] == ""  # a fresh ballot, not a silent empty wait
    assert data["notice"] == t("join.ballot_ticket_lost", lang)
    assert ("not stored" if lang == "en" else "没有被存储") in data["notice"]
    assert [m["key"] for m in data["methods"]]  # the ballot to cast again
    assert "ticket" not in at.query_params
    # The component says the same when its poll is answered "unknown ticket" (no reload).
    assert data["text"]["ticket_lost"] == data["notice"]


def test_a_cast_refused_after_the_close_says_it_was_not_counted(app_env: Instance) -> None:
    code, grant, cards = _room(app_env)
    phone = _phone(code)
    close_voting(open_console(app_env.db, app_env.secret_key, code, grant))
    with pytest.raises(VotingClosed) as refused:
        _cast(phone, app_env, code, cards[0], "action_research")
    # The route answers with this message in the phone's language (web/ballot_api.py).
    assert "not counted" in tm(refused.value.message, "en")
    assert "没有被计入" in tm(refused.value.message, "zh")


@pytest.mark.parametrize("field", ["ranking", "role"])
def test_a_tampered_method_or_role_gets_a_message_not_a_crash(
    app_env: Instance, field: str
) -> None:
    code, _, cards = _room(app_env)
    phone = _phone(code)
    methods = ["not_a_method"] if field == "ranking" else ["action_research"]
    role = "not_a_role" if field == "role" else None
    expected = UnknownMethod if field == "ranking" else UnknownRole
    with pytest.raises(expected) as refused:  # what a tampered client would send
        _cast(phone, app_env, code, cards[0], *methods, role=role)
    assert "reload" in tm(refused.value.message, "en")
    # Nothing was spent: the same card casts a proper ballot (it waits for its batch).
    answer = _cast(phone, app_env, code, cards[0], "action_research")
    assert answer.state == "waiting"


def test_a_locked_database_gets_a_message_and_the_note_stays_typed(
    app_env: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, _ = _room(app_env, Stage.QUESTIONS)
    phone = _phone(code)

    def locked(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(notes, "post_note", locked)
    phone.text_area(key=f"note_text_{code}").input("我的想法")
    _submit_note(phone, code)
    assert not phone.exception
    assert "busy" in phone.error[0].value
    assert phone.text_area(key=f"note_text_{code}").value == "我的想法"
    monkeypatch.undo()
    _submit_note(phone, code)
    # Received, and waiting in server memory for two more notes (k = 3) before it is saved.
    assert "waiting for 2 more" in phone.info[0].value
    assert phone.text_area(key=f"note_text_{code}").value == ""


def _submit_note(phone, code: str) -> None:  # type: ignore[no-untyped-def]
    next(
        b for b in phone.button if (b.key or "").startswith(f"FormSubmitter:note_form_{code}-")
    ).click().run()


def test_a_reload_keeps_the_console_open_and_lock_ends_it(app_env: Instance) -> None:
    code, _, _ = _room(app_env, Stage.DRAFT)
    con = make_app({"lang": "en"}).run()
    con.switch_page("pages/facilitator.py").run()
    type_unlock(con, code, PASS)
    token = con.query_params["console"]
    assert PASS not in str(dict(con.query_params))
    reloaded = make_app({"lang": "en", "console": token}).run()
    reloaded.switch_page("pages/facilitator.py").run()
    assert not reloaded.exception
    assert reloaded.session_state[state.CONSOLE_CODE] == code
    next_step(reloaded)
    assert get_workshop(app_env.db, code).stage == Stage.QUESTIONS
    reloaded.button(key="lock").click().run()
    assert "console" not in reloaded.query_params
    with pytest.raises(NotAuthorized):
        resume_console(app_env.db, app_env.secret_key, token)
    again = make_app({"lang": "en", "console": token}).run()
    again.switch_page("pages/facilitator.py").run()
    assert again.text_input(key="unlock_phrase")  # asks for the passphrase again


def test_promoting_a_note_keeps_the_notes_tab_and_a_theme_can_be_promoted(
    app_env: Instance,
) -> None:
    db, key = app_env.db, app_env.secret_key
    code, grant, _ = _room(app_env, Stage.DRAFT)
    move_to(open_console(db, key, code, grant), StagePosition(Stage.QUESTIONS, 0))
    for text in ("资金要灵活", "同伴交流", "行动研究"):
        notes.post_note(db, code, text, 0)
    theme = note_themes.create_theme(open_console(db, key, code, grant), 0, "学习")
    con = make_app({"lang": "en", "console": grant}).run()
    con.switch_page("pages/facilitator.py").run()
    open_tab(con, "Notes and themes")
    note = notes.wall(db, code, 0)[0]
    con.button(key=f"promote_{note.id}").click().run()
    con.text_input(key="promote_zh").input("灵活资金")
    con.text_input(key="promote_en").input("Flexible funding")
    next(
        b for b in con.button if (b.key or "").startswith("FormSubmitter:promote_form-")
    ).click().run()
    assert not con.exception
    assert con.session_state[state.CONSOLE_TAB] == "Notes and themes"
    assert "Flexible funding" in get_workshop(db, code).method_labels("en").values()
    con.button(key=f"promote_theme_{getattr(theme, 'id', theme)}").click().run()
    con.text_input(key="promote_zh").input("学习型")
    con.text_input(key="promote_en").input("Learning")
    next(
        b for b in con.button if (b.key or "").startswith("FormSubmitter:promote_form-")
    ).click().run()
    assert not con.exception
    assert "Learning" in get_workshop(db, code).method_labels("en").values()


def test_a_workshop_name_or_question_never_renders_as_markdown(app_env: Instance) -> None:
    """Issue 12: an image in a workshop name was fetched from another host by the console."""
    import re

    from core import editing

    db, key = app_env.db, app_env.secret_key
    evil = "![x](http://evil.example/p.png) **年会**"
    code = create_workshop(
        Admin.trusted(db), available_templates()["default"], evil, PASS, anonymity_k=3
    )
    grant = unlock_console(db, key, code, PASS).token
    questions = [q.text for q in get_workshop(db, code).questions]
    questions[0] = Bilingual(
        "[点这里](http://evil.example/) 问题", "[click](http://evil.example/) q"
    )
    editing.set_questions(open_console(db, key, code, grant), questions)
    move_to(open_console(db, key, code, grant), StagePosition(Stage.QUESTIONS, 0))
    unescaped = re.compile(r"(?<!\\)(!?\[)")
    for page, query in (
        ("facilitator.py", {"console": grant}),
        ("join.py", {"w": code}),
        ("projector.py", {"w": code}),
        ("receipts.py", {"w": code}),
    ):
        at = make_app({"lang": "zh", **query}).run()
        at.switch_page(f"pages/{page}").run()
        assert not at.exception
        shown = [
            *(m.value for m in at.markdown),
            *(c.value for c in at.caption),
            *(i.value for i in at.info),
            *(m.label for m in at.metric),
        ]
        for text in shown:
            if "evil.example" in text:
                assert not unescaped.search(text), (page, text)
