"""Cached reads shared by every phone and projector: the database is read at most once a
second per workshop, however many screens poll (st.cache_data with a 1 s time-to-live)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core import cards, note_summary, note_themes, notes, results, results_view
from core.ballot_values import OpenedBallot
from core.export_signing import instance_fingerprint
from core.qr import qr_png_bytes
from core.results_view import RoomResults
from core.reveal_policy import RevealDecision
from core.workshops import WorkshopView, get_workshop
from ui.runtime import instance


@st.cache_data(ttl=1, show_spinner=False)
def workshop(code: str) -> WorkshopView:
    return get_workshop(instance().db, code)


@st.cache_data(ttl=1, show_spinner=False)
def ballot_count(code: str) -> int:
    return results.ballot_count(instance().db, code)


@st.cache_data(ttl=1, show_spinner=False)
def wall(code: str, question: int) -> list[notes.NoteView]:
    return notes.wall(instance().db, code, question)


@st.cache_data(ttl=1, show_spinner=False)
def console_wall(code: str, question: int) -> list[notes.NoteView]:
    """The facilitator's view of a question's notes: hidden and waiting ones too.

    Only the console calls this (after its grant was checked); the projector and phones read
    `wall`, which never holds a waiting note.
    """
    return notes.wall(instance().db, code, question, include_hidden=True, include_pending=True)


@st.cache_data(ttl=1, show_spinner=False)
def waiting_on(code: str, question: int) -> notes.Waiting:
    """How many notes and dots wait for their batch in this process (a note's text and a
    dot's note are never shown)."""
    return notes.waiting_on(instance().db, code, question)


@st.cache_data(ttl=1, show_spinner=False)
def card_counts(code: str) -> cards.CardCounts:
    return cards.card_counts(instance().db, code)


@st.cache_data(ttl=1, show_spinner=False)
def participation(code: str) -> notes.Participation:
    return notes.participation(instance().db, code)


@st.cache_data(ttl=1, show_spinner=False)
def summary_points(code: str, question: int) -> list[str]:
    return note_summary.summary_points(instance().db, code, question)


@st.cache_data(ttl=1, show_spinner=False)
def themes(code: str, question: int) -> list[note_themes.ThemeView]:
    return note_themes.themes(instance().db, code, question)


@st.cache_data(ttl=1, show_spinner=False)
def room_results(code: str) -> RoomResults | None:
    """What the room may see of the results now (core/results_view.py)."""
    return results_view.room_results(instance().db, code)


@st.cache_data(ttl=1, show_spinner=False)
def refresh_live_results(code: str) -> None:
    """Publish a batched live tally when one is due; at most once a second per process."""
    inst = instance()
    results.refresh_live_results(inst.db, inst.secret_key, code)


@st.cache_data(ttl=1, show_spinner=False)
def live_decision(code: str) -> RevealDecision | None:
    return results.live_decision(instance().db, code)


@st.cache_data(ttl=5, show_spinner=False)
def opened_rankings(code: str) -> list[OpenedBallot]:
    return results.opened_rankings(instance().db, code)


@st.cache_data(show_spinner=False)
def qr_png(url: str) -> bytes:
    return qr_png_bytes(url, scale=12)


@st.cache_data(ttl=5, show_spinner=False)
def receipts(code: str) -> list[str]:
    return results.receipts(instance().db, code)


def forget_cached_reads() -> None:
    """After a facilitator's change, this process shows it at once (others within 1 s)."""
    for cached in (
        workshop,
        ballot_count,
        wall,
        console_wall,
        waiting_on,
        card_counts,
        participation,
        summary_points,
        themes,
        room_results,
        opened_rankings,
        receipts,
    ):
        cached.clear()


@st.cache_data(show_spinner=False)
def signing_fingerprint(data_dir: str) -> str:
    """The instance's export-signing fingerprint (it never changes while the app runs)."""
    return instance_fingerprint(Path(data_dir))
