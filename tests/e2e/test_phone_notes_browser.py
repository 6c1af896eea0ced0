"""The phone's note box in a real browser (issue 12): nothing typed is lost.

1. A 10,000-character paste is refused as "too long (10000 characters): 280 at most" and
   stays in the box (the box has no browser-side limit that would silently drop it).
2. Text typed but not yet posted stays in the box when the room moves on and the phone
   redraws itself with the next question, and the phone says what will happen to it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.console import move_to
from core.console_access import open_console, unlock_console
from core.db import Database
from core.domain import Stage, StagePosition
from core.instance import Admin
from core.templates import available_templates
from core.workshops import create_workshop
from tests.e2e.conftest import PHONE
from tests.server import Server, streamlit_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSPHRASE = "we turn our backs 2026"
TIMEOUT = 30_000  # ms; the phone polls the room every 8 s


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with streamlit_server(tmp_path) as running:
        yield running


def test_a_long_paste_and_unposted_text_survive_in_the_note_box(
    browser: Any, server: Server
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT)
    db = Database.connect(server.env["DATABASE_URL"], migrate_schema=False)
    # Any key works for the console grant as long as the same one checks it.
    key = secrets.token_bytes(32)
    code = create_workshop(Admin.trusted(db), available_templates()["default"], "Notes", PASSPHRASE)
    grant = unlock_console(db, key, code, PASSPHRASE).token
    move_to(open_console(db, key, code, grant), StagePosition(Stage.QUESTIONS, 0))
    context = browser.new_context(**PHONE, locale="en-GB")
    try:
        phone = context.new_page()
        phone.goto(f"{server.url}/join?w={code}&lang=en")
        expect(phone.get_by_text("Question 1 of 4")).to_be_visible()
        box = phone.get_by_label("Write your thoughts", exact=False)

        # 1. a paste, as the clipboard delivers it
        box.click()
        phone.keyboard.insert_text("长" * 10_000)
        phone.get_by_role("button", name="Post the note").click()
        expect(phone.get_by_text("too long (10000 characters): 280 at most")).to_be_visible()
        assert len(box.input_value()) == 10_000

        # 2. typed, not posted; the room moves on; the phone follows by itself
        box.fill("typed during question 1")
        move_to(open_console(db, key, code, grant), StagePosition(Stage.QUESTIONS, 1))
        expect(phone.get_by_text("Question 2 of 4")).to_be_visible()
        expect(phone.get_by_text("moved on to question 2")).to_be_visible()
        expect(phone.get_by_label("Write your thoughts", exact=False)).to_have_value(
            "typed during question 1"
        )
    finally:
        context.close()
        db.dispose()
