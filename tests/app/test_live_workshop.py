"""A live workshop that never stumbles (issue 12), through the pages as people use them.

Phones keep their receipt across a reload and move on to the results by themselves; a cast
after the close says it was not counted; a tampered value or a locked database gets a
localized message and keeps what was typed; the console survives a reload, keeps its tab
after an action, and its lock ends the session.
"""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from core import ballots, notes
from core.domain import Stage, StagePosition
from core.instance import Instance
from core.templates import available_templates
from core.workshops import (
    NotAuthorized,
    create_workshop,
    get_workshop,
    move_to,
    resume_console,
    unlock_console,
)
from tests.app.conftest import make_app, next_step, open_tab
from tests.app.conftest import unlock_console as type_unlock
from ui import live, state

PASS = "facilitator secret 1"


def _room(inst: Instance, stage: Stage = Stage.VOTING) -> tuple[str, str, list[str]]:
    db, key = inst.db, inst.secret_key
    code = create_workshop(db, available_templates()["default"], "现场", PASS, anonymity_k=3)
    grant = unlock_console(db, key, code, PASS)
    cards = ballots.issue_cards(db, key, code, grant, 5)
    if stage != Stage.DRAFT:
        move_to(db, key, code, grant, StagePosition(stage))
    return code, grant, cards


def _phone(code: str, **query: str):  # type: ignore[no-untyped-def]
    at = make_app({"lang": "en", "w": code, **query}).run()
    at.switch_page("pages/join.py").run()
    assert not at.exception
    return at


def _fill_ballot(phone, code: str, card: str, *methods: str) -> None:  # type: ignore[no-untyped-def]
    """The ballot steps, kept small so a new ballot component only changes this helper."""
    phone.text_input(key=f"card_{code}").input(card)
    box = phone.multiselect(key=f"ranking_{code}")
    for m in methods:
        box = box.select(m)
    phone.button(key="review").click().run()


def _cast(phone) -> None:  # type: ignore[no-untyped-def]
    phone.button(key="cast").click().run()


def test_a_phone_that_reloads_after_voting_keeps_its_receipt_and_follows_to_the_results(
    app_env: Instance,
) -> None:
    code, grant, cards = _room(app_env)
    phone = _phone(code)
    _fill_ballot(phone, code, cards[0], "action_research")
    _cast(phone)
    receipt = phone.session_state[f"receipt_{code}"]
    assert phone.query_params["receipt"] == receipt
    assert "card" not in phone.query_params and cards[0] not in str(dict(phone.query_params))
    # The reload: a new session with only the URL.
    reloaded = _phone(code, receipt=receipt)
    assert any(receipt in m.value for m in reloaded.markdown)
    assert not reloaded.multiselect  # no empty ballot
    for card in cards[1:3]:
        ballots.submit_ballot(
            app_env.db, app_env.secret_key, code, card, ["co_creation_fund"], None
        )
    ballots.close_voting(app_env.db, app_env.secret_key, code, grant)
    ballots.reveal(app_env.db, app_env.secret_key, code, grant, PASS)
    live.forget_cached_reads()  # a second later, the shared one-second cache has expired
    reloaded.run()  # the page's follow-the-room fragment ticking
    assert not reloaded.exception
    assert reloaded.header[0].value == "Results"
    assert any(receipt in c.value for c in reloaded.caption)


def test_a_cast_refused_after_the_close_says_it_was_not_counted(app_env: Instance) -> None:
    code, grant, cards = _room(app_env)
    phone = _phone(code)
    _fill_ballot(phone, code, cards[0], "action_research")
    ballots.close_voting(app_env.db, app_env.secret_key, code, grant)
    _cast(phone)
    assert not phone.exception
    assert "not counted" in phone.error[0].value


@pytest.mark.parametrize("field", ["ranking", "role"])
def test_a_tampered_method_or_role_gets_a_message_not_a_crash(
    app_env: Instance, field: str
) -> None:
    code, _, cards = _room(app_env)
    phone = _phone(code)
    _fill_ballot(phone, code, cards[0], "action_research")
    review = dict(phone.session_state[f"review_{code}"])
    review[field] = ["not_a_method"] if field == "ranking" else "not_a_role"
    phone.session_state[f"review_{code}"] = review  # what a tampered client would send
    phone.run()
    _cast(phone)
    assert not phone.exception
    assert phone.error
    assert phone.session_state[f"review_{code}"]["card"] == cards[0]  # nothing typed is lost


def test_a_locked_database_gets_a_message_and_the_note_stays_typed(
    app_env: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, _ = _room(app_env, Stage.QUESTIONS)
    phone = _phone(code)
    q_id = get_workshop(app_env.db, code).questions[0].id

    def locked(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(notes, "post_note", locked)
    phone.text_area(key=f"note_text_{q_id}").input("我的想法")
    _submit_note(phone, q_id)
    assert not phone.exception
    assert "busy" in phone.error[0].value
    assert phone.text_area(key=f"note_text_{q_id}").value == "我的想法"
    monkeypatch.undo()
    _submit_note(phone, q_id)
    assert phone.success and phone.text_area(key=f"note_text_{q_id}").value == ""


def _submit_note(phone, q_id: int) -> None:  # type: ignore[no-untyped-def]
    next(
        b for b in phone.button if (b.key or "").startswith(f"FormSubmitter:note_form_{q_id}-")
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
    move_to(db, key, code, grant, StagePosition(Stage.QUESTIONS, 0))
    for text in ("资金要灵活", "同伴交流", "行动研究"):
        notes.post_note(db, code, text, 0)
    theme = notes.create_theme(db, key, code, grant, 0, "学习")
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
    code = create_workshop(db, available_templates()["default"], evil, PASS, anonymity_k=3)
    grant = unlock_console(db, key, code, PASS)
    questions = [(q.text.zh, q.text.en) for q in get_workshop(db, code).questions]
    questions[0] = ("[点这里](http://evil.example/) 问题", "[click](http://evil.example/) q")
    editing.set_questions(db, key, code, grant, questions)
    move_to(db, key, code, grant, StagePosition(Stage.QUESTIONS, 0))
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
