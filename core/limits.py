"""Every bound on what people may type, choose or upload, in one place.

Services refuse input outside these bounds and pages size their widgets from them, so a limit
changes here and nowhere else. Plain constants only: this module imports nothing from the
project and must never hold a rule that is not a number (the rules live in the services).
"""

from __future__ import annotations

from typing import Final

# --- The ballot ------------------------------------------------------------------------------

MAX_BALLOT_SIZE: Final = 10
"""K at most: how many methods one ballot may rank (the ballot payload below is sized for it)."""

DEFAULT_BALLOT_SIZE: Final = 5
"""K when a template does not say."""

MAX_METHODS: Final = 30
"""Methods on one ballot. Not a rule of the method: a ballot the room can read on a phone."""

MAX_KEY_LENGTH: Final = 64
"""Characters in a method or role key (`core.templates.KEY_PATTERN`), also inside the payload."""

MAX_ROLES: Final = 12
"""Self-declared roles a workshop offers on its ballot."""

# --- Anonymity -------------------------------------------------------------------------------

MIN_ANONYMITY_K: Final = 3
"""Smallest group (k) a breakdown or a live result may show; below it people are identifiable."""

MAX_ANONYMITY_K: Final = 1000
"""Largest k a facilitator or a template may set (a larger one would hide every breakdown)."""

DEFAULT_ANONYMITY_K: Final = 5
"""k when a template or a caller does not say."""

# --- Workshop text ---------------------------------------------------------------------------

MAX_NAME_LENGTH: Final = 200
"""Characters in a workshop's name."""

MAX_SLUG_LENGTH: Final = 48
"""Characters of a method or role key made from its English label, leaving room for `_2`."""

MAX_QUESTIONS: Final = 10
"""Evaluation questions one workshop discusses."""

MAX_QUESTION_LENGTH: Final = 300
"""Characters in one question, per language."""

MAX_LABEL_LENGTH: Final = 200
"""Characters in a method's or a role's label, per language."""

MAX_DESCRIPTION_LENGTH: Final = 1000
"""Characters in a method's description, per language."""

MAX_NOTE_LENGTH: Final = 280
"""Characters in one participant's note after cleaning."""

MAX_RAW_NOTE_LENGTH: Final = 4 * MAX_NOTE_LENGTH
"""Characters typed for a note past which it is refused before any cleaning work on it."""

MAX_THEME_NAME_LENGTH: Final = 200
"""Characters in the name of a theme the facilitator groups notes under."""

MAX_SUMMARY_POINTS: Final = 8
"""Summary points the facilitator writes for one question."""

MAX_SUMMARY_POINT_LENGTH: Final = 200
"""Characters in one summary point."""

DOTS_PER_QUESTION: Final = 3
"""Dots one phone may give to notes under one question."""

# --- Cards and codes -------------------------------------------------------------------------

MAX_CARDS_PER_CALL: Final = 500
"""Voting cards issued by one request (a room needs several requests for more)."""

DEFAULT_CARDS_PER_CALL: Final = 60
"""What the console offers to issue before the facilitator changes it."""

MAX_CODE_TEXT: Final = 64
"""Characters typed as a join, card or receipt code past which it is refused unread."""

MAX_CODE_INPUT_CHARS: Final = 12
"""Width of a join-code text box: 6 symbols with room for spaces and dashes people type."""

MAX_URL_RECEIPT_CHARS: Final = 40
"""Characters of a receipt taken from the phone's URL (a receipt is shorter; the rest is junk)."""

MAX_URL_TICKET_CHARS: Final = 100
"""Characters of a waiting ballot's ticket taken from the phone's URL."""

MAX_CONSOLE_TOKEN_TEXT: Final = 200
"""Characters of a console token from a URL past which it is refused unread."""

MAX_ADMIN_TOKEN_TEXT: Final = 200
"""Characters of an admin token (core.instance.resume_admin) past which it is refused unread."""

# --- Backups ---------------------------------------------------------------------------------

MAX_DOCUMENT_BYTES: Final = 512 * 1024 * 1024
"""Bytes of any one file inside an uploaded backup, unpacked, refused before it is read.

A workshop of 100k ballots is ~250 MB of JSON; anything that inflates further is refused.
"""

# --- Passphrases -----------------------------------------------------------------------------

MIN_PASSPHRASE_LENGTH: Final = 8
"""Characters in a workshop passphrase, at least."""

MAX_PASSPHRASE_LENGTH: Final = 1024
"""Characters in a workshop passphrase, at most (typed text up to 4x is folded, then refused)."""

MAX_PASSPHRASE_TEXT: Final = 4 * MAX_PASSPHRASE_LENGTH
"""Characters typed as a passphrase past which it is refused before any folding or scrypt."""

# --- The sealed ballot's plaintext -----------------------------------------------------------

PAYLOAD_LENGTH: Final = 800
"""Bytes every ballot plaintext is padded to before sealing.

Never change it for a running instance: sealed ballots already stored have this length, and
the padding is what keeps a ciphertext's length from saying how many methods were ranked.
"""

# The compact JSON `{"v":1,"ranking":[...],"role":"..."}` of `core.ballot_values.encode_payload`:
# 30 bytes of frame, each key quoted, commas between keys. tests/unit/test_limits.py checks
# this figure against the encoder itself.
MAX_PAYLOAD_BODY: Final = (
    30 + MAX_BALLOT_SIZE * (MAX_KEY_LENGTH + 2) + (MAX_BALLOT_SIZE - 1) + MAX_KEY_LENGTH
)
"""Bytes of the longest ballot before padding: K keys and a role of the longest length."""

if MAX_PAYLOAD_BODY > PAYLOAD_LENGTH:
    raise RuntimeError(
        f"a ballot of {MAX_BALLOT_SIZE} keys needs {MAX_PAYLOAD_BODY} bytes, more than"
        f" PAYLOAD_LENGTH = {PAYLOAD_LENGTH}: lower MAX_BALLOT_SIZE or MAX_KEY_LENGTH"
    )

# A workshop's join code: 29^6 ≈ 5.9e8 codes (collisions checked by the caller, not secret).
JOIN_CODE_LENGTH: Final = 6
