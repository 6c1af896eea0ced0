"""The report of an export, once, as blocks: what the HTML and the PDF both say.

Both documents render the same list of blocks (`report_blocks`), so the HTML and the PDF
say the same things in the same order: what the evaluator pastes from one is in the other.
They show counts, aggregates and sorted lists only. This module must never show a role
below k (it only reads `ExportData.breakdown`, already k-safe), any ballot on its own, or a
receipt next to anything but other receipts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.breakdown import explain
from core.charts_comparison import comparison_table
from core.export_data import ExportData, NoteRow
from core.export_tables import role_grid_table
from core.i18n import LANGUAGES, normalize_language, t
from core.robustness import render
from core.tally.registry import COUNTING_METHODS
from core.tally.result import place_text


def language_order(lang: str) -> tuple[str, ...]:
    """The chosen language first, then the others (zh, en by default)."""
    first = normalize_language(lang)
    return (first, *(other for other in LANGUAGES if other != first))


def receipts_texts(order: Sequence[str]) -> tuple[str, str]:
    """The receipts section's heading and note, in every language of `order` at once: the
    receipts are listed once for all languages."""
    heading = " / ".join(t("export.section.receipts", code) for code in order)
    note = " ".join(t("export.counting.receipts_note", code) for code in order)
    return heading, note


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str
    is_small: bool = False


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Quotes:
    """Notes quoted as typed, each with its dots."""

    items: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Grid:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Picture:
    png: bytes
    alt: str


Block = Heading | Para | Bullets | Quotes | Grid | Picture


def quote(text: str, lang: str) -> str:
    """A note quoted as typed, in the language's quotation marks."""
    return t("export.report.quote", lang, text=text)


def _pct(value: float, lang: str) -> str:
    return t("export.report.percent", lang, value=f"{value:.1f}")


def participation_lines(data: ExportData, lang: str) -> list[str]:
    w, c = data.workshop, data.counts
    notes_total = sum(len(q.notes) for q in data.questions)
    hidden = sum(1 for q in data.questions for n in q.notes if n.is_hidden)
    return [
        t("export.participation.cards_issued", lang, n=c.cards_issued),
        t("export.participation.cards_spent", lang, n=c.cards_spent),
        t("export.participation.ballots", lang, n=c.ballots),
        t("export.participation.notes", lang, n=notes_total, hidden=hidden),
        t("export.participation.ballot_size", lang, k=w.ballot_size),
        t("export.participation.anonymity_k", lang, k=w.anonymity_k),
    ]


def robustness_lines(data: ExportData, lang: str) -> list[str]:
    labels = data.labels(lang)
    return [render(m, lang, labels) for m in data.robustness]


def irv_lines(data: ExportData, lang: str) -> list[str]:
    labels = data.labels(lang)
    return [render(m, lang, labels) for m in data.irv.messages()]


def result_rows(data: ExportData, lang: str) -> tuple[list[str], list[list[str]]]:
    """The ranking with its shares: rank ("2=" when tied), method, points, share of points,
    ranked first, chosen at all, average ranked score."""
    result = data.default_result
    labels = data.labels(lang)
    by_method = {s.method: s for s in data.shares}
    headers = [
        t("tally.table.rank", lang),
        t("tally.table.method", lang),
        t(COUNTING_METHODS[result.counting].score_key, lang),
        t("export.header.points_pct", lang),
        t("export.header.first_pct", lang),
        t("export.header.chosen_pct", lang),
        t("export.header.average_score", lang, k=data.workshop.ballot_size),
    ]
    rows = []
    for r in result.rows():
        s = by_method[r.method]
        rows.append(
            [
                place_text(r),
                labels[r.method],
                str(r.score),
                _pct(s.points_pct, lang),
                _pct(s.first_pct, lang),
                _pct(s.chosen_pct, lang),
                f"{s.average_score:.2f}",
            ]
        )
    return headers, rows


def _question_blocks(data: ExportData, lang: str) -> list[Block]:
    out: list[Block] = [Heading(2, t("export.section.questions_notes", lang))]
    for q in data.questions:
        shown = [n for n in q.notes if not n.is_hidden]
        hidden = len(q.notes) - len(shown)
        out.append(Heading(3, f"{q.position + 1}. {q.text.get(lang)}"))
        out.append(
            Para(
                t(
                    "export.report.question_counts",
                    lang,
                    notes=t("export.report.n_notes", lang, n=len(shown)),
                    dots=t("export.report.dots", lang, n=sum(n.dots for n in shown)),
                    themes=t("export.report.n_themes", lang, n=len(q.themes)),
                )
            )
        )
        out.append(Heading(4, t("export.notes.summary", lang)))
        if q.summary_points:
            out.append(Bullets(q.summary_points))
        else:
            out.append(Para(t("export.notes.no_summary", lang)))
        for theme in q.themes:
            in_theme = [n for n in shown if n.theme == theme]
            out += _note_group("export.report.theme_heading", lang, in_theme, theme=theme)
        loose = [n for n in shown if n.theme is None or n.theme not in q.themes]
        if loose:
            out += _note_group("export.report.no_theme_heading", lang, loose)
        if hidden:
            out.append(Para(t("export.report.hidden_notes", lang, n=hidden), is_small=True))
    return out


def _note_group(key: str, lang: str, notes: Sequence[NoteRow], **params: str) -> list[Block]:
    """A group's heading (its notes and dots counted) and its notes, if any."""
    counts = {
        "notes": t("export.report.n_notes", lang, n=len(notes)),
        "dots": t("export.report.dots", lang, n=sum(n.dots for n in notes)),
    }
    heading = Heading(4, t(key, lang, **counts, **params))
    return [heading, Quotes(tuple((n.text, n.dots) for n in notes))] if notes else [heading]


def _anonymity_lines(data: ExportData, lang: str) -> list[str]:
    w = data.workshop
    hidden = sum(1 for q in data.questions for n in q.notes if n.is_hidden)
    plan = data.breakdown.plan
    merged = [*plan.merged_against_subtraction, *plan.too_small]
    roles = data.role_labels(lang)
    sep = t("tally.list_separator", lang)
    merged_text = sep.join(roles.get(r, r) for r in merged) or t("export.anonymity.none", lang)
    live = [t("export.anonymity.live", lang, k=w.anonymity_k)] if w.is_live_results else []
    return [
        t("export.anonymity.cards", lang, k=w.anonymity_k),
        t("export.anonymity.sealing", lang),
        t("export.anonymity.batching", lang, k=w.anonymity_k),
        *live,
        t("export.anonymity.threshold", lang, k=w.anonymity_k),
        t("export.anonymity.suppressed", lang, hidden=hidden, merged=merged_text),
        t("export.anonymity.no_order", lang),
    ]


def _result_blocks(data: ExportData, lang: str, chart: bytes | None) -> list[Block]:
    w = data.workshop
    counting_name = t(COUNTING_METHODS[data.default_result.counting].name_key, lang)
    headers, rows = result_rows(data, lang)
    blocks: list[Block] = [
        Heading(2, t("export.section.result", lang)),
        Para(t("export.counting.default_note", lang, method=counting_name), is_small=True),
    ]
    if chart is not None:
        blocks.append(Picture(chart, t("export.section.result", lang)))
    blocks += [
        Grid(tuple(headers), tuple(tuple(r) for r in rows), (1, 5, 1.4, 1.4, 1.4, 1.4, 1.6)),
        Para(t("export.report.shares_note", lang, k=w.ballot_size), is_small=True),
        Heading(2, t("export.section.robustness", lang)),
        Bullets(tuple(robustness_lines(data, lang)) or (t("export.report.no_ballots", lang),)),
    ]
    return blocks


def _breakdown_blocks(data: ExportData, lang: str) -> list[Block]:
    w = data.workshop
    blocks: list[Block] = [
        Heading(2, t("export.section.breakdown", lang, k=w.anonymity_k)),
        Bullets(
            tuple(
                explain(
                    data.breakdown.plan,
                    data.role_labels(lang),
                    lang,
                    offered=[r.key for r in w.roles],
                )
            )
        ),
    ]
    if data.breakdown.roles:
        grid = role_grid_table(data, lang)
        blocks += [
            Grid(
                grid.headers[1:],
                tuple((str(r[1]), *(_pct(float(v), lang) for v in r[2:])) for r in grid.rows),
            ),
            Para(t("export.roles.grid_note", lang), is_small=True),
        ]
    return blocks


def _method_blocks(data: ExportData, lang: str) -> list[Block]:
    blocks: list[Block] = [
        Heading(2, t("export.section.methods", lang)),
        Bullets(
            tuple(f"{m.label.get(lang)} — {m.description.get(lang)}" for m in data.workshop.methods)
        ),
        Heading(2, t("export.section.counting", lang)),
        Bullets(
            tuple(
                f"{t(c.name_key, lang)}: {t(c.description_key, lang)}"
                for c in COUNTING_METHODS.values()
            )
        ),
        Para(t("export.report.schulze_rule", lang), is_small=True),
    ]
    if data.rankings:
        comparison = comparison_table(data.tallies, data.labels(lang), lang)
        blocks.append(
            Grid(
                tuple(comparison[0]),
                tuple(tuple(str(v) for v in row.values()) for row in comparison),
            )
        )
    blocks += [
        Heading(3, t("export.counting.irv_rounds", lang)),
        Bullets(tuple(irv_lines(data, lang))),
    ]
    return blocks


def report_blocks(
    data: ExportData, lang: str, fingerprint: str, chart: bytes | None
) -> list[Block]:
    """One language's report, as blocks both the HTML and the PDF render."""
    w = data.workshop
    return [
        Heading(1, f"{t('export.report_title', lang)}: {w.name}"),
        Para(t("export.report.date", lang, date=data.revealed_on, code=w.code)),
        Para(t("export.generated_note", lang), is_small=True),
        Heading(2, t("export.section.participation", lang)),
        Bullets(tuple(participation_lines(data, lang))),
        *_result_blocks(data, lang, chart),
        *_breakdown_blocks(data, lang),
        *_question_blocks(data, lang),
        *_method_blocks(data, lang),
        Heading(2, t("export.section.anonymity", lang)),
        Bullets(tuple(_anonymity_lines(data, lang))),
        Heading(2, t("export.section.signature", lang)),
        Para(t("export.counting.fingerprint", lang, fingerprint=fingerprint)),
        Para(t("export.counting.verify_hint", lang), is_small=True),
    ]
