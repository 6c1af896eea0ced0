"""Showing text people typed (notes, theme names, labels) as text, never as markup.

A note is written by an anonymous participant and shown on every phone and the projector. As
Markdown, `![](http://…)` would make every screen fetch an image from anywhere — telling a
stranger's server who is in the room — and a link could dress itself up as the app. So typed
text is escaped before it reaches `st.markdown`, and HTML-escaped with its line breaks kept
inside the projector's HTML blocks.
"""

from __future__ import annotations

import html
import re

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&])")


def md_plain(text: str) -> str:
    """`text` for `st.markdown`, shown literally, line breaks kept."""
    escaped = _MARKDOWN_SPECIALS.sub(r"\\\1", text or "")
    return "  \n".join(escaped.splitlines())


# Inside an HTML block Markdown is not parsed, but should a renderer ever do so (or GFM turn
# a bare address into a link), these characters are written as entities: they look the same
# and can never form an image, a link, emphasis or an autolinked URL.
_MARKDOWN_IN_HTML = {c: f"&#{ord(c)};" for c in "[]()!*_`~#:.@\\|"}


def html_plain(text: str) -> str:
    """`text` inside an HTML block: escaped, and no blank line that would end the block."""
    return "<br>".join(
        "".join(_MARKDOWN_IN_HTML.get(ch) or html.escape(ch) for ch in line)
        for line in (text or "").splitlines()
    )
