"""Text as people type it, made safe to store and show: one cleaning for every service.

A workshop name, a question, a method label, a note, a theme or a summary point all pass
through `normalize_text`, so a character refused in one place is refused everywhere. This
module must never truncate: length limits belong to the service that knows them.
"""

from __future__ import annotations

import unicodedata

# Bidirectional embedding/override/isolate marks could make a note read backwards on the
# projector (or hide text); they are format characters, so the control-character rule alone
# would keep them.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def normalize_text(raw: str, *, keep_newlines: bool = True) -> str:
    """NFC text without control characters (newlines kept if asked), trimmed.

    Tabs become spaces so words typed with a tab stay apart; `\\r\\n` becomes `\\n`.
    """
    text = unicodedata.normalize("NFC", raw or "").replace("\r\n", "\n").replace("\t", " ")
    out = []
    for ch in text:
        if ch == "\n":
            out.append("\n" if keep_newlines else " ")
        elif unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS:
            continue
        else:
            out.append(ch)
    return "".join(out).strip()
