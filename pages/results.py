"""Results and exports for evaluators: after the reveal, the signed bundle (CSV, Excel, JSON,
bilingual report, PDF) with the role breakdown where groups reach k. Unlocked with the
facilitator passphrase; nothing here is per person. What an evaluator may see is decided by
`core.results_view.evaluator_results`; this page only renders it.
"""

from __future__ import annotations

import streamlit as st

from core import (
    charts_comparison,
    charts_places,
    charts_ranked,
    charts_roles,
    charts_style,
    limits,
    robustness,
)
from core.breakdown import explain
from core.errors import BeiduiError
from core.export import prepare_downloads
from core.i18n import LANGUAGES
from core.results_view import evaluator_results
from core.tally.registry import DEFAULT_COUNTING
from ui import console, live, state
from ui.doors import client_key
from ui.guard import attempt
from ui.i18n import LANGUAGE_NAMES, error_text, lang, tr
from ui.routing import ensure_entry_point
from ui.runtime import settings
from ui.text import md_plain

ensure_entry_point()

app_settings = settings()
L = lang()

st.title(tr("results.title"))
# Never a list of workshops: the open console's workshop, else the code and passphrase.
unlocked = console.current()
if unlocked is None:
    with st.form("results_unlock", enter_to_submit=False):
        typed = st.text_input(
            tr("common.workshop_code"), key="results_code", max_chars=limits.MAX_CODE_INPUT_CHARS
        )
        phrase = st.text_input(tr("facilitator.passphrase"), type="password", key="results_phrase")
        if st.form_submit_button(tr("facilitator.unlock"), type="primary"):
            ok, opened = attempt(lambda: console.unlock(typed.strip(), phrase, client_key()))
            if ok and opened:
                st.rerun()
    st.stop()
code = unlocked.code
w = live.workshop(code)
st.caption(md_plain(w.name))
ok, view = attempt(lambda: evaluator_results(unlocked))
if not ok or view is None:
    st.stop()
if not view.is_revealed:
    st.info(tr("results.none_revealed"))
    st.stop()

labels = w.method_labels(L)
if (published := view.published) is not None:
    tallies = published.tallies
    st.altair_chart(
        charts_style.on_screen(charts_ranked.ranked_bars(tallies[DEFAULT_COUNTING], labels, L)),
        width="stretch",
    )
    for message in view.account:
        st.markdown(md_plain(robustness.render(message, L, labels)))
    with st.expander(tr("results.compare")):
        st.altair_chart(
            charts_style.on_screen(charts_comparison.method_comparison(tallies, labels, L)),
            width="stretch",
        )
        st.dataframe(charts_comparison.comparison_table(tallies, labels, L), hide_index=True)

if view.places is not None and view.roles is not None:
    order = view.order
    with st.expander(tr("results.places")):
        counts = view.places
        st.altair_chart(
            charts_style.on_screen(charts_places.place_distribution(counts, order, labels, L)),
            width="stretch",
        )
        st.dataframe(charts_places.place_table(counts, order, labels, L), hide_index=True)
    with st.expander(tr("results.by_role", k=w.anonymity_k)):
        groups = view.roles
        role_labels = {r.key: r.label.get(L) for r in w.roles}
        # Which roles were offered, shown, merged and why: a vanished role is explained.
        for line in explain(groups.plan, role_labels, L, offered=view.offered_roles):
            st.markdown(md_plain(line))
        if groups.roles:  # "other" alone would just be the whole room again
            st.caption(tr("results.role_grid_note"))
            shares = charts_roles.RoleShares(groups, order, labels, L, role_labels)
            st.altair_chart(
                charts_style.on_screen(charts_roles.role_share_grid(shares)), width="stretch"
            )
            st.dataframe(charts_roles.role_share_table(shares), hide_index=True)
        else:
            st.info(tr("results.no_groups", k=w.anonymity_k))

st.subheader(tr("results.downloads"))
export_lang = st.segmented_control(
    tr("results.export_language"),
    list(LANGUAGES),
    format_func=LANGUAGE_NAMES.__getitem__,
    default=L,
    key="export_lang",
)
if st.button(tr("results.prepare"), type="primary", key="prepare"):
    bar = st.progress(0.0, text=tr("results.preparing"))
    try:
        st.session_state[state.DOWNLOADS] = prepare_downloads(
            unlocked,
            app_settings.data_dir,
            export_lang or L,
            on_progress=lambda fraction, text: bar.progress(min(fraction, 1.0), text=text),
        )
    except BeiduiError as err:
        st.error(error_text(err))
downloads = st.session_state.get(state.DOWNLOADS)
if downloads is not None and downloads.bundle_name.split("-")[1] == code:
    st.success(tr("results.ready", fingerprint=downloads.fingerprint))
    st.download_button(
        tr("results.download_zip"),
        downloads.zip_bytes,
        file_name=f"{downloads.bundle_name}.zip",
        mime="application/zip",
        type="primary",
        key="dl_zip",
    )
    cols = st.columns(3)
    for i, (name, content) in enumerate(sorted(downloads.files.items())):
        cols[i % 3].download_button(name, content, file_name=name, key=f"dl_{name}")
    st.caption(tr("results.verify_hint"))
