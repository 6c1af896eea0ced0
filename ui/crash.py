"""The error page a person sees when a page fails: localized, calm, and without internals.

Installed as `st.App(on_script_error=...)` in `evaluation_app.py`, so it replaces
Streamlit's English crash box (which with `showErrorDetails = "none"` says only that
something went wrong, in English). The exception itself is not shown: a traceback on a
phone could show what the page held.
"""

from __future__ import annotations

import logging

import streamlit as st

from ui.i18n import tr

_LOG = logging.getLogger("beidui.crash")


def show_localized_error(exc: Exception) -> bool:
    """Show the localized error; True tells Streamlit not to draw its own box."""
    # The server log keeps the type only: a message or traceback could carry a typed card
    # or note text, and logs outlive the workshop.
    _LOG.error("page failed: %s", type(exc).__name__)
    try:
        st.error(f"**{tr('web.crash_title')}**\n\n{tr('web.crash_body')}", icon="⚠️")
        st.button(tr("web.crash_reload"), key="_crash_reload", type="primary")
    except Exception:  # the page's own state may be what broke: say it in both languages
        st.error("出了点问题，请刷新页面。 Something went wrong: please reload the page.")
    return True
