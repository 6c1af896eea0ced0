"""The baseline for `benchmarks.room`: the smallest Streamlit page that casts a ballot.

One form (card, ranking, submit); the script run calls core's `submit_ballot` and waits with
`receipt_when_stored`: what any Streamlit page pays per ballot, whatever it draws around it —
the framework's own ceiling, measured in the same run as the new path (one request to
/api/ballot). Served with the app's config (`.streamlit/config.toml`), and the heap frozen
after imports as the app does. Never part of the app.
"""

from __future__ import annotations

import gc

import streamlit as st

from core.casting import receipt_when_stored, submit_ballot
from ui import live
from ui.runtime import instance

gc.freeze()
inst = instance()
code = st.query_params.get("w", "")
w = live.workshop(code)
with st.form("ballot", border=False):
    card = st.text_input("card", key="card")
    ranking = st.multiselect("ranking", list(w.method_keys), key="ranking", max_selections=5)
    submitted = st.form_submit_button("cast", key="cast")
if submitted:
    try:
        receipt = receipt_when_stored(
            submit_ballot(inst.db, inst.secret_key, w.code, card, ranking, None, client_key=card)
        )
    except Exception as err:  # a benchmark page: say what went wrong, do not crash the run
        st.markdown(f"refused: {type(err).__name__}")
    else:
        st.markdown(f"# `{receipt}`")
