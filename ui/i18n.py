"""Which language this browser session sees, and the switch that changes it."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.errors import BeiduiError
from core.i18n import LANGUAGES, normalize_language, plural_forms, t, tm
from ui import state

LANGUAGE_NAMES = {"zh": "中文", "en": "English"}


def lang() -> str:
    """zh by default; the URL's `lang`, else the choice made here, else the browser's."""
    if state.LANG not in st.session_state:
        from_url = st.query_params.get("lang")
        browser = None
        try:
            browser = st.context.locale
        except Exception:  # older runtimes / AppTest without context
            browser = None
        st.session_state[state.LANG] = normalize_language(from_url or browser)
    return str(st.session_state[state.LANG])


def tr(key: str, /, **params: Any) -> str:
    return t(key, lang(), **params)


def tr_forms(key: str, /, **params: Any) -> dict[str, str]:
    """A plural key's forms for a browser component to choose from (core.i18n.plural_forms)."""
    return plural_forms(key, lang(), **params)


def error_text(err: BeiduiError) -> str:
    return tm(err.message, lang())


def _on_change() -> None:
    chosen = st.session_state[state.LANG_SWITCH]
    if chosen not in LANGUAGES:  # a second tap on the selected option clears it: keep ours
        return
    st.session_state[state.LANG] = chosen
    st.query_params["lang"] = chosen


def language_switch(where: Any = st.sidebar) -> None:
    """The zh/English switch. Call it from the entry point (sidebar) or, through
    `page_language_switch`, from a page whose sidebar is hidden — never both in one run."""
    current = lang()
    where.segmented_control(
        t("common.language", current),
        options=list(LANGUAGES),
        format_func=lambda code: LANGUAGE_NAMES[code],
        default=current,
        key=state.LANG_SWITCH,
        on_change=_on_change,
        label_visibility="collapsed",
    )


def page_language_switch(where: Any) -> None:
    """The switch at the top of a participant page, unless the sidebar already holds it.

    The entry point records each run whether it drew the sidebar switch; two widgets with
    the key `lang_switch` in one run crash the page (issue 12: `/join` without `?w=`).
    """
    if not st.session_state.get(state.LANG_SWITCH_IN_SIDEBAR):
        language_switch(where)
