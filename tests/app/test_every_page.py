"""Every page, run the way a server runs it (through evaluation_app.py), at every stage of a
workshop, in Chinese: no crash, no Streamlit English, no English word of ours (issue 12).

The walk reads every text a person can see in the element tree (labels, values, options,
placeholders, help, table cells) and fails on a Latin-only word that is not a name, a code, a
URL or a file format. It also checks what the tree cannot show as text but the browser would
draw in English: a form that still says "Press Enter to submit form", an input outside a form
("Press Enter to apply"), a choice box without our placeholder ("Choose an option"), a table
cell that would read "None".
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from core import notes
from core.cards import issue_cards
from core.casting import submit_ballot
from core.closing import close_voting
from core.console import advance_stage
from core.console_access import open_console, unlock_console
from core.domain import Stage
from core.instance import Admin, Instance
from core.reveal import reveal
from core.templates import available_templates
from core.workshops import create_workshop, get_workshop
from tests.app.conftest import ROOT, make_app
from ui import state

PASS = "facilitator secret 1"
PAGES = sorted(p.name for p in (ROOT / "pages").glob("*.py"))
# Words that are the same in every language: our name, file formats, the language switch.
ALLOWED = {"Beidui", "English", "PDF", "HTML", "CSV", "JSON", "Excel", "xlsx", "zip"}
_URL = re.compile(r"https?://\S+")
_TAG = re.compile(r"<style>.*?</style>|<[^>]+>", re.S)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]+")
_CODE = re.compile(r"^[A-Z0-9-]+$")  # join codes, card and receipt shapes (XXXX-XXXX-XX)
# A command in inline code (`python -m core.verify …`) is typed as it is, in any language.
_INLINE_CODE = re.compile(r"`[^`\n]+`")


def _nodes(node: Any) -> Iterator[Any]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _nodes(child)


# Choice widgets: `value` is the program's value; the person sees the formatted options.
# Text boxes: `value` is what people typed (the bilingual editors hold English on purpose).
_CHOICES = {"ButtonGroup", "Selectbox", "Multiselect", "Radio", "SelectSlider"}
_TYPED = {"TextInput", "TextArea"}


def _texts(node: Any) -> Iterator[str]:
    attrs = ("label", "placeholder", "help", "body")
    if type(node).__name__ not in _CHOICES | _TYPED:
        attrs = ("value", *attrs)
    for attr in attrs:
        try:
            value = getattr(node, attr, None)
        except Exception:  # some element types raise for attributes they lack
            continue
        if isinstance(value, str):
            yield value
    try:
        options = getattr(node, "options", None)
    except Exception:
        options = None
    if isinstance(options, list | tuple):
        yield from (str(o) for o in options)
    if type(node).__name__ in ("Dataframe",):
        frame = node.value
        yield from (str(c) for c in frame.columns)
        yield from (str(v) for v in frame.to_numpy().ravel() if v == v and v is not None)


def english_words(at: AppTest, allowed: set[str]) -> list[str]:
    found: list[str] = []
    for node in _nodes(at._tree):
        for text in _texts(node):
            text = _URL.sub(" ", html.unescape(_TAG.sub(" ", _INLINE_CODE.sub(" ", text))))
            for word in _WORD.findall(text):
                if word in allowed or _CODE.match(word):
                    continue
                found.append(word)
    return found


def streamlit_english(at: AppTest) -> list[str]:
    """Places where the browser would show one of Streamlit's own English strings."""
    problems: list[str] = []
    for node in _nodes(at._tree):
        kind = type(node).__name__
        proto = getattr(node, "proto", None)
        is_form = getattr(node, "type", None) == "form" and proto is not None
        if is_form and proto.form.enter_to_submit:
            problems.append(f"form {proto.form.form_id}: 'Press Enter to submit form'")
        if kind in ("TextInput", "TextArea", "NumberInput") and not node.form_id:
            problems.append(f"{node.key}: outside a form, 'Press Enter to apply'")
        if kind in ("Selectbox", "Multiselect") and not proto.placeholder:
            problems.append(f"{node.key}: no placeholder, 'Choose an option'")
        if kind == "Dataframe" and node.value.isna().to_numpy().any():
            problems.append("a table cell would read 'None'")
    return problems


def _check(at: AppTest, where: str, allowed: set[str]) -> None:
    assert not at.exception, f"{where}: {at.exception}"
    assert not [e.value for e in at.error], f"{where}: {[e.value for e in at.error]}"
    assert english_words(at, allowed) == [], where
    assert streamlit_english(at) == [], where


def test_every_file_in_pages_is_a_registered_page(app_env: Instance) -> None:
    at = make_app().run()
    for page in PAGES:
        at.switch_page(f"pages/{page}")  # raises ValueError for a page nav does not know


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_each_sidebar_entry_opens_with_no_query_string(
    app_env: Instance, page: str, lang: str
) -> None:
    """What the home page's links, the printed phone address and the projector's "type the
    code" lead to: /join, /projector, … with nothing after them (issue 12: /join crashed)."""
    at = make_app(locale="zh-CN" if lang == "zh" else "en-US").run()
    at.query_params.clear()
    at.switch_page(f"pages/{page}").run()
    assert not at.exception, f"{page}: {at.exception}"
    if lang == "zh":
        _check(at, page, ALLOWED)


def _walk_all_pages_in_zh(code: str, console_token: str, allowed: set[str], where: str) -> None:
    for page in PAGES:
        query = {"w": code}
        if page in ("facilitator.py", "results.py"):
            query = {"console": console_token}
        at = make_app(query, locale="zh-CN").run()
        at.switch_page(f"pages/{page}").run()
        _check(at, f"{where} {page}", allowed)
        if page == "facilitator.py":  # and every tab of the console
            assert at.session_state[state.CONSOLE_CODE] == code  # reopened from the URL
            for tab in [t.label for t in at.tabs]:
                at.session_state[state.CONSOLE_TAB] = tab
                at.run()
                _check(at, f"{where} {page} {tab}", allowed)


def test_every_page_at_every_stage_speaks_only_chinese(app_env: Instance) -> None:
    db, key = app_env.db, app_env.secret_key
    code = create_workshop(
        Admin.trusted(db), available_templates()["default"], "年度评估会", PASS, anonymity_k=3
    )
    grant = unlock_console(db, key, code, PASS).token
    allowed = ALLOWED | {code}
    cards = issue_cards(open_console(db, key, code, grant), 4)
    w = get_workshop(db, code)
    _walk_all_pages_in_zh(code, grant, allowed, "draft")
    advance_stage(
        open_console(db, key, code, grant), w.position, w.position.__class__(Stage.QUESTIONS, 0)
    )
    for text in ("资金要灵活", "同伴交流", "行动研究"):
        notes.post_note(db, code, text, 0)
    _walk_all_pages_in_zh(code, grant, allowed, "questions")
    w = get_workshop(db, code)
    advance_stage(
        open_console(db, key, code, grant), w.position, w.position.__class__(Stage.VOTING)
    )
    methods = list(w.method_keys)
    for card, first in zip(cards, methods, strict=False):
        submit_ballot(db, key, code, card, [first, methods[-1]], None)
    _walk_all_pages_in_zh(code, grant, allowed, "voting")
    close_voting(open_console(db, key, code, grant))
    _walk_all_pages_in_zh(code, grant, allowed, "closed")
    reveal(open_console(db, key, code, grant), PASS)
    _walk_all_pages_in_zh(code, grant, allowed, "revealed")


def test_the_walker_catches_english_and_streamlit_defaults(app_env: Instance) -> None:
    """The walk can fail: a page with an English word and a bare form is caught."""
    script = Path(app_env.settings.data_dir) / "bad.py"
    script.write_text(
        "import streamlit as st\n"
        "with st.form('f'):\n"
        "    st.text_input('名字')\n"
        "    st.selectbox('选择', ['甲'])\n"
        "    st.form_submit_button('提交')\n"
        "st.markdown('Hello 世界')\n"
        "st.dataframe({'名次': [None, '甲']})\n"
    )
    at = AppTest.from_file(str(script)).run()
    assert set(english_words(at, ALLOWED)) == {"Hello"}
    problems = streamlit_english(at)
    assert any("Press Enter to submit form" in p for p in problems)
    assert any("Choose an option" in p for p in problems)
    assert any("None" in p for p in problems)


def test_no_page_lists_the_instances_workshops(app_env: Instance) -> None:
    """Issue 12: /facilitator, /projector (and /results) showed every workshop's code, name
    and stage to anyone who opened them."""
    codes = [
        create_workshop(
            Admin.trusted(app_env.db), available_templates()["default"], f"秘密工作坊{i}", PASS
        )
        for i in range(3)
    ]
    for page in ("facilitator.py", "projector.py", "results.py", "receipts.py"):
        at = make_app(locale="zh-CN").run()
        at.query_params.clear()
        at.switch_page(f"pages/{page}").run()
        shown = " ".join(text for node in _nodes(at._tree) for text in _texts(node))
        for code in codes:
            assert code not in shown, page
        assert "秘密工作坊" not in shown, page
