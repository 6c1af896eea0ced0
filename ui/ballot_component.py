"""The phone's ballot as one front-end piece (Streamlit custom component v2, served by this
app: the JS and CSS are files in `ui/ballot_component/`, no CDN, no build step).

Ranking, review and the card are handled in the browser; casting is ONE request to
`/api/ballot` (web/ballot_api.py), which calls core's casting service. The page runs only
to mount the component, once when the answer is "waiting" (the component hands its ticket
back at once, so the page keeps it in the URL and a reload resumes the wait), and once more
when the component hands the receipt back (the component's `receipt` state), so the page can
keep it. The ranking and the card never come back to the Streamlit session at all.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from core.workshops import WorkshopView
from ui import state
from ui.i18n import tr, tr_forms
from ui.runtime import instance
from web import ballot_api, page_token

_HERE = Path(__file__).with_name("ballot_component")
_COMPONENT = st.components.v2.component(
    "beidui_ballot",
    js=(_HERE / "ballot.js").read_text(encoding="utf-8"),
    css=(_HERE / "ballot.css").read_text(encoding="utf-8"),
    isolate_styles=True,
)
# How often a phone whose ballot waits for its mixed batch asks again.
POLL_MS = 1500
# The component shows the receipt at once, and hands it to the page (one script run) a
# random 1-10 s later: a room that taps at once would otherwise queue a script run per phone
# behind the other phones' ballots (benchmarks/room.py measured p95 4 s instead of 0.3 s
# for 200 phones when every phone handed back at once; with 1,000 phones on PostgreSQL a
# 1-6 s spread still overlapped the burst). A reload inside that spread keeps the receipt
# anyway: the component writes it into the address bar itself at once (no script run).
HANDBACK_DELAY_MS = (1000, 10000)

_TEXT_KEYS = (
    "vote_intro",
    "open_mode_warning",
    "card_code",
    "card_help",
    "rank_label",
    "role_label",
    "role_none",
    "review",
    "review_button",
    "review_role",
    "rank_something",
    "cast",
    "change",
    "thank_you",
    "your_receipt",
    "receipt_explained",
    "ballot_chosen_count",
    "ballot_chip_ranked",
    "ballot_ranked_as",
    "ballot_unranked",
    "ballot_sending",
    "ballot_sealed",
    "ballot_waiting_for",
    "ballot_network_error",
    "ballot_ticket_lost",
)


def _texts() -> dict[str, str | dict[str, str]]:
    # Placeholders ({k}, {n}, {method}, {role}) are filled in by the component; a plural
    # text goes as its forms ("1 more ballot" / "2 more ballots"), the component picks one.
    out: dict[str, str | dict[str, str]] = {}
    placeholders = {"k": "{k}", "n": "{n}", "method": "{method}", "role": "{role}"}
    for key in _TEXT_KEYS:
        name = key.removeprefix("ballot_")
        forms = tr_forms(f"join.{key}", **placeholders)
        out[name] = forms or tr(f"join.{key}", **placeholders)
    return out


def _page_token(code: str) -> str:
    """One token per browser session and workshop: its nonce is the card limiter's key."""
    held = state.ballot_token(code)
    if held not in st.session_state:
        nonce = st.session_state.setdefault(state.BALLOT_NONCE, secrets.token_bytes(16))
        st.session_state[held] = page_token.mint(instance().secret_key, code, nonce)
    return str(st.session_state[held])


def _method_order(w: WorkshopView) -> list[str]:
    # Each phone lists the methods in its own random order so position does not sway votes.
    held = state.method_order(w.code)
    if set(st.session_state.get(held, ())) != set(w.method_keys):
        shuffled = list(w.method_keys)
        random.SystemRandom().shuffle(shuffled)
        st.session_state[held] = shuffled
    return list(st.session_state[held])


def _ignore() -> None:
    """The page reads the receipt and ticket from session state; nothing to do here."""


def handed_back_receipt(code: str) -> str | None:
    """The receipt the component handed back for this workshop, if it has (on any stage:
    the hand-over may arrive after the facilitator closed the vote)."""
    value = st.session_state.get(state.ballot(code))
    if isinstance(value, Mapping):
        receipt = value.get("receipt")
    else:
        receipt = getattr(value, "receipt", None)
    return receipt if isinstance(receipt, str) and receipt else None


def handed_back_ticket(code: str) -> str | None:
    """The ticket the component handed back when its ballot started waiting for its batch:
    "" once the server no longer knew it, None if it handed none back."""
    value = st.session_state.get(state.ballot(code))
    ticket = value.get("ticket") if isinstance(value, Mapping) else getattr(value, "ticket", None)
    return ticket if isinstance(ticket, str) else None


def ticket_answer(code: str, ticket: str) -> ballot_api.Answer | None:
    """Where the ballot behind a ticket the phone kept is (this process's memory only, no
    database read): stored with its receipt, still waiting, or None if this server does not
    know the ticket (it restarted before the batch was written: the card is unused). A
    refused batch raises core's named error, as the route does."""
    return ballot_api.status(instance(), code, ticket)


def ballot(
    w: WorkshopView,
    lang: str,
    *,
    card: str | None = None,
    ticket: str | None = None,
    waiting_for: int = 0,
    notice: str | None = None,
) -> str | None:
    """Mount the ballot for workshop `w`; the receipt once the component has one, else None.

    With `ticket` (a ballot already cast, waiting for its batch: the page kept the ticket in
    the URL across a reload) the component shows the waiting message and resumes polling.
    `notice` is shown above a fresh ballot (e.g. "your ballot was not stored")."""
    labels = w.method_labels(lang)
    described = {m.key: m.description.get(lang) for m in w.methods}
    data: dict[str, Any] = {
        "workshop": w.code,
        "token": _page_token(w.code),
        "lang": lang,
        "k": w.ballot_size,
        "anonymityK": w.anonymity_k,
        "isOpenMode": w.is_open_mode,
        "card": card or "",
        "ticket": ticket or "",
        "waitingFor": waiting_for,
        "notice": notice or "",
        "methods": [
            {"key": m, "label": labels[m], "description": described.get(m, "")}
            for m in _method_order(w)
        ],
        "roles": [{"key": r.key, "label": r.label.get(lang)} for r in w.roles],
        "text": _texts(),
        "endpoint": ballot_api.CAST_PATH,
        "statusEndpoint": ballot_api.STATUS_PATH,
        "pollMs": POLL_MS,
        "handbackMs": list(HANDBACK_DELAY_MS),
    }
    result = _COMPONENT(
        key=state.ballot(w.code), data=data, on_receipt_change=_ignore, on_ticket_change=_ignore
    )
    receipt = getattr(result, "receipt", None)
    return receipt if isinstance(receipt, str) and receipt else None
