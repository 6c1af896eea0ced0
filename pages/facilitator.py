"""Facilitator console: create workshops (admin password), unlock one with its passphrase,
then run the day: stages, voting cards, notes and themes, settings, participation.

Every button calls one core service; errors come back as named domain errors shown in the
reader's language.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from core import ballots, editing, notes, results
from core.card_sheet import render_card_sheet, render_card_sheet_pdf
from core.domain import Stage, StagePosition, next_positions
from core.errors import BeiduiError
from core.instance import base_url, check_admin_password, join_url
from core.templates import available_templates
from core.workshops import WorkshopView, create_workshop, list_workshops, move_to, unlock_console
from ui import live, state
from ui.i18n import error_text, lang, tr
from ui.routing import ensure_entry_point
from ui.runtime import instance
from ui.text import md_plain

ensure_entry_point()

inst = instance()
L = lang()
grants: dict[str, str] = st.session_state.setdefault(state.GRANTS, {})


def run(action: Callable[[], Any], success: str | None = None) -> Any:
    """Call one core service; show its domain error in the reader's language, or a success."""
    try:
        result = action()
    except BeiduiError as err:
        st.error(error_text(err))
        return None
    if success:
        st.session_state["facilitator_flash"] = success
    live.forget_cached_reads()
    return result if result is not None else True


def stage_label(pos: StagePosition, n_questions: int) -> str:
    name = tr(f"common.stages.{pos.stage.value}")
    if pos.stage == Stage.QUESTIONS:
        return tr("facilitator.question_n", name=name, n=pos.question + 1, total=n_questions)
    return name


st.title(tr("facilitator.title"))
if flash := st.session_state.pop("facilitator_flash", None):
    st.success(flash)

workshops = list_workshops(inst.db)
tab_open, tab_new = st.tabs([tr("facilitator.tab_open"), tr("facilitator.tab_new")])

# --- creating a workshop ---------------------------------------------------------------
with tab_new:
    if not st.session_state.get(state.ADMIN_OK):
        with st.form("admin_login"):
            pw = st.text_input(tr("facilitator.admin_password"), type="password", key="admin_pw")
            if st.form_submit_button(tr("facilitator.admin_login")):
                if check_admin_password(inst.settings, pw):
                    st.session_state[state.ADMIN_OK] = True
                    st.rerun()
                else:
                    st.error(tr("errors.wrong_admin_password"))
    else:
        templates = available_templates()
        tpl_names = {k: tpl.name.get(L) for k, tpl in templates.items()}
        with st.form("create_workshop"):
            tpl_key = st.selectbox(
                tr("facilitator.template"),
                list(templates),
                format_func=tpl_names.__getitem__,
                key="new_template",
            )
            name = st.text_input(tr("facilitator.workshop_name"), key="new_name", max_chars=200)
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
                    code = run(
                        lambda: create_workshop(
                            inst.db,
                            templates[tpl_key],
                            name,
                            phrase,
                            is_live_results=live_results,
                            is_open_mode=open_mode,
                        )
                    )
                    if code:
                        st.session_state["facilitator_flash"] = tr("facilitator.created", code=code)
                        st.session_state["console_code"] = code
                        st.rerun()


# --- the console of one workshop -------------------------------------------------------
def stage_tab(w: WorkshopView, grant: str) -> None:
    n_q = len(w.questions)
    st.metric(tr("common.stage"), stage_label(w.position, n_q))
    if w.stage == Stage.QUESTIONS:
        st.info(md_plain(w.questions[w.current_question].text.get(L)))
    options = next_positions(w.position, n_q)
    if not options:
        st.success(tr("facilitator.all_done"))
        return
    labels = {p: stage_label(p, n_q) for p in options}
    target = st.selectbox(
        tr("facilitator.next_stage"), options, format_func=labels.__getitem__, key="target_stage"
    )
    phrase = ""
    if target.stage == Stage.REVEALED:
        st.info(tr("facilitator.reveal_explained"))
        phrase = st.text_input(tr("facilitator.passphrase"), type="password", key="stage_phrase")
    # A fresh key after every move: the browser would otherwise keep the box ticked.
    moves = st.session_state.setdefault("moves_made", 0)
    confirm = st.checkbox(tr("facilitator.confirm_move"), key=f"confirm_move_{moves}")
    if st.button(tr("facilitator.move"), type="primary", disabled=not confirm, key="move"):
        if target.stage == Stage.CLOSED:
            done = run(lambda: ballots.close_voting(inst.db, inst.secret_key, w.code, grant))
        elif target.stage == Stage.REVEALED:
            done = run(lambda: ballots.reveal(inst.db, inst.secret_key, w.code, grant, phrase))
        else:
            done = run(lambda: move_to(inst.db, inst.secret_key, w.code, grant, target))
        if done:
            st.session_state["moves_made"] = moves + 1
            st.session_state.pop("stage_phrase", None)
            st.rerun()


def live_results_box(w: WorkshopView, grant: str) -> None:
    """Live results need the box key on the server during voting: say so, then unlock."""
    if not w.is_live_results or w.stage == Stage.REVEALED:
        return
    with st.expander(tr("facilitator.live_unlock_title")):
        st.warning(tr("facilitator.live_unlock_warning", k=w.anonymity_k))
        with st.form("live_unlock"):
            phrase = st.text_input(tr("facilitator.passphrase"), type="password", key="live_phrase")
            if st.form_submit_button(tr("facilitator.live_unlock")) and run(
                lambda: ballots.unlock_live_results(
                    inst.db, inst.secret_key, w.code, grant, phrase
                ),
                tr("facilitator.live_unlocked"),
            ):
                st.rerun()


def cards_tab(w: WorkshopView, grant: str) -> None:
    if w.is_open_mode:
        st.warning(tr("facilitator.open_mode_no_cards"))
        return
    counts = ballots.card_counts(inst.db, w.code)
    c1, c2, c3 = st.columns(3)
    c1.metric(tr("facilitator.cards_issued"), counts.issued)
    c2.metric(tr("facilitator.cards_spent"), counts.spent)
    c3.metric(tr("facilitator.cards_void"), counts.void)
    how_many = st.number_input(
        tr("facilitator.cards_how_many"), min_value=1, max_value=500, value=60, key="cards_n"
    )
    if st.button(tr("facilitator.cards_generate"), type="primary", key="cards_generate"):
        codes = run(
            lambda: ballots.issue_cards(inst.db, inst.secret_key, w.code, grant, int(how_many))
        )
        if codes:
            # Shown once: the codes live only in this browser session until it is closed.
            st.session_state["fresh_cards"] = (w.code, codes)
            st.rerun()
    fresh = st.session_state.get("fresh_cards")
    if fresh and fresh[0] == w.code:
        codes = fresh[1]
        st.success(tr("facilitator.cards_ready", n=len(codes)))
        st.caption(tr("facilitator.cards_shown_once"))
        url_for: Callable[[str], str] = lambda c: join_url(inst.settings, w.code, c)  # noqa: E731
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
            st.session_state.pop("fresh_cards", None)
            st.rerun()
    with st.expander(tr("facilitator.cards_void_title")):
        sure = st.checkbox(tr("facilitator.cards_void_confirm"), key="void_confirm")
        if st.button(tr("facilitator.cards_void_button"), disabled=not sure, key="cards_void"):
            n = run(lambda: ballots.void_unused_cards(inst.db, inst.secret_key, w.code, grant))
            if n is not None:
                st.session_state["facilitator_flash"] = tr("facilitator.cards_voided", n=n)
                st.rerun()


def notes_tab(w: WorkshopView, grant: str) -> None:
    q_labels = {q.position: f"{q.position + 1}. {q.text.get(L)}" for q in w.questions}
    question = st.selectbox(
        tr("facilitator.notes_question"),
        list(q_labels),
        format_func=q_labels.__getitem__,
        index=w.current_question,
        key="notes_q",
    )
    items = notes.wall(inst.db, w.code, question, include_hidden=True, include_pending=True)
    # Waiting notes live in server memory, not in the wall: only their count is shown.
    waiting = notes.pending_count(inst.db, w.code, question)
    flush = waiting and st.button(tr("facilitator.notes_flush", n=waiting), key="notes_flush")
    if flush and run(
        lambda: notes.flush_pending(inst.db, inst.secret_key, w.code, grant, question)
    ):
        st.rerun()
    theme_list = notes.themes(inst.db, w.code, question)
    theme_names: dict[int | None, str] = {None: tr("facilitator.notes_no_theme")}
    theme_names.update({t.id: t.name for t in theme_list})
    with st.form("new_theme", clear_on_submit=True):
        new_theme = st.text_input(tr("facilitator.theme_new"), key="theme_name")
        if st.form_submit_button(tr("facilitator.theme_create")) and run(
            lambda: notes.create_theme(inst.db, inst.secret_key, w.code, grant, question, new_theme)
        ):
            st.rerun()
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
        )
        if chosen != note.theme_id and run(
            lambda n=note, c=chosen: notes.assign_note(
                inst.db, inst.secret_key, w.code, grant, n.id, c
            )
        ):
            st.rerun()
        hide_label = tr("facilitator.note_show") if note.is_hidden else tr("facilitator.note_hide")
        if cols[1].button(hide_label, key=f"hide_{note.id}") and run(
            lambda n=note: notes.hide_note(
                inst.db, inst.secret_key, w.code, grant, n.id, not n.is_hidden
            )
        ):
            st.rerun()
        if w.stage in (Stage.DRAFT, Stage.QUESTIONS) and cols[2].button(
            tr("facilitator.note_promote"), key=f"promote_{note.id}"
        ):
            st.session_state["promote_note"] = note.id
    if promoted := st.session_state.get("promote_note"):
        with st.form("promote_form"):
            st.markdown(tr("facilitator.promote_title"))
            zh = st.text_input("中文", key="promote_zh", max_chars=200)
            en = st.text_input("English", key="promote_en", max_chars=200)
            if st.form_submit_button(tr("facilitator.note_promote"), type="primary") and run(
                lambda: editing.promote_note_to_method(
                    inst.db, inst.secret_key, w.code, grant, promoted, zh, en
                ),
                tr("facilitator.promoted"),
            ):
                st.session_state.pop("promote_note", None)
                st.rerun()
    if len(items) > 1:
        with st.expander(tr("facilitator.merge_title")):
            texts = {n.id: n.text[:80] for n in items}
            keep = st.selectbox(
                tr("facilitator.merge_keep"),
                list(texts),
                format_func=texts.__getitem__,
                key="merge_keep",
            )
            dups = st.multiselect(
                tr("facilitator.merge_duplicates"),
                [i for i in texts if i != keep],
                format_func=texts.__getitem__,
                key="merge_dups",
            )
            if st.button(tr("facilitator.merge"), disabled=not dups, key="merge") and run(
                lambda: notes.merge_notes(inst.db, inst.secret_key, w.code, grant, keep, dups)
            ):
                st.rerun()
    st.markdown(f"#### {tr('facilitator.summary_title')}")
    current_points = notes.summary_points(inst.db, w.code, question)
    with st.form(f"summary_{question}"):
        text = st.text_area(
            tr("facilitator.summary_help"),
            value="\n".join(current_points),
            key=f"summary_text_{question}",
        )
        if st.form_submit_button(tr("common.save")):
            points = [line.strip() for line in text.splitlines() if line.strip()]
            if run(
                lambda: notes.set_summary_points(
                    inst.db, inst.secret_key, w.code, grant, question, points
                ),
                tr("facilitator.saved"),
            ):
                st.rerun()


def settings_tab(w: WorkshopView, grant: str) -> None:
    with st.form("settings"):
        name = st.text_input(tr("facilitator.workshop_name"), value=w.name, key="set_name")
        k_size = st.number_input(tr("facilitator.ballot_size"), 1, 10, w.ballot_size, key="set_K")
        k_anon = st.number_input(tr("facilitator.anonymity_k"), 3, 1000, w.anonymity_k, key="set_k")
        live_results = st.checkbox(
            tr("facilitator.live_results"), w.is_live_results, key="set_live"
        )
        open_mode = st.checkbox(tr("facilitator.open_mode"), w.is_open_mode, key="set_open")
        if st.form_submit_button(tr("common.save"), type="primary") and run(
            lambda: editing.update_settings(
                inst.db,
                inst.secret_key,
                w.code,
                grant,
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
            lambda key=m.key: editing.remove_method(inst.db, inst.secret_key, w.code, grant, key)
        ):
            st.rerun()
    with st.form("add_method", clear_on_submit=True):
        st.markdown(tr("facilitator.method_add"))
        zh = st.text_input("中文", key="method_zh", max_chars=200)
        en = st.text_input("English", key="method_en", max_chars=200)
        if st.form_submit_button(tr("facilitator.method_add_button")) and run(
            lambda: editing.add_method(inst.db, inst.secret_key, w.code, grant, zh, en)
        ):
            st.rerun()
    st.markdown(f"#### {tr('facilitator.roles_title')}")
    with st.form("roles"):
        lines = st.text_area(
            tr("facilitator.roles_help"),
            value="\n".join(f"{r.label.zh} | {r.label.en}" for r in w.roles),
            key="roles_text",
        )
        if st.form_submit_button(tr("common.save")):
            pairs = []
            for line in lines.splitlines():
                zh, _, en = line.partition("|")
                if zh.strip():
                    pairs.append((zh.strip(), en.strip() or zh.strip()))
            if run(
                lambda: editing.set_roles(inst.db, inst.secret_key, w.code, grant, pairs),
                tr("facilitator.saved"),
            ):
                st.rerun()


def participation_tab(w: WorkshopView) -> None:
    part = notes.participation(inst.db, w.code)
    for q, n in zip(w.questions, part.notes_per_question, strict=False):
        st.metric(f"{q.position + 1}. {q.text.get(L)}", tr("facilitator.n_notes", n=n))
    counts = ballots.card_counts(inst.db, w.code)
    st.metric(
        tr("facilitator.ballots_vs_cards"),
        f"{results.ballot_count(inst.db, w.code)} / {counts.issued}",
    )
    st.caption(tr("facilitator.join_at", url=base_url(inst.settings)))


with tab_open:
    if not workshops:
        st.info(tr("facilitator.no_workshops"))
    else:
        names = {
            w.code: f"{w.code} · {w.name} · {tr('common.stages.' + w.stage.value)}"
            for w in workshops
        }
        code = st.selectbox(
            tr("facilitator.choose_workshop"),
            list(names),
            format_func=names.__getitem__,
            key="console_code",
        )
        current = next(w for w in workshops if w.code == code)
        if code not in grants:
            with st.form("unlock"):
                phrase = st.text_input(
                    tr("facilitator.passphrase"), type="password", key="unlock_phrase"
                )
                if st.form_submit_button(tr("facilitator.unlock")):
                    grant = run(lambda: unlock_console(inst.db, inst.secret_key, code, phrase))
                    if grant:
                        grants[code] = grant
                        st.rerun()
        else:
            grant = grants[code]
            st.subheader(current.name)
            st.page_link(
                "pages/projector.py",
                label=tr("facilitator.open_projector"),
                query_params={"w": code},
            )
            tabs = st.tabs(
                [
                    tr("facilitator.tab_stage"),
                    tr("facilitator.tab_cards"),
                    tr("facilitator.tab_notes"),
                    tr("facilitator.tab_settings"),
                    tr("facilitator.tab_participation"),
                ]
            )
            with tabs[0]:
                stage_tab(current, grant)
                live_results_box(current, grant)
            with tabs[1]:
                cards_tab(current, grant)
            with tabs[2]:
                notes_tab(current, grant)
            with tabs[3]:
                settings_tab(current, grant)
            with tabs[4]:
                participation_tab(current)
            if st.button(tr("facilitator.lock"), key="lock"):
                grants.pop(code, None)
                st.rerun()
