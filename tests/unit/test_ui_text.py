"""Typed text is shown as text: no image, link or HTML from a note reaches a screen."""

from __future__ import annotations

from ui.text import html_plain, md_plain


def test_a_note_with_an_image_or_link_is_escaped_for_markdown() -> None:
    assert md_plain("![x](http://t.example/p.png)") == r"\!\[x\]\(http\://t\.example/p\.png\)"
    assert md_plain("<b>*em*</b> `code`") == r"\<b\>\*em\*\</b\> \`code\`"
    assert md_plain("第一行\n第二行") == "第一行  \n第二行"


def test_line_breaks_survive_and_cannot_end_the_projector_html_block() -> None:
    note = "第一行\n\n![x](http://t.example/i.png)\n<script>alert(1)</script>"
    out = html_plain(note)
    assert "\n" not in out and "<script>" not in out and "&lt;script&gt;" in out
    assert out.count("<br>") == 3
