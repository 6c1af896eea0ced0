"""The phone's notes form tells the truth and loses nothing typed (issues 10 and 12).

1. A note that waits for its batch is "received — waiting for N more", not "saved".
2. A 10,000-character paste is "too long (max 280)", and the text stays in the box.
3. A note posted after the room moved on is refused, the phone shows the new question, and
   the typed text is still in the box (one box for every question).
4. A dot that waits for its batch is "given — shows with the next N dots", the phone marks
   its own dot as given, and the wall's count does not move until the batch is counted.
"""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core import notes
from core.console import move_to
from core.console_access import open_console, unlock_console
from core.domain import Stage, StagePosition
from core.instance import Admin, Instance
from core.templates import available_templates
from core.workshops import create_workshop
from tests.app.conftest import make_app

PASS = "facilitator secret 1"


def _room(inst: Instance) -> tuple[str, str]:
    code = create_workshop(
        Admin.trusted(inst.db), available_templates()["default"], "Notes", PASS, anonymity_k=3
    )
    grant = unlock_console(inst.db, inst.secret_key, code, PASS).token
    move_to(open_console(inst.db, inst.secret_key, code, grant), StagePosition(Stage.QUESTIONS, 0))
    return code, grant


def _phone(code: str, lang: str = "en") -> AppTest:
    phone = make_app({"lang": lang, "w": code}).run()
    phone.switch_page("pages/join.py").run()
    assert not phone.exception
    return phone


def _post(phone: AppTest, box: str, typed: str) -> None:
    phone.text_area(key=box).input(typed)
    phone.button[0].click().run()
    assert not phone.exception


def test_a_waiting_note_is_received_not_saved_and_the_box_is_emptied(app_env: Instance) -> None:
    code, _ = _room(app_env)
    box = f"note_text_{code}"
    phone = _phone(code)
    _post(phone, box, "资助灵活")
    assert "waiting for 2 more notes before it is saved" in phone.info[0].value
    assert phone.text_area(key=box).value == ""
    _post(phone, box, "Peer exchange")
    assert "waiting for 1 more note before" in phone.info[0].value  # not "1 more notes"
    _post(phone, box, "行动研究")
    assert phone.success[0].value.startswith("Saved")
    assert len(notes.wall(app_env.db, code, 0)) == 3


def test_a_long_paste_is_too_long_and_stays_in_the_box(app_env: Instance) -> None:
    code, _ = _room(app_env)
    box = f"note_text_{code}"
    phone = _phone(code)
    pasted = "长" * 10_000
    _post(phone, box, pasted)
    assert "too long (10000 characters): 280 at most" in phone.error[0].value
    assert phone.text_area(key=box).value == pasted


def test_a_note_posted_after_the_room_moved_on_is_refused_and_kept_for_the_new_question(
    app_env: Instance,
) -> None:
    code, grant = _room(app_env)
    phone = _phone(code)
    typed = "typed while question 1 was on screen"
    phone.text_area(key=f"note_text_{code}").input(typed)
    # The facilitator moves on before the phone taps "post" (its page still shows question 1).
    move_to(
        open_console(app_env.db, app_env.secret_key, code, grant), StagePosition(Stage.QUESTIONS, 1)
    )
    phone.button[0].click().run()
    assert not phone.exception
    assert "Question 1 has ended" in phone.error[0].value
    assert any("Question 2 of" in s.value for s in phone.subheader)
    assert phone.text_area(key=f"note_text_{code}").value == typed
    assert "moved on to question 2" in phone.info[0].value
    from ui.runtime import instance  # the page's own process-wide Database

    for db in (app_env.db, instance().db):
        assert [notes.pending_count(db, code, q) for q in (0, 1)] == [0, 0]
    assert notes.wall(app_env.db, code, 0) == notes.wall(app_env.db, code, 1) == []


def test_a_waiting_dot_is_given_not_counted_and_the_phone_says_so_in_chinese(
    app_env: Instance,
) -> None:
    code, _ = _room(app_env)
    for text in ("资助灵活", "同伴交流", "行动研究"):
        notes.post_note(app_env.db, code, text, 0)
    note = next(n for n in notes.wall(app_env.db, code, 0) if n.text == "同伴交流")
    phone = _phone(code, "zh")
    phone.button(key=f"dot_{note.id}").click().run()
    assert not phone.exception
    assert "你的点赞会和接下来的 2 个点赞一起出现在墙上" in phone.info[0].value
    assert any(c.value == "✓ 你已点赞" for c in phone.caption)
    assert not any(b.key == f"dot_{note.id}" for b in phone.button)
    assert {n.text: n.dots for n in notes.wall(app_env.db, code, 0)}["同伴交流"] == 0


def test_the_console_offers_to_show_dots_that_wait_alone_and_then_the_wall_counts_them(
    app_env: Instance,
) -> None:
    """Dots waiting on their own (no note waits) get the facilitator's "show now" button too,
    in the console's language; pressing it counts them on the wall."""
    from tests.app.conftest import unlock_console as unlock_at

    code, _ = _room(app_env)
    for text in ("资助灵活", "同伴交流", "行动研究"):
        notes.post_note(app_env.db, code, text, 0)
    note = next(n for n in notes.wall(app_env.db, code, 0) if n.text == "行动研究")
    for _ in range(2):  # two phones, k = 3: both dots wait
        _phone(code, "zh").button(key=f"dot_{note.id}").click().run()
    console = make_app({"lang": "zh"}).run()
    console.switch_page("pages/facilitator.py").run()
    unlock_at(console, code, PASS)
    assert not console.exception
    assert console.button(key="notes_flush").label == "立即显示等待中的 2 个点赞"
    console.button(key="notes_flush").click().run()
    assert not console.exception
    assert {n.text: n.dots for n in notes.wall(app_env.db, code, 0)}["行动研究"] == 2
    assert not any(b.key == "notes_flush" for b in console.button)
