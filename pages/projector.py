"""The projector (1920×1080, read from the back of the room): join QR and code, the current
question and its notes wall, the live ballot count, and the ranked result when it may be shown.

It never shows anything per person. It refreshes itself every 2 s inside a fragment (no page
reload, no flicker, scroll kept); every projector shares one database read per second.
"""

from __future__ import annotations

import streamlit as st

from core import charts, robustness
from core.domain import Stage
from core.errors import BeiduiError
from core.instance import join_url
from core.tally import DEFAULT_COUNTING
from core.workshops import WorkshopView
from ui import live
from ui.guard import attempt
from ui.i18n import error_text, lang, tr
from ui.routing import ensure_entry_point
from ui.runtime import instance
from ui.text import html_plain, md_plain
from ui.workshop import current_code

ensure_entry_point()

inst = instance()
L = lang()

code = current_code()
if not code:
    # Asks for the code: the projector never lists the instance's workshops to anyone.
    with st.form("projector_pick", enter_to_submit=False):
        typed = st.text_input(tr("projector.choose"), key="projector_code", max_chars=12)
        if st.form_submit_button(tr("projector.show"), type="primary"):
            ok, found = attempt(lambda: live.workshop(typed.strip()))
            if ok and found is not None:
                st.query_params["w"] = found.code
                st.rerun()
    st.stop()

st.markdown(
    """<style>
    .block-container {max-width: 100%; padding-top: 1.2rem;}
    .bd-code {font-size: 4.2rem; font-weight: 700; letter-spacing: .3rem; text-align:center;}
    .bd-question {font-size: 3rem; font-weight: 700; line-height: 1.25;}
    .bd-note {font-size: 1.7rem; padding: .6rem .9rem; margin: .35rem 0; border-radius: .4rem;
              background: #F2F5F8; border-left: .45rem solid #0072B2;}
    .bd-count {font-size: 5rem; font-weight: 700;}
    .bd-sentence {font-size: 1.8rem;}
    </style>""",
    unsafe_allow_html=True,
)


@st.fragment(run_every=2)
def screen() -> None:
    try:
        w = live.workshop(code)
    except BeiduiError as err:
        st.error(error_text(err))
        return
    left, right = st.columns([1, 3], gap="large")
    with left:
        url = join_url(inst.settings, w.code)
        # A PNG: st.html sanitises inline SVG away.
        st.image(live.qr_png(url), width=360)
        st.markdown(f'<div class="bd-code">{w.code}</div>', unsafe_allow_html=True)
        st.caption(url)
        st.caption(f"{md_plain(w.name)} · {tr('common.stages.' + w.stage.value)}")
    with right:
        if w.stage == Stage.DRAFT:
            st.markdown(
                f'<div class="bd-question">{tr("projector.welcome")}</div>', unsafe_allow_html=True
            )
            st.markdown(f"## {tr('projector.scan_to_join')}")
        elif w.stage == Stage.QUESTIONS:
            question_screen(w)
        else:
            voting_screen(w)


def question_screen(w: WorkshopView) -> None:
    q = w.questions[w.current_question]
    st.caption(tr("join.question_n", n=q.position + 1, total=len(w.questions)))
    st.markdown(
        f'<div class="bd-question">{html_plain(q.text.get(L))}</div>', unsafe_allow_html=True
    )
    items = live.wall(w.code, w.current_question)
    if not items:
        st.markdown(f"## {tr('projector.notes_coming')}")
        return
    themed: dict[str, list[str]] = {}
    loose: list[tuple[str, int]] = []
    for note in items:
        if note.theme_name:
            themed.setdefault(note.theme_name, []).append(note.text)
        else:
            loose.append((note.text, note.dots))
    cols = st.columns(2)
    for i, (text, dots) in enumerate(loose):
        cols[i % 2].markdown(
            f'<div class="bd-note">{html_plain(text)} <b>· ● {dots}</b></div>',
            unsafe_allow_html=True,
        )
    for name, texts in themed.items():
        st.markdown(f"### {md_plain(name)}")
        for text in texts:
            st.markdown(f'<div class="bd-note">{html_plain(text)}</div>', unsafe_allow_html=True)


def voting_screen(w: WorkshopView) -> None:
    if w.is_live_results:
        live.refresh_live_results(w.code)
    count = live.ballot_count(w.code)
    if w.stage == Stage.VOTING:
        st.markdown(
            f'<div class="bd-question">{tr("projector.voting_now")}</div>', unsafe_allow_html=True
        )
        st.markdown(f"## {tr('projector.team_turns_back')}")
    st.markdown(
        f'<div class="bd-count">{count}</div>{tr("projector.ballots_cast")}', unsafe_allow_html=True
    )
    published = live.published(w.code)
    if published is None:
        if w.stage == Stage.CLOSED:
            st.markdown(f"## {tr('projector.waiting_reveal')}")
        return
    labels = w.method_labels(L)
    results = published.tallies
    if not published.is_final:
        st.caption(tr("projector.batched", counted=published.ballots_counted, k=w.anonymity_k))
    st.altair_chart(charts.ranked_bars(results[DEFAULT_COUNTING], labels, L), width="stretch")
    # The room reads two or three sentences from the back; the full account is one tap away.
    agreement = robustness.agreement(results)
    headline = [*agreement[:1], *robustness.margins(results[DEFAULT_COUNTING], top=2)]
    for message in headline:
        text = robustness.render(message, L, labels)
        st.markdown(f'<div class="bd-sentence">{html_plain(text)}</div>', unsafe_allow_html=True)
    if len(agreement) > 1:
        with st.expander(tr("projector.how_methods_differ")):
            st.markdown(
                "\n".join(f"- {md_plain(robustness.render(m, L, labels))}" for m in agreement[1:])
            )

    with st.expander(tr("projector.as_table")):
        st.dataframe(charts.ranked_table(results[DEFAULT_COUNTING], labels, L), hide_index=True)


screen()
