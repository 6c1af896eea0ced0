"""Issue 11: the PDF prints every character a Chinese input method types, or fails loudly.

"社區互助（臺灣經驗）" once printed as "社互助（）". Here traditional, ethnic-minority and name
characters are typed as a workshop name, a method name, a theme, a summary point and notes;
the bundle is exported and the PDF's text is read back with pdftotext (on a machine with no
CJK font of its own, the shipped font is the only one fpdf2 can use). A character no shipped
font has (an emoji, an extension-B hanzi) stops the export with `MissingGlyphs`, naming it,
until the text holding it is hidden.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path

import pytest

from core import (
    editing,
    export,
    export_signing,
    note_moderation,
    note_summary,
    note_themes,
    notes,
)
from core.bilingual import Bilingual
from core.cards import issue_cards
from core.casting import submit_ballot
from core.closing import close_voting
from core.console import move_to
from core.console_access import Console, unlock_console
from core.db import Database
from core.domain import Stage, StagePosition
from core.export_formats import export_pdf
from core.fonts import MissingGlyphs
from core.instance import Admin
from core.reveal import reveal
from core.templates import available_templates
from core.workshops import create_workshop, get_workshop

PASS = "correct horse battery"
METHOD = "社區互助（臺灣經驗）"
THEME = "佤族與畲族"
SUMMARY = "婧琦說：䶮字也要印出來"
NOTE = "社區互助讓我們（臺灣經驗）更有信心"
EMOJI_NOTE = "很好👍"


def _workshop(tmp: Path) -> tuple[Database, Console, str]:
    db = Database.connect(f"sqlite:///{tmp / 'fonts.db'}")
    secret_key = secrets.token_bytes(32)
    code = create_workshop(
        Admin.trusted(db), available_templates()["default"], "畲族社區評估", PASS, anonymity_k=3
    )
    unlocked = unlock_console(db, secret_key, code, PASS)
    method = editing.add_method(unlocked, Bilingual(METHOD, "Community mutual aid (Taiwan)"))
    move_to(unlocked, StagePosition(Stage.QUESTIONS, 0))
    for text in (NOTE, EMOJI_NOTE):
        notes.post_note(db, code, text, 0)
    note_moderation.flush_pending(unlocked, 0)  # two notes, k = 3: released as the facilitator may
    note_moderation.flush_pending(unlocked, 0)
    wall = {n.text: n.id for n in notes.wall(db, code, 0, include_hidden=True)}
    theme = note_themes.create_theme(unlocked, 0, THEME)
    note_themes.assign_note(unlocked, wall[NOTE], theme)
    note_summary.set_summary_points(unlocked, 0, [SUMMARY])
    move_to(unlocked, StagePosition(Stage.VOTING))
    w = get_workshop(db, code)
    for card in issue_cards(unlocked, 3):
        submit_ballot(db, secret_key, code, card, (method, w.method_keys[0]), None, client_key="t")
    close_voting(unlocked)
    reveal(unlocked, PASS)
    return db, unlocked, wall[EMOJI_NOTE]


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_rare_and_traditional_characters_reach_the_pdf_text_and_an_emoji_fails_loudly(
    tmp_path: Path,
) -> None:
    db, unlocked, emoji_note = _workshop(tmp_path)
    key = export_signing.load_or_create_signing_key(export_signing.signing_key_path(tmp_path))
    # 1. A visible note with an emoji: no PDF with a box in it, a named error instead.
    with pytest.raises(MissingGlyphs) as caught:
        export.build_bundle(db, unlocked.code, tmp_path / "out", "zh", key)
    assert caught.value.params["chars"] == "👍"
    assert caught.value.params["text"] == EMOJI_NOTE
    # 2. Hidden, it is no longer printed, and the export goes through.
    note_moderation.hide_note(unlocked, emoji_note, True)
    bundle = export.build_bundle(db, unlocked.code, tmp_path / "out", "zh", key)
    pdf_text = _squeeze(
        subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(bundle / export_pdf.REPORT_PDF), "-"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    for text in ("畲族社區評估", METHOD, THEME, SUMMARY, NOTE):
        assert _squeeze(text) in pdf_text, text
    db.dispose()
