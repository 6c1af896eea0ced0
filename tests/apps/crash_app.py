"""A page that always fails, served with the app's own `on_script_error` (tests only)."""

from __future__ import annotations

import streamlit as st

from ui.crash import show_localized_error

if __name__ == "__main__":
    raise RuntimeError("a page bug, with card ABCD-EFGH-JK in its message")
else:
    app = st.App("crash_app.py", on_script_error=show_localized_error)
