"""Printable sheets of anonymous voting cards: A4, ten cards a page, cut along dashed lines.

Each card carries a QR code of its join link, the card code in large monospace type, the
workshop name and short instructions, Chinese first, then English. The HTML document stands
alone: the Chinese font is embedded as a data URL and a Content-Security-Policy forbids any
network load, so it prints the same from a USB stick on a laptop with no Chinese font and no
internet. The only URLs in it are the join links, and those exist only as QR modules.

This module never records which code went on which page or card position beyond the order the
caller gave: the sheet is made to be cut up and handed out at random.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from core import fonts, qr
from core.i18n import LANGUAGES, t

CARDS_PER_PAGE = 10  # 2 columns x 5 rows of 95 mm x 54 mm on A4
COLUMNS = 2
CARD_WIDTH_MM = 95.0
CARD_HEIGHT_MM = 54.0
PAGE_MARGIN_MM = 8.0
HEADER_MM = 7.0

# Fixed PDF dates keep the file reproducible and say nothing about when cards were printed.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

_INSTRUCTION_KEYS = (
    "cards.scan_or_type",
    "cards.used_once",
    "cards.nobody_records",
    "cards.keep_or_destroy",
)
_HTML_LANG = {"zh": "zh-CN", "en": "en"}

_CSS = f"""
@page {{ size: A4 portrait; margin: {PAGE_MARGIN_MM}mm; }}
* {{ box-sizing: border-box; }}
html, body {{ margin: 0; padding: 0; }}
body {{
  font-family: "{fonts.CHART_FONT}", sans-serif;
  color: #000; background: #e8e8e8;
  -webkit-print-color-adjust: exact; print-color-adjust: exact;
}}
.sheet {{
  width: 210mm; height: 297mm; padding: {PAGE_MARGIN_MM}mm;
  margin: 8mm auto; background: #fff; box-shadow: 0 0 3mm rgba(0,0,0,.25);
  break-after: page; page-break-after: always; overflow: hidden;
}}
.sheet:last-child {{ break-after: auto; page-break-after: auto; }}
.sheet-header {{
  height: {HEADER_MM}mm; display: flex; justify-content: space-between; align-items: center;
  font-size: 7.5pt; color: #444; white-space: nowrap; overflow: hidden; gap: 4mm;
}}
.sheet-header .title {{ overflow: hidden; text-overflow: ellipsis; font-weight: 700; color: #000; }}
.cards {{
  display: grid; grid-template-columns: repeat({COLUMNS}, {CARD_WIDTH_MM}mm);
  grid-auto-rows: {CARD_HEIGHT_MM}mm; width: max-content;
  border-top: 0.25mm dashed #888; border-left: 0.25mm dashed #888;
}}
.card {{
  border-right: 0.25mm dashed #888; border-bottom: 0.25mm dashed #888;
  padding: 3.5mm; display: flex; gap: 3mm; overflow: hidden;
  break-inside: avoid; page-break-inside: avoid;
}}
.qr {{ flex: 0 0 30mm; display: flex; flex-direction: column; align-items: center; }}
.qr svg {{ width: 30mm; height: 30mm; display: block; }}
.text {{ flex: 1 1 auto; min-width: 0; display: flex; flex-direction: column; }}
.workshop {{
  font-size: 8pt; font-weight: 700; line-height: 1.25;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
}}
.heading {{ font-size: 6.5pt; color: #444; line-height: 1.3; }}
.code {{
  font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", "Courier New", monospace,
    "{fonts.CHART_FONT}";
  font-size: 17pt; font-weight: 700; letter-spacing: 0.06em; line-height: 1.15;
  margin: 0.8mm 0 1.2mm; overflow-wrap: anywhere;
}}
.code-label {{ font-size: 6pt; color: #444; line-height: 1.2; }}
.instructions p {{ margin: 0 0 0.8mm; }}
.instructions p:lang(zh) {{ font-size: 7pt; line-height: 1.4; }}
.instructions p:lang(en) {{ font-size: 6.3pt; line-height: 1.3; color: #222; }}
@media print {{
  body {{ background: none; }}
  .sheet {{ margin: 0; box-shadow: none; width: auto; height: auto; padding: 0; }}
}}
"""

# Nothing may load from anywhere: the font is a data URL, the QR codes are inline SVG.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; font-src data:; img-src data:"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _check_arguments(codes: Sequence[str], lang_order: Sequence[str]) -> None:
    if not codes:
        raise ValueError("a card sheet needs at least one card code")
    if len(set(codes)) != len(codes):
        raise ValueError("card codes must be unique: each card is printed exactly once")
    if any(not code.strip() for code in codes):
        raise ValueError("card codes must not be blank")
    if not lang_order or any(lang not in LANGUAGES for lang in lang_order):
        raise ValueError(f"lang_order must list languages from {LANGUAGES}")


def instructions(lang: str) -> str:
    """The card's instructions in one language, as one paragraph of plain text."""
    separator = "" if lang == "zh" else " "
    return separator.join(t(key, lang) for key in _INSTRUCTION_KEYS)


def _bilingual(key: str, lang_order: Sequence[str], separator: str = " · ") -> str:
    return separator.join(t(key, lang) for lang in lang_order)


def _card_html(code: str, url: str, workshop_name: str, lang_order: Sequence[str]) -> str:
    paragraphs = "".join(
        f'<p lang="{_HTML_LANG[lang]}">{_e(instructions(lang))}</p>' for lang in lang_order
    )
    return (
        '<div class="card">'
        f'<div class="qr">{qr.qr_svg(url)}</div>'
        '<div class="text">'
        f'<div class="workshop">{_e(workshop_name)}</div>'
        f'<div class="heading">{_e(_bilingual("cards.card_heading", lang_order))}</div>'
        f'<div class="code-label">{_e(_bilingual("cards.code_label", lang_order, " / "))}</div>'
        f'<div class="code">{_e(code)}</div>'
        f'<div class="instructions">{paragraphs}</div>'
        "</div></div>"
    )


def render_card_sheet(
    codes: Sequence[str],
    join_url_for: Callable[[str], str],
    workshop_name: str,
    lang_order: Sequence[str] = ("zh", "en"),
) -> str:
    """A self-contained, printable HTML document with one card per code, in the given order.

    `join_url_for(code)` builds the join link that the card's QR code carries.
    Raises ValueError for no codes, duplicate or blank codes, or an unknown language.
    """
    _check_arguments(codes, lang_order)
    first = lang_order[0]
    pages = [codes[i : i + CARDS_PER_PAGE] for i in range(0, len(codes), CARDS_PER_PAGE)]
    cut_hint = _e(_bilingual("cards.cut_hint", lang_order))
    count = _e(t("cards.cards_count", first, count=len(codes)))
    sheets = []
    for number, page in enumerate(pages, start=1):
        page_of = _e(t("cards.page_of", first, page=number, pages=len(pages)))
        cards = "".join(
            _card_html(code, join_url_for(code), workshop_name, lang_order) for code in page
        )
        sheets.append(
            '<section class="sheet">'
            '<div class="sheet-header">'
            f'<span class="title">{_e(workshop_name)}</span>'
            f"<span>{cut_hint}</span><span>{count} · {page_of}</span>"
            "</div>"
            f'<div class="cards">{cards}</div>'
            "</section>"
        )
    title = _e(t("cards.sheet_title", first, workshop=workshop_name))
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{_HTML_LANG[first]}"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title>"
        f"<style>{fonts.font_face_css()}{_CSS}</style>"
        "</head><body>" + "".join(sheets) + "</body></html>\n"
    )


def render_card_sheet_pdf(
    codes: Sequence[str],
    join_url_for: Callable[[str], str],
    workshop_name: str,
    lang_order: Sequence[str] = ("zh", "en"),
) -> bytes:
    """The same sheet as an A4 PDF (fpdf2, with the shipped font embedded as a subset)."""
    from fpdf import FPDF

    _check_arguments(codes, lang_order)
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(PAGE_MARGIN_MM, PAGE_MARGIN_MM)
    pdf.add_font(fonts.CHART_FONT, style="", fname=str(fonts.font_path()))
    pdf.set_title(t("cards.sheet_title", lang_order[0], workshop=workshop_name))
    pdf.set_creator("Beidui")
    pdf.set_creation_date(_EPOCH)

    pages = [codes[i : i + CARDS_PER_PAGE] for i in range(0, len(codes), CARDS_PER_PAGE)]
    for number, page in enumerate(pages, start=1):
        pdf.add_page()
        _pdf_page_header(pdf, workshop_name, lang_order, len(codes), number, len(pages))
        top = PAGE_MARGIN_MM + HEADER_MM
        pdf.set_draw_color(136)
        pdf.set_line_width(0.25)
        pdf.set_dash_pattern(dash=1.5, gap=1.2)
        for index, code in enumerate(page):
            x = PAGE_MARGIN_MM + (index % COLUMNS) * CARD_WIDTH_MM
            y = top + (index // COLUMNS) * CARD_HEIGHT_MM
            _pdf_card(pdf, x, y, code, join_url_for(code), workshop_name, lang_order)
    return bytes(pdf.output())


def _pdf_page_header(
    pdf: Any, workshop_name: str, lang_order: Sequence[str], count: int, number: int, of: int
) -> None:
    first = lang_order[0]
    pdf.set_text_color(60)
    pdf.set_font(fonts.CHART_FONT, size=7.5)
    header = "    ".join(
        (
            workshop_name,
            _bilingual("cards.cut_hint", lang_order),
            t("cards.cards_count", first, count=count)
            + " · "
            + t("cards.page_of", first, page=number, pages=of),
        )
    )
    pdf.set_xy(PAGE_MARGIN_MM, PAGE_MARGIN_MM)
    width = COLUMNS * CARD_WIDTH_MM
    pdf.cell(w=width, h=HEADER_MM - 1, text=_fit(pdf, header, width))


_QR_MM = 30.0
_PAD_MM = 3.5


def _pdf_card(
    pdf: Any, x: float, y: float, code: str, url: str, workshop_name: str, lang_order: Sequence[str]
) -> None:
    """One cut-out card at (x, y): its QR code, the workshop, the code and the instructions."""
    pad, qr_size = _PAD_MM, _QR_MM
    pdf.rect(x, y, CARD_WIDTH_MM, CARD_HEIGHT_MM)
    png = qr.qr_png_bytes(url, scale=8)
    pdf.image(io.BytesIO(png), x=x + pad, y=y + pad, w=qr_size, h=qr_size)
    text_x = x + pad + qr_size + 3
    text_w = CARD_WIDTH_MM - (text_x - x) - pad
    pdf.set_text_color(0)
    pdf.set_xy(text_x, y + pad)
    pdf.set_font(fonts.CHART_FONT, size=8)
    pdf.cell(w=text_w, h=3.6, text=_fit(pdf, workshop_name, text_w))
    pdf.set_text_color(60)
    pdf.set_font(fonts.CHART_FONT, size=6.5)
    pdf.set_xy(text_x, pdf.get_y() + 3.6)
    pdf.cell(w=text_w, h=3, text=_bilingual("cards.card_heading", lang_order))
    pdf.set_xy(text_x, pdf.get_y() + 3)
    pdf.set_font(fonts.CHART_FONT, size=6)
    pdf.cell(w=text_w, h=2.8, text=_bilingual("cards.code_label", lang_order, " / "))
    pdf.set_text_color(0)
    pdf.set_font("Courier", style="B", size=16)
    pdf.set_xy(text_x, pdf.get_y() + 2.9)
    if not code.isascii():  # the core fonts have no CJK; keep the code readable in ours
        pdf.set_font(fonts.CHART_FONT, size=14)
    pdf.cell(w=text_w, h=7, text=_fit(pdf, code, text_w))
    pdf.set_xy(text_x, pdf.get_y() + 8)
    for lang in lang_order:
        pdf.set_font(fonts.CHART_FONT, size=7 if lang == "zh" else 6.3)
        pdf.set_text_color(0 if lang == "zh" else 34)
        pdf.multi_cell(w=text_w, h=2.9 if lang == "zh" else 2.6, text=instructions(lang), align="L")
        pdf.set_xy(text_x, pdf.get_y() + 0.8)


def _fit(pdf: Any, text: str, width: float) -> str:
    """Shorten `text` with an ellipsis until it fits `width` mm in the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"
