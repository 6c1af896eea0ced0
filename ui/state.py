"""Session-state keys, in one place, so pages and AppTests agree on them.

Every `st.session_state` key the pages and ui/ read or write is named here (a test checks
that no other module spells one out). A key that belongs to one workshop is a function of its
join code, so two workshops open in one browser never share a receipt or a card.
"""

from __future__ import annotations

LANG = "lang"
# the language switch widget's own key (its value is copied into LANG on change)
LANG_SWITCH = "lang_switch"
# the admin token (core.instance.admin_login) once the admin password was typed: only the
# token string, never the Admin (it holds the database); ui/console.py rebuilds it each run
ADMIN_TOKEN = "admin_token"
# workshop code -> console token (core.console_access.unlock_console; the URL's `console`
# param): only the token string, never the Console (it holds the database)
GRANTS = "facilitator_grants"
# the workshop join code this browser session is in (mirrors the URL's `w`)
WORKSHOP_CODE = "workshop_code"
# set by the entry point on every run: True when the sidebar holds the language switch
LANG_SWITCH_IN_SIDEBAR = "_lang_switch_in_sidebar"
# set by the entry point on every run: a page run without it reroutes through the entry point
ENTRY_POINT_SEEN = "_entry_point_seen"
# this browser session's random id, the rate limiters' key when no client address is known
LIMITER_CLIENT = "_limiter_client"
# the workshop whose console is open in this browser session
CONSOLE_CODE = "console_code"
# the console tab last chosen (st.tabs key, bound to the URL's `tab` param)
CONSOLE_TAB = "tab"

# --- The facilitator's console ------------------------------------------------------------

# a message shown once at the top of the console after an action reran the page
FLASH = "facilitator_flash"
# the join code of the workshop just created, put into the unlock form once
PREFILL_CODE = "prefill_code"
# the unlock form's widgets (the code box is prefilled, the passphrase box cleared)
UNLOCK_CODE = "unlock_code"
UNLOCK_PHRASE = "unlock_phrase"
# (workshop code, stage step) the facilitator was asked to confirm
CONFIRM_STEP = "confirm_step"
# (workshop code, card codes) just issued: shown once, never stored anywhere else
FRESH_CARDS = "fresh_cards"
# ("note" | "theme", id, text) chosen to become a method on the ballot
PROMOTE = "promote"

# --- The results page -----------------------------------------------------------------------

# the export files prepared after the passphrase was given
DOWNLOADS = "downloads"

# --- The phone ------------------------------------------------------------------------------

# (kind, text) telling the participant what became of the note just posted
NOTE_FLASH = "note_flash"
# (kind, text) telling the participant what became of the dot just given
DOT_FLASH = "dot_flash"
# one random nonce per browser session, inside every ballot page token it mints
BALLOT_NONCE = "_ballot_nonce"


def card(code: str) -> str:
    """The voting card code this phone holds for a workshop (from the card's link or typed)."""
    return f"card_{code}"


def receipt(code: str) -> str:
    """The receipt of this phone's stored ballot in a workshop."""
    return f"receipt_{code}"


def ticket(code: str) -> str:
    """The ticket of this phone's ballot while it waits for its mixed batch."""
    return f"ticket_{code}"


def ticket_seen(code: str) -> str:
    """The last ticket the ballot component handed back (so one hand-back is handled once)."""
    return f"ticket_seen_{code}"


def seen_stage(code: str) -> str:
    """(stage, question) the phone last rendered, so a stage change reruns the page."""
    return f"seen_stage_{code}"


def note_text(code: str) -> str:
    """The note box's widget key on the phone."""
    return f"note_text_{code}"


def note_question_seen(code: str) -> str:
    """The question the note box was last shown under (the box empties when it moves on)."""
    return f"note_question_seen_{code}"


def dots(code: str, question_id: int) -> str:
    """Which themes this phone has dotted under one question."""
    return f"dots_{code}_{question_id}"


def ballot(code: str) -> str:
    """The ballot component's key: its value is what the component handed back."""
    return f"ballot_{code}"


def ballot_token(code: str) -> str:
    """The page token the ballot component casts with, one per browser session and workshop."""
    return f"_ballot_token_{code}"


def method_order(code: str) -> str:
    """This phone's own random order of the methods on the ballot."""
    return f"order_{code}"
