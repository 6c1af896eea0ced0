"""The participant's phone: join, write notes, give dots, rank methods on a secret ballot.

No account, no login. The page follows the facilitator's stage by itself. After a ballot is
cast the ranking is wiped from this session, so showing the phone afterwards reveals only a
receipt that proves inclusion, never content.
"""

from __future__ import annotations

import random

import streamlit as st

from core import ballots, notes
from core.domain import Stage
from core.errors import BeiduiError
from core.tally import DEFAULT_COUNTING
from core.workshops import WorkshopView
from ui import live, state
from ui.i18n import error_text, lang, language_switch, tr
from ui.routing import ensure_entry_point
from ui.runtime import instance
from ui.text import md_plain
from ui.workshop import current_code, forget_code

ensure_entry_point()

inst = instance()
L = lang()

# --- which workshop ---------------------------------------------------------------------
code = current_code()
# Phones have little height to spare: less empty space above the first line.
st.markdown("<style>.block-container {padding-top: 1.5rem;}</style>", unsafe_allow_html=True)
top = st.container(horizontal=True, horizontal_alignment="right")
language_switch(top)
if not code:
    st.title(tr("join.title"))
    with st.form("join_form"):
        typed = st.text_input(tr("join.enter_code"), key="join_code", max_chars=12)
        if st.form_submit_button(tr("join.join"), type="primary"):
            try:
                found = live.workshop(typed)
            except BeiduiError as err:
                st.error(error_text(err))
            else:
                st.query_params["w"] = found.code
                st.session_state[state.WORKSHOP_CODE] = found.code
                st.rerun()
    st.stop()

try:
    w: WorkshopView = live.workshop(code)
except BeiduiError as err:
    st.error(error_text(err))
    if st.button(tr("join.try_other_code"), key="other_code"):
        forget_code()
        st.rerun()
    st.stop()

# A card code arriving in the join link is taken into this session and removed from the URL,
# so it does not linger in the phone's address bar or history.
if card_from_link := st.query_params.get("card"):
    st.session_state.setdefault(f"card_{w.code}", card_from_link)
    del st.query_params["card"]

st.caption(f"{md_plain(w.name)} · {tr('common.workshop_code')} {w.code}")
seen_key = f"seen_stage_{w.code}"
st.session_state[seen_key] = (w.stage, w.current_question)


@st.fragment(run_every=8)
def follow_the_room() -> None:
    """Rerun the whole page when the facilitator moves on; nothing else is refreshed.

    Every phone in the room runs this, so it is cheap (one cached read) and slow-paced.
    """
    now = live.workshop(w.code)
    if (now.stage, now.current_question) != st.session_state.get(seen_key):
        st.rerun()


# A phone filling in its ballot does not poll: stages only move forward, and a cast after
# the close is refused with a clear message anyway. A phone whose sealed ballot waits for
# its batch does follow the room, so it moves on (and shows its receipt) after the close.
if not (
    w.stage == Stage.VOTING
    and not st.session_state.get(f"receipt_{w.code}")
    and not st.session_state.get(f"ticket_{w.code}")
):
    follow_the_room()

# --- stages -----------------------------------------------------------------------------


def waiting(message_key: str) -> None:
    st.header(tr(message_key))
    st.caption(tr("join.page_follows"))


def questions_stage() -> None:
    q = w.questions[w.current_question]
    st.subheader(tr("join.question_n", n=q.position + 1, total=len(w.questions)))
    st.markdown(f"### {md_plain(q.text.get(L))}")
    st.caption(tr("join.notes_are_anonymous"))
    with st.form(f"note_form_{q.id}", clear_on_submit=True, border=True, enter_to_submit=False):
        text = st.text_area(
            tr("join.your_note"), key=f"note_text_{q.id}", max_chars=280, height=100
        )
        if st.form_submit_button(tr("join.post"), type="primary"):
            try:
                notes.post_note(inst.db, w.code, text)
            except BeiduiError as err:
                st.error(error_text(err))
            else:
                live.wall.clear()  # a completed batch should show on this phone at once
                st.success(tr("join.posted", k=w.anonymity_k))
    # Dots are limited per browser session; nothing records who gave which dot.
    used: list[str] = st.session_state.setdefault(f"dots_{w.code}_{q.id}", [])

    @st.fragment(run_every=10)
    def the_wall() -> None:
        st.markdown(f"#### {tr('join.wall')}")
        st.caption(tr("join.dots_left", n=notes.DOTS_PER_QUESTION - len(used)))
        items = live.wall(w.code, w.current_question)
        if not items:
            st.info(tr("join.wall_empty"))
        for note in items:
            row = st.container(border=True, horizontal=True, vertical_alignment="center")
            row.markdown(md_plain(note.text))
            row.markdown(f"**● {note.dots}**")
            disabled = note.id in used or len(used) >= notes.DOTS_PER_QUESTION
            if row.button("＋●", key=f"dot_{note.id}", disabled=disabled, help=tr("join.give_dot")):
                try:
                    notes.add_dot(inst.db, w.code, note.id)
                except BeiduiError as err:
                    st.error(error_text(err))
                else:
                    used.append(note.id)
                    live.wall.clear()
                    st.rerun()

    the_wall()


def _client_key() -> str:
    """An opaque per-session key for the failed-attempt limiter (kept only in memory)."""
    return str(
        st.session_state.setdefault("_limiter_client", random.SystemRandom().getrandbits(128))
    )


def _ballot_keys() -> dict[str, str]:
    return {
        "card": f"card_{w.code}",
        "ranking": f"ranking_{w.code}",
        "role": f"role_{w.code}",
        "review": f"review_{w.code}",
        "error": f"cast_error_{w.code}",
        "receipt": f"receipt_{w.code}",
        "ticket": f"ticket_{w.code}",
        "order": f"order_{w.code}",
    }


def _to_review() -> None:
    """Form submitted: hold the ballot for the review step (a callback: no extra rerun)."""
    keys = _ballot_keys()
    ranking = list(st.session_state.get(keys["ranking"]) or [])
    if not ranking:
        st.session_state[keys["error"]] = tr("join.rank_something")
        return
    st.session_state[keys["review"]] = {
        "card": st.session_state.get(keys["card"]),
        "ranking": ranking,
        "role": st.session_state.get(keys["role"]),
    }


def _back_to_ballot() -> None:
    keys = _ballot_keys()
    pending = st.session_state.pop(keys["review"], None)
    if pending:  # put the choices back into the form's widgets
        st.session_state[keys["ranking"]] = pending["ranking"]
        st.session_state[keys["role"]] = pending["role"]
        if pending["card"] is not None:
            st.session_state[keys["card"]] = pending["card"]


def _cast() -> None:
    """The one core call of the ballot: seal and queue it. Afterwards nothing the ballot said
    stays here; the receipt comes once its batch is stored (`_waiting_for_batch`)."""
    keys = _ballot_keys()
    pending = st.session_state.get(keys["review"])
    if not pending:
        return
    try:
        ticket = ballots.submit_ballot(
            inst.db,
            inst.secret_key,
            w.code,
            pending["card"],
            pending["ranking"],
            pending["role"],
            client_key=_client_key(),
        )
    except BeiduiError as err:
        st.session_state[keys["error"]] = error_text(err)
        return
    for name in ("card", "ranking", "role", "review", "order"):
        st.session_state.pop(keys[name], None)
    st.session_state[keys["ticket"]] = ticket.id


@st.fragment(run_every=2)
def _waiting_for_batch() -> None:
    """Sealed, not yet stored: say so plainly; show the receipt once the batch is stored.

    Reads only this server's memory (`ballot_status`), never the database.
    """
    keys = _ballot_keys()
    ticket = st.session_state.get(keys["ticket"])
    if ticket is None:  # a late tick after the receipt arrived and the page moved on
        if receipt := st.session_state.get(keys["receipt"]):
            _show_receipt(receipt)
        return
    try:
        status = ballots.ballot_status(ticket)
    except BeiduiError as err:
        st.session_state.pop(keys["ticket"], None)
        st.session_state[keys["error"]] = error_text(err)
        st.rerun()
    if status.state is ballots.BallotState.WAITING:
        if status.waiting_for:
            st.info(tr("join.sealed_waiting", n=status.waiting_for))
        else:
            st.info(tr("join.sealed_mixing"))
        return
    st.session_state.pop(keys["ticket"], None)
    if status.state is ballots.BallotState.REFUSED:
        assert status.error is not None
        st.session_state[keys["error"]] = error_text(status.error)
        st.rerun()
    st.session_state[keys["receipt"]] = status.receipt
    live.ballot_count.clear()
    _show_receipt(str(status.receipt))


def _show_receipt(receipt: str) -> None:
    st.success(tr("join.thank_you"))
    st.markdown(f"## {tr('join.your_receipt')}\n# `{receipt}`")
    st.caption(tr("join.receipt_explained"))


def voting_stage() -> None:
    keys = _ballot_keys()
    if receipt := st.session_state.get(keys["receipt"]):
        _show_receipt(receipt)
        return
    if st.session_state.get(keys["ticket"]):
        _waiting_for_batch()
        return
    st.header(tr("join.vote_title"))
    if error := st.session_state.pop(keys["error"], None):
        st.error(error)
    labels = w.method_labels(L)
    pending = st.session_state.get(keys["review"])
    if pending is not None:
        # Review, then confirm: "1. … 2. …" exactly as it will be sealed.
        st.markdown(f"#### {tr('join.review')}")
        st.markdown(
            "\n".join(f"{i}. {md_plain(labels[m])}" for i, m in enumerate(pending["ranking"], 1))
        )
        if pending["role"]:
            role_name = next(r.label.get(L) for r in w.roles if r.key == pending["role"])
            st.caption(tr("join.review_role", role=md_plain(role_name)))
        st.button(tr("join.cast"), type="primary", key="cast", on_click=_cast)
        st.button(tr("join.change"), key="change_ballot", on_click=_back_to_ballot)
        return
    st.markdown(tr("join.vote_intro", k=w.ballot_size))
    if w.is_open_mode:
        st.warning(tr("join.open_mode_warning"))
    # Each phone lists the methods in its own random order so position does not sway votes.
    if set(st.session_state.get(keys["order"], ())) != set(w.method_keys):
        shuffled = list(w.method_keys)
        random.SystemRandom().shuffle(shuffled)
        st.session_state[keys["order"]] = shuffled
    role_labels = {r.key: r.label.get(L) for r in w.roles}
    # One form: choosing costs no server round trip; the phone talks to us once per step.
    with st.form(f"ballot_{w.code}", border=False, enter_to_submit=False):
        if not w.is_open_mode:
            st.text_input(
                tr("join.card_code"),
                key=keys["card"],
                placeholder="XXXX-XXXX-XX",
                help=tr("join.card_help"),
            )
        st.multiselect(
            tr("join.rank_label", k=w.ballot_size),
            st.session_state[keys["order"]],
            format_func=labels.__getitem__,
            max_selections=w.ballot_size,
            select_all=False,  # tap order is the ranking: "all" would rank in list order
            key=keys["ranking"],
            placeholder=tr("join.rank_placeholder"),
        )
        st.selectbox(
            tr("join.role_label", k=w.anonymity_k),
            [None, *role_labels],
            format_func=lambda r: tr("join.role_none") if r is None else role_labels[r],
            key=keys["role"],
        )
        st.form_submit_button(
            tr("join.review_button"), type="primary", key="review", on_click=_to_review
        )
    with st.expander(tr("join.what_methods_mean")):
        st.markdown(
            "\n".join(
                f"- **{md_plain(m.label.get(L))}** — {md_plain(m.description.get(L))}"
                for m in w.methods
            )
        )


def revealed_stage() -> None:
    st.header(tr("join.results_title"))
    st.page_link("pages/receipts.py", label=tr("join.check_receipt"), query_params={"w": w.code})
    published = live.published(w.code)
    if published is not None:
        labels = w.method_labels(L)
        rows = published.tallies[DEFAULT_COUNTING].rows()
        st.markdown("\n".join(f"{r.rank}. {md_plain(labels[r.method])} — {r.score}" for r in rows))
    if receipt := st.session_state.get(f"receipt_{w.code}"):
        st.caption(tr("join.your_receipt") + f": `{receipt}`")


match w.stage:
    case Stage.DRAFT:
        waiting("join.waiting")
    case Stage.QUESTIONS:
        questions_stage()
    case Stage.VOTING:
        voting_stage()
    case Stage.CLOSED:
        waiting("join.closed")
        if st.session_state.get(f"ticket_{w.code}"):  # cast just before the close
            _waiting_for_batch()
        elif receipt := st.session_state.get(f"receipt_{w.code}"):
            _show_receipt(receipt)
    case Stage.REVEALED:
        revealed_stage()
