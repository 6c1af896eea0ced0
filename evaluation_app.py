"""Beidui (背对) entry point: the web app, and the navigation for each browser session.

`streamlit run evaluation_app.py` imports this module, finds `app` (an `st.App`) and serves
it: our routes (`web/`: the ballot's one-request hot path) and our middleware (security
headers, no `/_stcore/metrics`) around Streamlit, with a localized error page instead of
Streamlit's crash box. Streamlit then runs this same file as `__main__` for every browser
session, which only builds the navigation: participants who arrive by a join link see only
their page; organisers see the console pages.
"""

from __future__ import annotations

import gc

import streamlit as st

from ui import state
from ui.console import restore_from_url as restore_console_from_url
from ui.crash import show_localized_error
from ui.i18n import lang, language_switch, tr
from ui.routing import mark_entry_point
from ui.runtime import instance
from web.app import MIDDLEWARE, ROUTES, lifespan


def main() -> None:
    st.set_page_config(page_title="Beidui 背对", page_icon="🫥", layout="wide")

    # Everything imported so far lives for the whole process: move it out of the collector's
    # sight so the occasional collection stays cheap (see benchmarks/gc_setting.py).
    gc.freeze()

    instance()  # migrate and open the database once per process, before any page renders
    mark_entry_point()
    # A reloaded console comes back unlocked: its token is in the URL (ui.console).
    restore_console_from_url()

    # The join code travels in the URL so it survives page changes and phones waking up; a nav
    # click drops query parameters, so the session remembers it and writes it back.
    workshop_code = st.query_params.get("w") or st.session_state.get(state.WORKSHOP_CODE)
    if workshop_code is not None:
        st.session_state[state.WORKSHOP_CODE] = workshop_code
    is_participant_link = workshop_code is not None and not st.session_state.get(state.GRANTS)

    home = st.Page("pages/home.py", title=tr("nav.home"), icon="🏠", url_path="home", default=True)
    join = st.Page("pages/join.py", title=tr("nav.join"), icon="📱", url_path="join")
    projector = st.Page(
        "pages/projector.py", title=tr("nav.projector"), icon="📽️", url_path="projector"
    )
    receipts = st.Page(
        "pages/receipts.py", title=tr("nav.receipts"), icon="🧾", url_path="receipts"
    )
    console = st.Page(
        "pages/facilitator.py", title=tr("nav.facilitator"), icon="🧭", url_path="facilitator"
    )
    results = st.Page("pages/results.py", title=tr("nav.results"), icon="📊", url_path="results")

    pages = {
        tr("nav.section_room"): [home, join, projector, receipts],
        tr("nav.section_organisers"): [console, results],
    }
    nav = st.navigation(pages, position="hidden" if is_participant_link else "sidebar")
    st.session_state[state.LANG_SWITCH_IN_SIDEBAR] = not is_participant_link
    if not is_participant_link:
        language_switch(st.sidebar)
    # Each write to the URL is a message to the browser: write only what changed. (The join code
    # is written back by the pages that need it: ui.workshop.current_code.)
    if st.query_params.get("lang") != lang():
        st.query_params["lang"] = lang()
    nav.run()


if __name__ == "__main__":  # a script run for one browser session
    main()
else:  # imported by `streamlit run` (uvicorn): the ASGI app around the script
    app = st.App(
        "evaluation_app.py",
        routes=ROUTES,
        middleware=MIDDLEWARE,
        lifespan=lifespan,
        on_script_error=show_localized_error,
    )
