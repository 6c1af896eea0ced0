"""Public after the reveal: every receipt (sorted) to check inclusion, and — separately, in an
order unrelated to the receipts — every opened ranking, for anyone to recount.

Roles are not listed next to rankings: a rare role would point at its one voter.
"""

from __future__ import annotations

import streamlit as st

from core import limits, results
from core.errors import BeiduiError
from ui import live
from ui.i18n import error_text, lang, tr
from ui.routing import ensure_entry_point
from ui.runtime import instance
from ui.text import md_plain
from ui.workshop import current_code

ensure_entry_point()

inst = instance()
L = lang()

st.title(tr("receipts.title"))
code = current_code()
if not code:
    with st.form("receipts_pick", enter_to_submit=False):
        typed = st.text_input(
            tr("common.workshop_code"), key="receipts_code", max_chars=limits.MAX_CODE_INPUT_CHARS
        )
        if st.form_submit_button(tr("receipts.open"), type="primary") and typed.strip():
            st.query_params["w"] = typed.strip()
            st.rerun()
    st.stop()
try:
    w = live.workshop(code)
except BeiduiError as err:
    st.error(error_text(err))
    st.stop()
st.query_params["w"] = w.code
st.caption(md_plain(w.name))
if not w.stage.shows_results:
    st.info(tr("receipts.not_yet"))
    st.stop()

with st.form("check_receipt", enter_to_submit=False):
    typed = st.text_input(
        tr("receipts.your_receipt"), key="receipt_input", placeholder="XXXXX-XXXXX"
    )
    if st.form_submit_button(tr("receipts.check"), type="primary"):
        try:
            found = results.verify_receipt(inst.db, w.code, typed)
        except BeiduiError as err:
            st.error(error_text(err))
        else:
            if found:
                st.success(tr("receipts.found"))
            else:
                st.error(tr("receipts.not_found"))

# Public, so anyone can pin the key the evaluators' signed bundle must carry.
fingerprint = live.signing_fingerprint(str(inst.settings.data_dir))
st.caption(tr("receipts.fingerprint", fingerprint=fingerprint))
all_receipts = live.receipts(w.code)
rankings = live.opened_rankings(w.code)
labels = w.method_labels(L)
left, right = st.columns(2, gap="large")
with left:
    st.subheader(tr("receipts.receipts_heading", n=len(all_receipts)))
    st.caption(tr("receipts.receipts_sorted"))
    st.dataframe({tr("receipts.receipt"): all_receipts}, hide_index=True, width="stretch")
with right:
    st.subheader(tr("receipts.rankings_heading", n=len(rankings)))
    st.caption(tr("receipts.rankings_sorted"))
    st.dataframe(
        [
            {tr("receipts.place", n=i): labels.get(m, m) for i, m in enumerate(ranking, start=1)}
            for _role, ranking in rankings
        ],
        hide_index=True,
        width="stretch",
    )
