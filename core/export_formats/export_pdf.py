"""`report.pdf`: an A4 report with the same blocks as the HTML, the shipped font embedded.

Only a subset of the shipped font is embedded, so no glyph is missing on a machine without
Chinese fonts, and a character the font lacks stops the export (`fonts.MissingGlyphs`)
rather than print as a box. It says what the HTML says (`core.export_report.report_blocks`)
and nothing more; the receipts stand on their own page, next to nothing but each other.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from core import export_report as report
from core import fonts
from core.export_data import ExportData, Format, Rendering
from core.export_formats.export_charts import printed_texts, ranked_png
from core.i18n import t

REPORT_PDF: Final = "report.pdf"
# A fixed document date: the file says nothing about when it was made, and stays reproducible.
_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
_FAMILY: Final = fonts.CHART_FONT
_HEADING_SIZES: Final = {1: 17.0, 2: 14.0, 3: 12.0, 4: 10.5}


def _raise_on_missing_glyphs(pdf: Any) -> None:
    # Never trust the check of the typed texts alone: fpdf2 notes every character it could
    # not draw (and only warns on stderr); a locale text or a number format may slip past.
    missing = sorted(
        {chr(cp) for font in pdf.fonts.values() for cp in getattr(font, "missing_glyphs", ())}
    )
    if missing:
        raise fonts.MissingGlyphs(chars=" ".join(missing), text="")


def _new_pdf(lang: str, fingerprint: str, title: str) -> Any:
    """An empty A4 document whose every page has a footer with the page number and the
    signing key's fingerprint (in `lang`)."""
    from fpdf import FPDF

    class Report(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(_FAMILY, size=7.5)
            self.set_text_color(90, 90, 90)
            text = t(
                "export.report.footer",
                lang,
                page=self.page_no(),
                pages="{nb}",
                fingerprint=fingerprint,
            )
            self.cell(0, 5, text, align="C")
            self.set_text_color(0, 0, 0)

    pdf = Report(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_margins(18, 18, 18)
    pdf.add_font(_FAMILY, style="", fname=str(fonts.print_font_path()))
    pdf.set_title(title)
    pdf.set_creator("Beidui")
    pdf.set_creation_date(_EPOCH)
    return pdf


def _para(pdf: Any, text: str, size: float = 10, indent: float = 0) -> None:
    pdf.set_font(_FAMILY, size=size)
    pdf.set_x(pdf.l_margin + indent)
    # Left-aligned: justified CJK lines next to Latin words stretch into wide gaps.
    pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT", align="L")


def _table(pdf: Any, grid: report.Grid) -> None:
    from fpdf.fonts import FontFace

    pdf.set_font(_FAMILY, size=8.5)
    # Only the Regular weight ships: headings are shaded, not bold.
    style = FontFace(emphasis="", fill_color=(238, 243, 248))
    with pdf.table(
        text_align="LEFT",
        line_height=4.6,
        headings_style=style,
        col_widths=grid.widths,
    ) as tbl:
        row = tbl.row()
        for h in grid.headers:
            row.cell(h)
        for values in grid.rows:
            row = tbl.row()
            for value in values:
                row.cell(value)
    pdf.ln(2)


def _draw(pdf: Any, block: report.Block, lang: str) -> None:
    if isinstance(block, report.Heading):
        pdf.ln(2 if block.level > 2 else 3)
        _para(pdf, block.text, _HEADING_SIZES[block.level])
        pdf.ln(1)
    elif isinstance(block, report.Para):
        _para(pdf, block.text, 8.5 if block.is_small else 10)
    elif isinstance(block, report.Bullets):
        for item in block.items:
            _para(pdf, f"• {item}", indent=2)
    elif isinstance(block, report.Quotes):
        for text, dots in block.items:
            _para(
                pdf, f"{report.quote(text, lang)} ({t('export.report.dots', lang, n=dots)})", 9.5, 4
            )
    elif isinstance(block, report.Grid):
        _table(pdf, block)
    else:
        pdf.image(io.BytesIO(block.png), w=pdf.epw)


def _receipts_page(pdf: Any, receipts: Sequence[str], order: Sequence[str]) -> None:
    pdf.add_page()
    heading, note = report.receipts_texts(order)
    _para(pdf, heading, 14)
    _para(pdf, note, 9)
    pdf.set_font("Courier", size=9)
    per_line = 5
    for i in range(0, len(receipts), per_line):
        pdf.cell(0, 5, "   ".join(receipts[i : i + per_line]), new_x="LMARGIN", new_y="NEXT")


def build_pdf(data: ExportData, lang: str, fingerprint: str, chart: bytes) -> bytes:
    """An A4 report (fpdf2, shipped font embedded) with the same blocks as the HTML, and on
    every page a footer with the page number and the signing key's fingerprint.

    `chart` is the PNG for `lang`; the other language's pages draw their own.
    """
    order = report.language_order(lang)
    fonts.check_glyphs(printed_texts(data))
    title = f"{t('export.report_title', order[0])}: {data.workshop.name}"
    pdf = _new_pdf(order[0], fingerprint, title)
    for code in order:
        pdf.add_page()
        image = chart if code == order[0] else None
        if image is None and data.rankings:
            image = ranked_png(data, code)
        for block in report.report_blocks(data, code, fingerprint, image):
            _draw(pdf, block, code)
    _receipts_page(pdf, data.receipts, order)
    _raise_on_missing_glyphs(pdf)
    return bytes(pdf.output())


def files(r: Rendering) -> dict[str, bytes]:
    """The PDF format of a bundle (see `core.export_formats`)."""
    return {REPORT_PDF: build_pdf(r.data, r.lang, r.fingerprint, r.chart)}


EXPORT_FORMAT = Format("pdf", 0.7, files)
