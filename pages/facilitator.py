"""Facilitator console: create workshops (admin password), unlock one, step through stages."""

import streamlit as st

from core.domain import StagePosition, next_positions
from core.errors import BeiduiError
from core.instance import check_admin_password
from core.templates import available_templates
from core.workshops import create_workshop, list_workshops, move_to, unlock_console
from ui import state
from ui.i18n import error_text, lang, tr
from ui.runtime import instance

inst = instance()
L = lang()
grants: dict[str, str] = st.session_state.setdefault(state.GRANTS, {})


def stage_label(pos: StagePosition, n_questions: int) -> str:
    name = tr(f"common.stages.{pos.stage.value}")
    if pos.stage.value == "questions":
        return tr("facilitator.question_n", name=name, n=pos.question + 1, total=n_questions)
    return name


st.title(tr("facilitator.title"))
if flash := st.session_state.pop("facilitator_flash", None):
    st.success(flash)

workshops = list_workshops(inst.db)
tab_open, tab_new = st.tabs([tr("facilitator.tab_open"), tr("facilitator.tab_new")])

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
            phrase = st.text_input(tr("facilitator.passphrase"), type="password", key="new_phrase")
            phrase2 = st.text_input(
                tr("facilitator.passphrase_again"), type="password", key="new_phrase2"
            )
            st.warning(tr("facilitator.passphrase_warning"))
            if st.form_submit_button(tr("facilitator.create"), type="primary"):
                if phrase != phrase2:
                    st.error(tr("facilitator.passphrase_mismatch"))
                else:
                    try:
                        code = create_workshop(inst.db, templates[tpl_key], name, phrase)
                    except BeiduiError as err:
                        st.error(error_text(err))
                    else:
                        # Rerun so the new workshop is listed; the message survives the rerun.
                        st.session_state["facilitator_flash"] = tr("facilitator.created", code=code)
                        st.rerun()

with tab_open:
    if not workshops:
        st.info(tr("facilitator.no_workshops"))
    else:
        st.dataframe(
            [
                {
                    tr("facilitator.col_name"): w.name,
                    tr("common.workshop_code"): w.code,
                    tr("common.stage"): tr(f"common.stages.{w.stage.value}"),
                }
                for w in workshops
            ],
            hide_index=True,
            width="stretch",
        )
        names = {w.code: f"{w.code} · {w.name}" for w in workshops}
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
                    try:
                        grants[code] = unlock_console(inst.db, inst.secret_key, code, phrase)
                    except BeiduiError as err:
                        st.error(error_text(err))
                    else:
                        st.rerun()
        else:
            n_q = len(current.questions)
            st.subheader(current.name)
            st.metric(tr("common.stage"), stage_label(current.position, n_q))
            if current.stage.value == "questions":
                st.info(current.questions[current.current_question].text.get(L))
            options = next_positions(current.position, n_q)
            if options:
                labels = {p: stage_label(p, n_q) for p in options}
                target = st.selectbox(
                    tr("facilitator.next_stage"),
                    options,
                    format_func=labels.__getitem__,
                    key="target_stage",
                )
                confirm = st.checkbox(tr("facilitator.confirm_move"), key="confirm_move")
                if st.button(
                    tr("facilitator.move"), type="primary", disabled=not confirm, key="move"
                ):
                    try:
                        move_to(inst.db, inst.secret_key, code, grants[code], target)
                    except BeiduiError as err:
                        st.error(error_text(err))
                    else:
                        st.session_state.pop("confirm_move", None)
                        st.rerun()
            if st.button(tr("facilitator.lock"), key="lock"):
                grants.pop(code, None)
                st.rerun()
