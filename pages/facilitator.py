"""Facilitator console: create workshops (admin password), unlock one by its code and
passphrase, then run the day: one "next" button, voting cards, notes and themes, questions
and settings, participation.

The console follows the room by itself (fragments reading the shared one-second cache), keeps
the chosen tab after every action (the tab is bound to the URL), and survives a reload: the
URL carries a console token, never the passphrase (ui/console.py). It never lists workshops:
whoever opens it must know a code. Every button calls one core service; errors come back as
named domain errors shown in the reader's language (ui/guard.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from core import editing, limits, note_moderation, note_summary, note_themes
from core.bilingual import Bilingual, as_lines, parse_lines
from core.card_sheet import render_card_sheet, render_card_sheet_pdf
from core.cards import issue_cards, void_unused_cards
from core.console import advance_stage
from core.console_access import Console
from core.domain import StagePosition, next_positions
from core.instance import base_url, join_url
from core.live_key import unlock_live_results
from core.templates import available_templates
from core.workshops import WorkshopView, create_workshop
from ui import console, live, state
from ui.doors import client_key
from ui.guard import attempt
from ui.i18n import lang, tr
from ui.routing import ensure_entry_point
from ui.runtime import settings
from ui.storage_notice import storage_notice
from ui.text import md_plain

ensure_entry_point()

app_settings = settings()
L = lang()


T = TypeVar("T")


def _call(action: Callable[[], T], success: str | None) -> tuple[bool, T | None]:
    """Call one core service; show its error in the reader's language, or note a success."""
    ok, result = attempt(action)
    if ok:
        if success:
            st.session_state[state.FLASH] = success
        live.forget_cached_reads()
    return ok, result


def run(action: Callable[[], object], success: str | None = None) -> bool:
    """True when the service succeeded, whatever it answered (0 notes written is a success)."""
    return _call(action, success)[0]


def result_of(action: Callable[[], T], success: str | None = None) -> T | None:
    """The answer of a service the page shows (a code, cards, a count); None after an error."""
    return _call(action, success)[1]


def stage_label(pos: StagePosition, n_questions: int) -> str:
    name = tr(f"common.stages.{pos.stage.value}")
    if (question := pos.question_on_screen) is None:
        return name
    return tr("facilitator.question_n", name=name, n=question + 1, total=n_questions)


def new_workshop_form() -> None:
    signed_in = console.admin()
    if signed_in is None:
        with st.form("admin_login", enter_to_submit=False):
            pw = st.text_input(tr("facilitator.admin_password"), type="password", key="admin_pw")
            if st.form_submit_button(tr("facilitator.admin_login")) and run(
                lambda: console.sign_in_admin(pw, client_key())
            ):
                st.rerun()
    else:
        templates = available_templates()
        tpl_names = {k: tpl.name.get(L) for k, tpl in templates.items()}
        with st.form("create_workshop", enter_to_submit=False):
            tpl_key = st.selectbox(
                tr("facilitator.template"),
                list(templates),
                format_func=tpl_names.__getitem__,
                key="new_template",
                placeholder=tr("common.choose"),
            )
            name = st.text_input(
                tr("facilitator.workshop_name"), key="new_name", max_chars=limits.MAX_NAME_LENGTH
            )
            live_results = st.checkbox(tr("facilitator.live_results"), key="new_live")
            open_mode = st.checkbox(tr("facilitator.open_mode"), key="new_open")
            phrase = st.text_input(tr("facilitator.passphrase"), type="password", key="new_phrase")
            phrase2 = st.text_input(
                tr("facilitator.passphrase_again"), type="password", key="new_phrase2"
            )
            st.warning(tr("facilitator.passphrase_warning"))
            if st.form_submit_button(tr("facilitator.create"), type="primary"):
                if phrase != phrase2:
                    st.error(tr("facilitator.passphrase_mismatch"))
                else:
                    code = result_of(
                        lambda: create_workshop(
                            signed_in,
                            templates[tpl_key],
                            name,
                            phrase,
                            is_live_results=live_results,
                            is_open_mode=open_mode,
                        )
                    )
                    if code:
                        st.session_state[state.FLASH] = tr("facilitator.created", code=code)
                        st.session_state[state.PREFILL_CODE] = code
                        st.rerun()


# --- the console of one workshop -------------------------------------------------------
def where_we_are(w: WorkshopView) -> None:
    """Name, stage, the question on the screen, and what the room has sent so far."""
    n_q = len(w.questions)
    st.markdown(f"### {md_plain(w.name)}")
    cols = st.columns(3)
    cols[0].metric(tr("common.stage"), stage_label(w.position, n_q))
    cols[1].metric(tr("facilitator.ballots_cast"), live.ballot_count(w.code))
    cols[2].metric(tr("common.workshop_code"), w.code)
    if (question := w.position.question_on_screen) is not None:
        st.info(md_plain(w.questions[question].text.get(L)))


def next_button(w: WorkshopView, unlocked: Console) -> None:
    """The one obvious "next" step; a confirmation only where the step cannot be undone."""
    n_q = len(w.questions)
    target = w.position.next_step(n_q)
    if target is None:
        st.success(tr("facilitator.all_done"))
        return
    label = tr("facilitator.next_to", stage=stage_label(target, n_q))
    seen = w.position

    def advance(passphrase: str = "") -> None:
        if run(
            lambda: advance_stage(
                unlocked,
                seen,
                target,
                passphrase=passphrase,
                client_key=client_key(),
            )
        ):
            st.session_state.pop(state.CONFIRM_STEP, None)
            st.rerun()

    if target.stage.needs_passphrase:
        st.info(tr("facilitator.reveal_explained"))
        with st.form("reveal_form", enter_to_submit=False):
            phrase = st.text_input(
                tr("facilitator.passphrase"), type="password", key="stage_phrase"
            )
            if st.form_submit_button(label, type="primary"):
                advance(phrase)
        return
    if target.is_reversible:
        if st.button(label, type="primary", key="next_step", width="stretch"):
            advance()
        return
    # Opening or closing voting cannot be taken back: ask once more, with the reason.
    if st.session_state.get(state.CONFIRM_STEP) != (w.code, seen):
        if st.button(label, type="primary", key="next_step", width="stretch"):
            st.session_state[state.CONFIRM_STEP] = (w.code, seen)
            st.rerun()
        return
    st.warning(tr(f"facilitator.confirm_{target.stage.value}"))
    yes, no = st.columns(2)
    if yes.button(tr("facilitator.confirm_yes", stage=label), type="primary", key="confirm_next"):
        advance()
    if no.button(tr("common.cancel"), key="cancel_next"):
        st.session_state.pop(state.CONFIRM_STEP, None)
        st.rerun()


def other_moves(w: WorkshopView, unlocked: Console) -> None:
    """Going back to an earlier question (discussions return), or skipping ahead."""
    n_q = len(w.questions)
    following = w.position.next_step(n_q)
    options = [p for p in next_positions(w.position, n_q) if p != following and p.is_reversible]
    if not options:
        return
    with st.expander(tr("facilitator.other_moves")):
        labels = {p: stage_label(p, n_q) for p in options}
        target = st.selectbox(
            tr("facilitator.go_to"),
            options,
            format_func=labels.__getitem__,
            key="target_stage",
            placeholder=tr("common.choose"),
        )
        if st.button(tr("facilitator.move"), key="move") and run(
            lambda: advance_stage(unlocked, w.position, target)
        ):
            st.rerun()


def live_results_box(w: WorkshopView, unlocked: Console) -> None:
    """Live results need the box key on the server during voting: say so, then unlock."""
    if not w.is_live_results or w.stage.shows_results:
        return
    with st.expander(tr("facilitator.live_unlock_title")):
        st.warning(tr("facilitator.live_unlock_warning", k=w.anonymity_k))
        with st.form("live_unlock", enter_to_submit=False):
            phrase = st.text_input(tr("facilitator.passphrase"), type="password", key="live_phrase")
            if st.form_submit_button(tr("facilitator.live_unlock")) and run(
                lambda: unlock_live_results(unlocked, phrase),
                tr("facilitator.live_unlocked"),
            ):
                st.rerun()


def cards_tab(w: WorkshopView, unlocked: Console) -> None:
    if w.is_open_mode:
        st.warning(tr("facilitator.open_mode_no_cards"))
        return
    counts = live.card_counts(w.code)
    c1, c2, c3 = st.columns(3)
    c1.metric(tr("facilitator.cards_issued"), counts.issued)
    c2.metric(tr("facilitator.cards_spent"), counts.spent)
    c3.metric(tr("facilitator.cards_void"), counts.void)
    with st.form("cards_form", enter_to_submit=False, border=False):
        how_many = st.number_input(
            tr("facilitator.cards_how_many"),
            min_value=1,
            max_value=limits.MAX_CARDS_PER_CALL,
            value=limits.DEFAULT_CARDS_PER_CALL,
            key="cards_n",
        )
        generate = st.form_submit_button(
            tr("facilitator.cards_generate"), type="primary", key="cards_generate"
        )
    if generate:
        codes = result_of(lambda: issue_cards(unlocked, int(how_many)))
        if codes:
            # Shown once: the codes live only in this browser session until it is closed.
            st.session_state[state.FRESH_CARDS] = (w.code, codes)
            st.rerun()
    fresh = st.session_state.get(state.FRESH_CARDS)
    if fresh and fresh[0] == w.code:
        codes = fresh[1]
        st.success(tr("facilitator.cards_ready", n=len(codes)))
        st.caption(tr("facilitator.cards_shown_once"))
        url_for: Callable[[str], str] = lambda c: join_url(app_settings, w.code, c)  # noqa: E731
        st.download_button(
            tr("facilitator.cards_download_html"),
            render_card_sheet(codes, url_for, w.name).encode("utf-8"),
            file_name=f"beidui-cards-{w.code}.html",
            mime="text/html",
            key="cards_html",
        )
        st.download_button(
            tr("facilitator.cards_download_pdf"),
            render_card_sheet_pdf(codes, url_for, w.name),
            file_name=f"beidui-cards-{w.code}.pdf",
            mime="application/pdf",
            key="cards_pdf",
        )
        if st.button(tr("facilitator.cards_forget"), key="cards_forget"):
            st.session_state.pop(state.FRESH_CARDS, None)
            st.rerun()
    with st.expander(tr("facilitator.cards_void_title")):
        sure = st.checkbox(tr("facilitator.cards_void_confirm"), key="void_confirm")
        if st.button(tr("facilitator.cards_void_button"), disabled=not sure, key="cards_void"):
            n = result_of(lambda: void_unused_cards(unlocked))
            if n is not None:
                st.session_state[state.FLASH] = tr("facilitator.cards_voided", n=n)
                st.rerun()


def notes_tab(w: WorkshopView, unlocked: Console) -> None:
    q_labels = {q.position: f"{q.position + 1}. {q.text.get(L)}" for q in w.questions}
    question = st.selectbox(
        tr("facilitator.notes_question"),
        list(q_labels),
        format_func=q_labels.__getitem__,
        index=w.current_question,
        key="notes_q",
        placeholder=tr("common.choose"),
    )
    notes_list(w.code, question, unlocked)
    with st.form("new_theme", clear_on_submit=True, enter_to_submit=False):
        new_theme = st.text_input(tr("facilitator.theme_new"), key="theme_name")
        if st.form_submit_button(tr("facilitator.theme_create")) and run(
            lambda: note_themes.create_theme(unlocked, question, new_theme)
        ):
            st.rerun()
    promote_form(w, unlocked)
    items = live.console_wall(w.code, question)
    if len(items) > 1:
        with st.expander(tr("facilitator.merge_title")):
            texts = {n.id: n.text[:80] for n in items}
            keep = st.selectbox(
                tr("facilitator.merge_keep"),
                list(texts),
                format_func=texts.__getitem__,
                key="merge_keep",
                placeholder=tr("common.choose"),
            )
            dups = st.multiselect(
                tr("facilitator.merge_duplicates"),
                [i for i in texts if i != keep],
                format_func=texts.__getitem__,
                key="merge_dups",
                placeholder=tr("common.choose"),
            )
            if st.button(tr("facilitator.merge"), disabled=not dups, key="merge") and run(
                lambda: note_moderation.merge_notes(unlocked, keep, dups)
            ):
                st.rerun()
    st.markdown(f"#### {tr('facilitator.summary_title')}")
    current_points = live.summary_points(w.code, question)
    with st.form(f"summary_{question}", enter_to_submit=False):
        text = st.text_area(
            tr("facilitator.summary_help", max=limits.MAX_SUMMARY_POINTS),
            value="\n".join(current_points),
            key=f"summary_text_{question}",
        )
        if st.form_submit_button(tr("common.save")):
            points = [line.strip() for line in text.splitlines() if line.strip()]
            if run(
                lambda: note_summary.set_summary_points(unlocked, question, points),
                tr("facilitator.saved"),
            ):
                st.rerun()


@st.fragment(run_every=5)
def notes_list(code: str, question: int, unlocked: Console) -> None:
    """The notes as they arrive (waiting ones marked), with the facilitator's tools."""
    w = live.workshop(code)
    items = live.console_wall(code, question)
    # Waiting notes and dots live in server memory, not in the wall: only counts are shown.
    waiting = live.waiting_on(code, question)
    label = (
        tr("facilitator.notes_flush", n=waiting.notes)
        if waiting.notes
        else tr("facilitator.dots_flush", n=waiting.dots)
    )
    flush = (waiting.notes or waiting.dots) and st.button(label, key="notes_flush")
    if flush and run(lambda: note_moderation.flush_pending(unlocked, question)):
        st.rerun()
    theme_list = live.themes(code, question)
    theme_names: dict[int | None, str] = {None: tr("facilitator.notes_no_theme")}
    theme_names.update({t.id: t.name for t in theme_list})
    can_promote = w.stage.is_editable
    if theme_list:
        st.markdown(f"#### {tr('facilitator.themes_title')}")
    for theme in theme_list:
        row = st.container(border=True, horizontal=True, vertical_alignment="center")
        row.text(theme.name)
        if can_promote and row.button(
            tr("facilitator.theme_promote"), key=f"promote_theme_{theme.id}"
        ):
            st.session_state[state.PROMOTE] = ("theme", theme.id, theme.name)
            st.rerun()
    if not items:
        st.info(tr("facilitator.notes_none_yet"))
    for note in items:
        row = st.container(border=True)
        status = []
        if note.is_hidden:
            status.append(tr("facilitator.note_hidden"))
        if note.is_pending:
            status.append(tr("facilitator.note_pending"))
        row.markdown(f"{md_plain(note.text)}  \n**● {note.dots}** {' · '.join(status)}")
        cols = row.columns([2, 1, 2])
        chosen = cols[0].selectbox(
            tr("facilitator.note_theme"),
            list(theme_names),
            format_func=theme_names.__getitem__,
            index=list(theme_names).index(note.theme_id),
            key=f"theme_of_{note.id}",
            label_visibility="collapsed",
            placeholder=tr("common.choose"),
        )
        if chosen != note.theme_id and run(
            lambda n=note, c=chosen: note_themes.assign_note(unlocked, n.id, c)
        ):
            st.rerun()
        hide_label = tr("facilitator.note_show") if note.is_hidden else tr("facilitator.note_hide")
        if cols[1].button(hide_label, key=f"hide_{note.id}") and run(
            lambda n=note: note_moderation.hide_note(unlocked, n.id, not n.is_hidden)
        ):
            st.rerun()
        if can_promote and cols[2].button(tr("facilitator.note_promote"), key=f"promote_{note.id}"):
            st.session_state[state.PROMOTE] = ("note", note.id, note.text)
            st.rerun()


def promote_form(w: WorkshopView, unlocked: Console) -> None:
    """Put a note or a theme the room wrote on the ballot, under a name in both languages."""
    chosen = st.session_state.get(state.PROMOTE)
    if not chosen:
        return
    kind, target_id, words = chosen
    with st.form("promote_form", enter_to_submit=False):
        st.markdown(tr(f"facilitator.promote_{kind}_title"))
        st.text(words)
        zh = st.text_input("中文", key="promote_zh", max_chars=limits.MAX_LABEL_LENGTH)
        en = st.text_input("English", key="promote_en", max_chars=limits.MAX_LABEL_LENGTH)
        go, cancel = st.columns(2)
        if go.form_submit_button(tr("facilitator.note_promote"), type="primary"):
            promote = (
                editing.promote_theme_to_method
                if kind == "theme"
                else editing.promote_note_to_method
            )
            if run(
                lambda: promote(unlocked, target_id, Bilingual(zh, en)),
                tr("facilitator.promoted"),
            ):
                st.session_state.pop(state.PROMOTE, None)
                st.rerun()
        if cancel.form_submit_button(tr("common.cancel")):
            st.session_state.pop(state.PROMOTE, None)
            st.rerun()


def questions_tab(w: WorkshopView, unlocked: Console) -> None:
    """Edit the questions (while the workshop is still in preparation)."""
    if not w.stage.are_questions_editable:
        st.info(tr("facilitator.questions_locked"))
    for q in w.questions:
        st.text(f"{q.position + 1}. {q.text.get(L)}")
    if not w.stage.are_questions_editable:
        return
    with st.form("questions", enter_to_submit=False):
        lines = st.text_area(
            tr("facilitator.questions_help"),
            value=as_lines(q.text for q in w.questions),
            key="questions_text",
            height=200,
        )
        if st.form_submit_button(tr("common.save"), type="primary"):
            questions = parse_lines(lines)
            if run(
                lambda: editing.set_questions(unlocked, questions),
                tr("facilitator.saved"),
            ):
                st.rerun()


def settings_tab(w: WorkshopView, unlocked: Console) -> None:
    with st.form("settings", enter_to_submit=False):
        name = st.text_input(tr("facilitator.workshop_name"), value=w.name, key="set_name")
        k_size = st.number_input(
            tr("facilitator.ballot_size"),
            min_value=1,
            max_value=limits.MAX_BALLOT_SIZE,
            value=w.ballot_size,
            key="set_K",
        )
        k_anon = st.number_input(
            tr("facilitator.anonymity_k", min=limits.MIN_ANONYMITY_K),
            min_value=limits.MIN_ANONYMITY_K,
            max_value=limits.MAX_ANONYMITY_K,
            value=w.anonymity_k,
            key="set_k",
        )
        live_results = st.checkbox(
            tr("facilitator.live_results"), w.is_live_results, key="set_live"
        )
        open_mode = st.checkbox(tr("facilitator.open_mode"), w.is_open_mode, key="set_open")
        if st.form_submit_button(tr("common.save"), type="primary") and run(
            lambda: editing.update_settings(
                unlocked,
                name=name,
                ballot_size=int(k_size),
                anonymity_k=int(k_anon),
                is_live_results=live_results,
                is_open_mode=open_mode,
            ),
            tr("facilitator.saved"),
        ):
            st.rerun()
    st.markdown(f"#### {tr('facilitator.methods_title')}")
    for m in w.methods:
        cols = st.columns([5, 1])
        cols[0].markdown(f"**{md_plain(m.label.get(L))}** — {md_plain(m.description.get(L))}")
        if cols[1].button(tr("facilitator.remove"), key=f"rm_{m.key}") and run(
            lambda key=m.key: editing.remove_method(unlocked, key)
        ):
            st.rerun()
    with st.form("add_method", clear_on_submit=True, enter_to_submit=False):
        st.markdown(tr("facilitator.method_add"))
        zh = st.text_input("中文", key="method_zh", max_chars=limits.MAX_LABEL_LENGTH)
        en = st.text_input("English", key="method_en", max_chars=limits.MAX_LABEL_LENGTH)
        if st.form_submit_button(tr("facilitator.method_add_button")) and run(
            lambda: editing.add_method(unlocked, Bilingual(zh, en))
        ):
            st.rerun()
    st.markdown(f"#### {tr('facilitator.roles_title')}")
    with st.form("roles", enter_to_submit=False):
        lines = st.text_area(
            tr("facilitator.roles_help"),
            value=as_lines(r.label for r in w.roles),
            key="roles_text",
        )
        if st.form_submit_button(tr("common.save")):
            roles = parse_lines(lines)
            if run(
                lambda: editing.set_roles(unlocked, roles),
                tr("facilitator.saved"),
            ):
                st.rerun()


def participation_tab(w: WorkshopView) -> None:
    part = live.participation(w.code)
    for q, n in zip(w.questions, part.notes_per_question, strict=False):
        st.metric(md_plain(f"{q.position + 1}. {q.text.get(L)}"), tr("facilitator.n_notes", n=n))
    counts = live.card_counts(w.code)
    st.metric(
        tr("facilitator.ballots_vs_cards"),
        f"{live.ballot_count(w.code)} / {counts.issued}",
    )
    st.caption(tr("facilitator.join_at", url=base_url(app_settings)))


def unlock_form() -> None:
    """Open a console by typing its code and passphrase: no list of workshops to anyone."""
    if prefill := st.session_state.pop(state.PREFILL_CODE, None):
        st.session_state[state.UNLOCK_CODE] = prefill  # the workshop just created
    with st.form("unlock", enter_to_submit=False):
        st.caption(tr("facilitator.console_help"))
        code = st.text_input(
            tr("common.workshop_code"),
            key=state.UNLOCK_CODE,
            max_chars=limits.MAX_CODE_INPUT_CHARS,
            placeholder="ABC123",
        )
        phrase = st.text_input(
            tr("facilitator.passphrase"), type="password", key=state.UNLOCK_PHRASE
        )
        if st.form_submit_button(tr("facilitator.unlock"), type="primary") and run(
            lambda: console.unlock(code.strip(), phrase, client_key())
        ):
            st.session_state.pop(state.UNLOCK_PHRASE, None)
            st.rerun()


@st.fragment(run_every=3)
def live_header(code: str, token: str) -> None:
    """Follows the room: a move made elsewhere (a second laptop) shows within seconds.

    A fragment keeps its arguments between its own reruns: only the token string, never the
    `Console` (it holds the database).
    """
    w = live.workshop(code)
    where_we_are(w)
    next_button(w, console.console_for(code, token))


def the_console(unlocked: Console) -> None:
    code = unlocked.code
    live_header(code, unlocked.token)
    w = live.workshop(code)
    top = st.container(horizontal=True)
    top.page_link(
        "pages/projector.py", label=tr("facilitator.open_projector"), query_params={"w": code}
    )
    if top.button(tr("facilitator.lock"), key="lock", help=tr("facilitator.lock_explained")):
        console.lock(code)
        st.rerun()
    other_moves(w, unlocked)
    live_results_box(w, unlocked)
    storage_notice(unlocked)
    labels = [
        tr("facilitator.tab_notes"),
        tr("facilitator.tab_cards"),
        tr("facilitator.tab_questions"),
        tr("facilitator.tab_settings"),
        tr("facilitator.tab_participation"),
    ]
    # Keyed and bound to the URL: an action (a rerun) or a reload keeps the chosen tab.
    tabs = st.tabs(labels, key=state.CONSOLE_TAB, bind="query-params")
    with tabs[0]:
        if tabs[0].open:
            notes_tab(w, unlocked)
    with tabs[1]:
        if tabs[1].open:
            cards_tab(w, unlocked)
    with tabs[2]:
        if tabs[2].open:
            questions_tab(w, unlocked)
    with tabs[3]:
        if tabs[3].open:
            settings_tab(w, unlocked)
    with tabs[4]:
        if tabs[4].open:
            participation_tab(w)


st.title(tr("facilitator.title"))
if flash := st.session_state.pop(state.FLASH, None):
    st.success(flash)

unlocked = console.current()
if unlocked is not None:
    the_console(unlocked)
else:
    tab_open, tab_new = st.tabs([tr("facilitator.tab_open"), tr("facilitator.tab_new")])
    with tab_open:
        unlock_form()
    with tab_new:
        new_workshop_form()
