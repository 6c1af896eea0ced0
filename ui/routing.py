"""Make sure every page runs inside the entry point's navigation.

Streamlit keeps a process-wide flag for apps with a `pages/` folder: until some session has
run `st.navigation`, a request for `/join` runs `pages/join.py` on its own (the old
multipage mode) — no entry point, every page in the sidebar, no wide layout. A phone opening
the join link on a freshly started server would meet exactly that. So a page that finds the
flag still set, in a session that has never been through the entry point, clears it and
reruns; the rerun goes through `evaluation_app.py`. (AppTest resets the flag before every
run; its sessions have been through the entry point on their first run, so they are left be.)
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from ui import state


def mark_entry_point() -> None:
    """Called by `evaluation_app.py` on every run."""
    st.session_state[state.ENTRY_POINT_SEEN] = True


def ensure_entry_point() -> None:
    if PagesManager.uses_pages_directory and not st.session_state.get(state.ENTRY_POINT_SEEN):
        PagesManager.uses_pages_directory = False
        st.rerun()
