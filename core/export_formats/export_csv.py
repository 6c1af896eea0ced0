"""The CSV files of an export, and the codebook describing every column of each.

UTF-8 with a BOM (Excel then opens Chinese correctly), CRLF rows, machine headers, byte for
byte deterministic: the same workshop gives the same files. Every typed text is written so
that no spreadsheet reads it as a formula (`neutralise_csv_text`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Final

from core.export_data import OTHER_GROUP, ExportData, Format, Rendering
from core.export_tables import (
    Cell,
    Table,
    ballots_long_table,
    breakdown_table,
    counting_name,
    group_name,
    head_to_head_table,
    header_text,
    is_formula_like,
    notes_table,
    rankings_table,
    receipts_table,
    role_grid_table,
    shares_table,
    summary_points_table,
    tally_table,
    themes_table,
)
from core.i18n import t
from core.tally.registry import COUNTING_METHODS


class CsvFile(StrEnum):
    """The name of each CSV file of an export, in the codebook's order (the codebook last)."""

    RANKINGS = "rankings.csv"
    BALLOTS_LONG = "ballots_long.csv"
    TALLY = "tally.csv"
    SHARES = "shares.csv"
    HEAD_TO_HEAD = "head_to_head.csv"
    BREAKDOWN = "breakdown.csv"
    ROLE_GRID = "role_grid.csv"
    NOTES = "notes.csv"
    THEMES = "themes.csv"
    SUMMARY_POINTS = "summary_points.csv"
    RECEIPTS = "receipts.csv"
    CODEBOOK = "codebook.csv"


def neutralise_csv_text(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: OWASP's leading apostrophe when needed.

    Every typed text (notes, themes, summary points, method and role names, the workshop
    name) passes through here; numbers are written by `_csv_cell` and never start with a
    trigger (scores are not negative). The apostrophe is what Excel itself stores when a
    person types '=…, so the text reads back unchanged after it.
    """
    return "'" + text if is_formula_like(text) else text


def _csv_cell(value: Cell) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return neutralise_csv_text(value)


def table_to_csv(table: Table) -> bytes:
    """UTF-8 with a BOM (Excel then opens Chinese correctly), CRLF rows, machine headers."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.keys)
    writer.writerows([_csv_cell(c) for c in row] for row in table.rows)
    return buffer.getvalue().encode("utf-8-sig")


CSV_TABLES: Final[Mapping[CsvFile, Callable[[ExportData, str], Table]]] = {
    CsvFile.RANKINGS: rankings_table,
    CsvFile.BALLOTS_LONG: ballots_long_table,
    CsvFile.TALLY: tally_table,
    CsvFile.SHARES: shares_table,
    CsvFile.HEAD_TO_HEAD: head_to_head_table,
    CsvFile.BREAKDOWN: breakdown_table,
    CsvFile.ROLE_GRID: role_grid_table,
    CsvFile.NOTES: notes_table,
    CsvFile.THEMES: themes_table,
    CsvFile.SUMMARY_POINTS: summary_points_table,
    CsvFile.RECEIPTS: receipts_table,
}
"""Every CSV file and the table it holds, in the codebook's order."""


def build_csv(data: ExportData, lang: str) -> dict[str, bytes]:
    """The CSV files by name, and the codebook describing every column of each."""
    files: dict[str, bytes] = {
        name: table_to_csv(build(data, lang)) for name, build in CSV_TABLES.items()
    }
    files[CsvFile.CODEBOOK] = table_to_csv(codebook_table(data, lang))
    return files


_COLUMN_TYPES: Final[Mapping[str, str]] = {
    **dict.fromkeys(
        (
            "rank",
            "score",
            "dots",
            "question",
            "ballots",
            "points",
            "first_choices",
            "chosen",
            "a_over_b",
            "b_over_a",
            "margin",
            "ballot",
            "ballot_length",
            "notes",
            "point",
        ),
        "integer",
    ),
    **dict.fromkeys(("points_pct", "first_pct", "chosen_pct", "average_score", "room"), "number"),
    **dict.fromkeys(("tied", "hidden"), "boolean"),
    **dict.fromkeys(("method", "method_a", "method_b", "counting", "group"), "code"),
}
"""Each column's type; every other column is text. A role-grid group column is a number."""


def _values(column: str, data: ExportData, lang: str) -> str:
    """The values a coded column takes, "code = meaning; …" (empty for free columns)."""
    sep = "; "
    if column in {"method", "method_a", "method_b"} or column.startswith("rank_"):
        if column.endswith("_label"):
            return ""
        return sep.join(f"{k} = {v}" for k, v in data.labels(lang).items())
    if column == "counting":
        return sep.join(f"{c} = {counting_name(c, lang)}" for c in COUNTING_METHODS)
    if column == "group":
        groups = [g.role for g in data.breakdown.groups]
        return sep.join(f"{g or OTHER_GROUP} = {group_name(g, data, lang)}" for g in groups)
    if column == "question":
        return sep.join(f"{q.position + 1} = {q.text.get(lang)}" for q in data.questions)
    if column in {"tied", "hidden"}:
        return "true; false"
    return ""


def codebook_table(data: ExportData, lang: str) -> Table:
    """Every column of every CSV file: its type, what it means, and the values it takes."""
    rows: list[tuple[Cell, ...]] = []
    for name, build in CSV_TABLES.items():
        table = build(data, lang)
        for key, header in zip(table.keys, table.headers, strict=True):
            if key.startswith("rank_"):
                generic = "rank_n_label" if key.endswith("_label") else "rank_n"
                n = key.split("_")[1]
                kind = "text" if key.endswith("_label") else "code"
                meaning = t(f"export.codebook.{generic}", lang, n=n)
            elif name == CsvFile.ROLE_GRID and key not in {"method", "method_label", "room"}:
                kind, meaning = "number", t("export.codebook.group_share", lang, group=header)
            else:
                kind = _COLUMN_TYPES.get(key, "text")
                meaning = t(f"export.codebook.{key}", lang, k=data.workshop.ballot_size)
            rows.append((name, key, header, kind, meaning, _values(key, data, lang)))
    keys = ("file", "column", "header", "type", "description", "values")
    return Table(keys, tuple(header_text(f"codebook_{k}", lang) for k in keys), tuple(rows))


def files(r: Rendering) -> dict[str, bytes]:
    """The CSV format of a bundle (see `core.export_formats`)."""
    return build_csv(r.data, r.lang)


EXPORT_FORMAT = Format("csv", 0.15, files)
