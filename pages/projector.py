"""The projector (1920×1080, read from the back of the room): join QR and code, the current
question and its notes wall, the live ballot count, and the ranked result when it may be shown.

It never shows anything per person. It refreshes itself every 2 s inside a fragment (no page
reload, no flicker, scroll kept); every projector shares one database read per second.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core import charts_ranked, charts_style, limits, robustness
from core.domain import Stage
from core.errors import BeiduiError
from core.instance import join_url
from core.workshops import WorkshopView
from ui import live
from ui.guard import attempt
from ui.i18n import error_text, lang, tr
from ui.routing import ensure_entry_point
from ui.runtime import settings
from ui.text import html_plain, md_plain
from ui.workshop import current_code

ensure_entry_point()

app_settings = settings()
L = lang()

code = current_code()
if not code:
    # Asks for the code: the projector never lists the instance's workshops to anyone.
    with st.form("projector_pick", enter_to_submit=False):
        typed = st.text_input(
            tr("projector.choose"), key="projector_code", max_chars=limits.MAX_CODE_INPUT_CHARS
        )
        if st.form_submit_button(tr("projector.show"), type="primary"):
            ok, found = attempt(lambda: live.workshop(typed.strip()))
            if ok and found is not None:
                st.query_params["w"] = found.code
                st.rerun()
    st.stop()

# Sized for 1920×1080 read from the back of a room: nothing below 1.5rem (24 px), and the
# voting screen fits in one screen height (the last sentence is never cut off).
st.markdown(
    """<style>
    .block-container {max-width: 100%; padding-top: 1rem; padding-bottom: 0;}
    .bd-code {font-size: 4.2rem; font-weight: 700; letter-spacing: .3rem; text-align:center;
              line-height: 1.1;}
    .bd-meta {font-size: 1.6rem; line-height: 1.35; color: #31333F; word-break: break-all;}
    .bd-step {font-size: 2rem; font-weight: 600; color: #0072B2;}
    .bd-question {font-size: 2.8rem; font-weight: 700; line-height: 1.25;}
    .bd-note {font-size: 1.7rem; padding: .5rem .9rem; margin: .3rem 0; border-radius: .4rem;
              background: #F2F5F8; border-left: .45rem solid #0072B2;
              display: flex; justify-content: space-between; gap: 1rem;}
    .bd-dots {white-space: nowrap; font-weight: 700; flex: none;}
    .bd-theme {font-size: 2rem; font-weight: 700; margin-top: .6rem;}
    .bd-count {font-size: 4.5rem; font-weight: 700; line-height: 1.1;}
    .bd-count-label {font-size: 2rem;}
    .bd-sentence {font-size: 1.8rem; line-height: 1.35;}
    .bd-sub {font-size: 2rem; line-height: 1.3; margin: .4rem 0 .8rem;}
    </style>""",
    unsafe_allow_html=True,
)


def big(text: str, css: str) -> None:
    """Plain text (escaped) in one of the projector's large styles."""
    st.markdown(f'<div class="{css}">{html_plain(text)}</div>', unsafe_allow_html=True)


@st.fragment(run_every=2)
def screen() -> None:
    try:
        w = live.workshop(code)
    except BeiduiError as err:
        st.error(error_text(err))
        return
    left, right = st.columns([1, 3], gap="large")
    with left:
        url = join_url(app_settings, w.code)
        # A PNG: st.html sanitises inline SVG away.
        st.image(live.qr_png(url), width=300)
        big(w.code, "bd-code")
        big(url, "bd-meta")
        big(f"{w.name} · {tr('common.stages.' + w.stage.value)}", "bd-meta")
    with right:
        # One case per stage (tests/unit/test_stage_screens.py checks every stage has one): a
        # new stage must choose its screen, never fall into the voting screen by default.
        match w.stage:
            case Stage.DRAFT:
                welcome_screen()
            case Stage.QUESTIONS:
                question_screen(w)
            case Stage.VOTING | Stage.CLOSED | Stage.REVEALED:
                voting_screen(w)


def welcome_screen() -> None:
    big(tr("projector.welcome"), "bd-question")
    big(tr("projector.scan_to_join"), "bd-sub")


def question_screen(w: WorkshopView) -> None:
    q = w.questions[w.current_question]
    big(tr("join.question_n", n=q.position + 1, total=len(w.questions)), "bd-step")
    big(q.text.get(L), "bd-question")
    items = live.wall(w.code, w.current_question)
    if not items:
        big(tr("projector.notes_coming"), "bd-sub")
        return
    themed: dict[str, list[tuple[str, int]]] = {}
    loose: list[tuple[str, int]] = []
    for note in items:
        if note.theme_name:
            themed.setdefault(note.theme_name, []).append((note.text, note.dots))
        else:
            loose.append((note.text, note.dots))

    def note_box(where: Any, text: str, dots: int) -> None:
        # The dot count is its own unbreakable box: it never wraps away from its note.
        where.markdown(
            f'<div class="bd-note"><span>{html_plain(text)}</span>'
            f'<span class="bd-dots">● {dots}</span></div>',
            unsafe_allow_html=True,
        )

    cols = st.columns(2)
    for i, (text, dots) in enumerate(loose):
        note_box(cols[i % 2], text, dots)
    for name, notes_in_theme in themed.items():
        big(name, "bd-theme")
        cols = st.columns(2)
        for i, (text, dots) in enumerate(notes_in_theme):
            note_box(cols[i % 2], text, dots)


def voting_screen(w: WorkshopView) -> None:
    if w.is_live_results:
        live.refresh_live_results(w.code)
    count = live.ballot_count(w.code)
    if w.stage.accepts_ballots:
        big(tr("projector.voting_now"), "bd-question")
        big(tr("projector.team_turns_back"), "bd-sub")
    st.markdown(
        f'<div class="bd-count">{count}</div>'
        f'<div class="bd-count-label">{html_plain(tr("projector.ballots_cast"))}</div>',
        unsafe_allow_html=True,
    )
    room = live.room_results(w.code)
    # Why the last ballots wait for the reveal (issue 10: no result minus another < k).
    if (
        w.is_live_results
        and w.stage.awaits_reveal
        and (decision := live.live_decision(w.code)) is not None
    ):
        st.caption(tr(decision.message.key, **decision.message.params))
    if room is None:
        if w.stage.awaits_reveal:
            big(tr("projector.waiting_reveal"), "bd-sub")
        return
    labels = w.method_labels(L)
    published = room.published
    if not published.is_final:
        big(tr("projector.batched", counted=published.ballots_counted, k=w.anonymity_k), "bd-meta")
    elif w.is_live_results:
        big(tr("projector.final_includes_held", count=published.ballots_counted), "bd-meta")
    st.altair_chart(
        charts_style.on_screen(charts_ranked.ranked_bars(room.default, labels, L)),
        width="stretch",
    )
    # The room reads two or three sentences from the back; the full account is one tap away.
    for message in room.headline:
        text = robustness.render(message, L, labels)
        st.markdown(f'<div class="bd-sentence">{html_plain(text)}</div>', unsafe_allow_html=True)
    if room.differences:
        with st.expander(tr("projector.how_methods_differ")):
            lines = [f"- {md_plain(robustness.render(m, L, labels))}" for m in room.differences]
            st.markdown("\n".join(lines))

    with st.expander(tr("projector.as_table")):
        st.dataframe(charts_ranked.ranked_table(room.default, labels, L), hide_index=True)
    # Public: the room can note the key the evaluators' signed bundle must carry (issue 11).
    st.caption(
        tr(
            "projector.fingerprint",
            fingerprint=live.signing_fingerprint(str(app_settings.data_dir)),
        )
    )


screen()
