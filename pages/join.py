"""The participant's phone: join, write notes, give dots, rank methods on a secret ballot.

No account, no login. The page follows the facilitator's stage by itself. After a ballot is
cast the ranking is wiped from this session, so showing the phone afterwards reveals only a
receipt that proves inclusion, never content.
"""

from __future__ import annotations

import streamlit as st

from core import limits, notes
from core.casting import BallotState
from core.domain import Stage
from core.errors import BeiduiError
from core.tally.result import place_text
from core.workshops import WorkshopView
from ui import ballot_component, live, state
from ui.guard import problem_text
from ui.i18n import error_text, lang, page_language_switch, tr
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
page_language_switch(top)
if not code:
    st.title(tr("join.title"))
    with st.form("join_form", enter_to_submit=False):
        # No max_chars: a longer paste would be cut silently; the lookup says what is wrong.
        typed = st.text_input(
            tr("join.enter_code", length=limits.JOIN_CODE_LENGTH), key="join_code"
        )
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
    st.session_state.setdefault(state.card(w.code), card_from_link)
    del st.query_params["card"]

# The receipt (never the card, never the ranking) lives in the URL too: a phone that reloads
# or wakes in a new session after voting still shows it, and keeps following the room.
RECEIPT_PARAM = "receipt"
receipt_key = state.receipt(w.code)
if (from_url := st.query_params.get(RECEIPT_PARAM)) and not st.session_state.get(receipt_key):
    st.session_state[receipt_key] = from_url[: limits.MAX_URL_RECEIPT_CHARS]
# While the ballot waits for its mixed batch, its ticket lives in the URL instead (issue 12:
# a reload or a new session mid-wait must not lose the receipt). A ticket yields only the
# receipt, from this server's memory; never the card or the ranking.
TICKET_PARAM = "ticket"
ticket_key = state.ticket(w.code)
ticket_seen_key = state.ticket_seen(w.code)
if (ticket_from_url := st.query_params.get(TICKET_PARAM)) and not st.session_state.get(receipt_key):
    st.session_state.setdefault(ticket_key, ticket_from_url[: limits.MAX_URL_TICKET_CHARS])

st.caption(f"{md_plain(w.name)} · {tr('common.workshop_code')} {w.code}")
# The receipt the ballot component handed back (a few seconds after it showed it, maybe
# after the stage moved on): the page keeps it, in the URL too, and the ballot's card goes.
handed_back = ballot_component.handed_back_receipt(w.code)
if handed_back and st.session_state.get(receipt_key) != handed_back:
    st.session_state[receipt_key] = handed_back
    st.query_params[RECEIPT_PARAM] = handed_back
    st.session_state.pop(state.card(w.code), None)
    live.ballot_count.clear()
# The ticket the component handed back at once when its ballot started waiting ("" when the
# server no longer knew it): kept in the URL so a reload resumes the wait.
handed_ticket = ballot_component.handed_back_ticket(w.code)
if handed_ticket is not None and handed_ticket != st.session_state.get(ticket_seen_key):
    st.session_state[ticket_seen_key] = handed_ticket
    if handed_ticket and not st.session_state.get(receipt_key):
        st.session_state[ticket_key] = handed_ticket
        st.query_params[TICKET_PARAM] = handed_ticket
    else:
        st.session_state.pop(ticket_key, None)
        if TICKET_PARAM in st.query_params:
            del st.query_params[TICKET_PARAM]
if st.session_state.get(receipt_key):
    st.session_state.pop(ticket_key, None)
    if TICKET_PARAM in st.query_params:  # the receipt replaces the ticket in the URL
        del st.query_params[TICKET_PARAM]

# A kept ticket, asked where its ballot is (memory only): stored -> the receipt replaces it;
# unknown (the server restarted before the batch was written: nothing stored, the card is
# unused) -> say so and show the ballot again; waiting -> the component resumes polling.
ticket_waiting_for: int | None = None
ticket_notice: str | None = None
if held_ticket := st.session_state.get(ticket_key):
    try:
        found = ballot_component.ticket_answer(w.code, held_ticket)
    except BeiduiError as err:  # the batch was refused: nothing stored, the card is unused
        found, ticket_notice = None, error_text(err)
    if found is not None and found.state is BallotState.STORED and found.receipt:
        st.session_state[receipt_key] = found.receipt
        st.query_params[RECEIPT_PARAM] = found.receipt
        st.session_state.pop(state.card(w.code), None)
    elif found is not None:
        ticket_waiting_for = found.waiting_for
    else:
        ticket_notice = ticket_notice or tr("join.ballot_ticket_lost")
    if (found is None or found.state is BallotState.STORED) and TICKET_PARAM in st.query_params:
        del st.query_params[TICKET_PARAM]
    if found is None or found.state is BallotState.STORED:
        st.session_state.pop(ticket_key, None)
seen_key = state.seen_stage(w.code)
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
# the close is refused with a clear message anyway.
if not (w.stage.accepts_ballots and not st.session_state.get(receipt_key)):
    follow_the_room()

# --- stages -----------------------------------------------------------------------------


def waiting(message_key: str) -> None:
    st.header(tr(message_key))
    st.caption(tr("join.page_follows"))


# One note box for every question (a stable key): when the room moves on and the page is
# redrawn, text typed but not yet posted stays in the box instead of vanishing with the old
# question's form (issue 12: "a little later the typed text is silently dropped").
NOTE_BOX = state.note_text(w.code)
NOTE_QUESTION_SEEN = state.note_question_seen(w.code)


def _post_note(position: int) -> None:
    """The note form was submitted (a callback: it runs before the box is drawn again, so the
    box is emptied only after a post that succeeded -- nothing typed is lost)."""
    typed = str(st.session_state.get(NOTE_BOX) or "")
    try:
        # The position this phone showed: a note is never filed under a question its author
        # did not see (the room may have moved on a moment ago).
        posted = notes.post_note(inst.db, w.code, typed, position)
    except notes.QuestionMovedOn as err:
        st.session_state[state.NOTE_FLASH] = ("error", error_text(err))
        live.workshop.clear()  # redraw with the question the room is on, the text kept
        return
    except Exception as err:
        problem = problem_text(err)
        if problem is None:
            raise
        st.session_state[state.NOTE_FLASH] = ("error", problem)
        return
    st.session_state[NOTE_BOX] = ""
    if posted.is_stored:
        live.wall.clear()  # the batch this note completed should show on this phone at once
        st.session_state[state.NOTE_FLASH] = ("success", tr("join.posted_saved"))
    else:
        st.session_state[state.NOTE_FLASH] = (
            "info",
            tr("join.posted_waiting", n=posted.waiting_for),
        )


def questions_stage() -> None:
    q = w.questions[w.current_question]
    st.subheader(tr("join.question_n", n=q.position + 1, total=len(w.questions)))
    st.markdown(f"### {md_plain(q.text.get(L))}")
    st.caption(tr("join.notes_are_anonymous"))
    seen = st.session_state.get(NOTE_QUESTION_SEEN)
    st.session_state[NOTE_QUESTION_SEEN] = q.position
    if seen is not None and seen != q.position:
        st.info(tr("join.question_changed", n=q.position + 1))
    with st.form(f"note_form_{w.code}", border=True, enter_to_submit=False):
        # No max_chars: the browser would silently drop a longer paste and the post would
        # then read as empty. The service says "too long (max N)" and the text stays here.
        st.text_area(tr("join.your_note", high=limits.MAX_NOTE_LENGTH), key=NOTE_BOX, height=100)
        st.form_submit_button(
            tr("join.post"), type="primary", on_click=_post_note, args=(q.position,)
        )
    if flash := st.session_state.pop(state.NOTE_FLASH, None):
        kind, message = flash
        {"error": st.error, "success": st.success}.get(kind, st.info)(message)
    # Dots are limited per browser session; nothing records who gave which dot.
    dots_key = state.dots(w.code, q.id)
    st.session_state.setdefault(dots_key, notes.DotAllowance())

    @st.fragment(run_every=10)
    def the_wall() -> None:
        allowance: notes.DotAllowance = st.session_state[dots_key]
        st.markdown(f"#### {tr('join.wall')}")
        st.caption(
            tr(
                "join.dots_left",
                n=allowance.remaining(q.position),
                per_question=allowance.per_question,
            )
        )
        if flash := st.session_state.pop(state.DOT_FLASH, None):
            kind, message = flash
            {"success": st.success}.get(kind, st.info)(message)
        items = live.wall(w.code, w.current_question)
        if not items:
            st.info(tr("join.wall_empty"))
        for note in items:
            row = st.container(border=True, horizontal=True, vertical_alignment="center")
            row.markdown(md_plain(note.text))
            row.markdown(f"**● {note.dots}**")
            if allowance.has_dotted(q.position, note.id):
                # This phone's own dot shows as given, counted on the wall or still waiting.
                row.caption(tr("join.dot_yours"))
                continue
            disabled = not allowance.can_dot(q.position, note.id)
            if row.button("＋●", key=f"dot_{note.id}", disabled=disabled, help=tr("join.give_dot")):
                try:
                    given = notes.give_dot(inst.db, w.code, q.position, note.id, allowance)
                except BeiduiError as err:
                    st.error(error_text(err))
                else:
                    st.session_state[dots_key] = given.allowance
                    if given.is_counted:
                        live.wall.clear()  # the batch this dot completed shows at once
                        st.session_state[state.DOT_FLASH] = ("success", tr("join.dot_counted"))
                    else:
                        st.session_state[state.DOT_FLASH] = (
                            "info",
                            tr("join.dot_waiting", n=given.waiting_for),
                        )
                    st.rerun()

    the_wall()


def voting_stage() -> None:
    if receipt := st.session_state.get(receipt_key):
        st.success(tr("join.thank_you"))
        st.markdown(f"## {tr('join.your_receipt')}\n# `{receipt}`")
        st.caption(tr("join.receipt_explained"))
        return
    st.header(tr("join.vote_title"))
    # Ranking, review, card and cast live in the component: one request to our route, which
    # calls core's casting service. The page gets back only the receipt (see above).
    held = st.session_state.get(ticket_key)
    ballot_component.ballot(
        w,
        L,
        card=st.session_state.get(state.card(w.code)),
        ticket=held,
        waiting_for=ticket_waiting_for or 0,
        notice=ticket_notice,
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
    room = live.room_results(w.code)
    if room is not None:
        labels = w.method_labels(L)
        rows = room.default.rows()
        # Not a Markdown list: it would renumber 5, 5, 7 as 5, 6, 7 (issue 12).
        st.markdown(
            "  \n".join(
                f"**{place_text(r)}** {md_plain(labels.get(r.method, r.method))} — {r.score}"
                for r in rows
            )
        )
    if receipt := st.session_state.get(receipt_key):
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
        if receipt := st.session_state.get(receipt_key):
            st.caption(tr("join.your_receipt") + f": `{receipt}`")
    case Stage.REVEALED:
        revealed_stage()
