"""Which workshop this browser session is in: the URL's `w`, remembered in the session.

A click on a navigation link drops query parameters (Streamlit clears them when the page
changes, after the entry point ran), so each page that needs the code asks here and the code
is written back into the URL, where it survives a phone waking up in a new session.
"""

from __future__ import annotations

import streamlit as st

from ui import state


def current_code() -> str | None:
    code = st.query_params.get("w") or st.session_state.get(state.WORKSHOP_CODE)
    if code:
        st.session_state[state.WORKSHOP_CODE] = code
        if st.query_params.get("w") != code:
            st.query_params["w"] = code
    return code or None


def forget_code() -> None:
    st.session_state.pop(state.WORKSHOP_CODE, None)
    st.query_params.pop("w", None)
