"""The human-readable exports: the ranked chart (PNG), a bilingual HTML report, a PDF.

Both documents stand alone: the HTML embeds the glyphs it uses (cut from the shipped print
font) and its charts as data URLs under a Content-Security-Policy that forbids any network
load; the PDF embeds a subset of the same font, so no glyph is missing on a machine without
Chinese fonts. Both render one list of blocks (`report_blocks`), so they say the same. They show
counts, aggregates and sorted lists only. This module must never show a role below k (it
only reads `ExportData.breakdown`, already k-safe), any ballot on its own, or a receipt next
to anything but other receipts.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from core import charts, fonts
from core.breakdown import explain
from core.export import ExportData, role_grid_table
from core.i18n import LANGUAGES, normalize_language, t
from core.robustness import render
from core.tally.profile import MethodId, position_counts
from core.tally.registry import COUNTING_METHODS
from core.tally.result import TallyResult, place_text

_HTML_LANG: Final = {"zh": "zh-CN", "en": "en"}
# Fixed document dates: the file says nothing about when it was made, and stays reproducible.
_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
CHART_WIDTH: Final = 1100


def language_order(lang: str) -> tuple[str, ...]:
    """The chosen language first, then the others (zh, en by default)."""
    first = normalize_language(lang)
    return (first, *(other for other in LANGUAGES if other != first))


# --- chart --------------------------------------------------------------------------------


def chart_png(result: TallyResult, labels: Mapping[MethodId, str], lang: str) -> bytes:
    """The ranked bar chart as PNG, drawn with the shipped font (never a system font);
    `fonts.MissingGlyphs` rather than a box where a label has a character the font lacks."""
    import vl_convert

    fonts.check_glyphs(labels.values())
    fonts.register_with_vl_convert()
    chart = charts.ranked_bars(result, labels, lang, font=fonts.CHART_FONT, width=CHART_WIDTH)
    png: bytes = vl_convert.vegalite_to_png(chart.to_dict(), scale=1)
    return png


# --- every chart, for slides ----------------------------------------------------------------

CHART_KINDS: Final = ("ranked", "places", "comparison", "roles")
"""The charts the results page draws, in the order the report shows them."""


def chart_file_name(kind: str, lang: str, ext: str) -> str:
    return f"chart-{kind}-{lang}.{ext}"


def slide_charts(data: ExportData, lang: str) -> dict[str, Any]:
    """Each chart the app draws, titled, with the ballot count in its subtitle."""
    import altair as alt

    labels = data.labels(lang)
    n = data.counts.ballots
    order = data.default_result.order
    subtitle = t("export.charts.subtitle", lang, n=n, workshop=data.workshop.name)
    counting = t(COUNTING_METHODS[data.default_result.counting].name_key, lang)

    def titled(chart: Any, key: str, **params: Any) -> Any:
        title = alt.TitleParams(
            t(f"export.charts.{key}", lang, **params),
            subtitle=subtitle,
            subtitleFontSize=charts.LABEL_SIZE - 4,
            subtitlePadding=8,
            offset=16,
        )
        return chart.properties(title=title)

    counts = position_counts(data.rankings, data.workshop.method_keys, data.workshop.ballot_size)
    out = {
        "ranked": titled(
            charts.ranked_bars(data.default_result, labels, lang, font=fonts.CHART_FONT),
            "ranked",
            counting=counting,
        ),
        "places": titled(
            charts.place_distribution(counts, order, labels, lang, font=fonts.CHART_FONT),
            "places",
        ),
        "comparison": titled(
            charts.method_comparison(data.tallies, labels, lang, font=fonts.CHART_FONT),
            "comparison",
        ),
    }
    if data.breakdown.roles:
        out["roles"] = titled(
            charts.role_share_grid(
                data.breakdown,
                order,
                labels,
                lang,
                role_labels=data.role_labels(lang),
                font=fonts.CHART_FONT,
            ),
            "roles",
            k=data.workshop.anonymity_k,
        )
    return out


_SVG_TEXT: Final = re.compile(r"<text[^>]*>([^<]*)</text>")


def chart_files(data: ExportData) -> dict[str, bytes]:
    """Every chart in both languages as PNG (2x, for slides) and SVG (editable text, with
    the glyphs it uses embedded so it shows the same anywhere). Empty before any ballot."""
    import vl_convert

    if not data.rankings:
        return {}
    fonts.check_glyphs(printed_texts(data))
    fonts.register_with_vl_convert()
    files: dict[str, bytes] = {}
    for lang in LANGUAGES:
        svgs: dict[str, str] = {}
        for kind, chart in slide_charts(data, lang).items():
            spec = chart.to_dict()
            files[chart_file_name(kind, lang, "png")] = vl_convert.vegalite_to_png(spec, scale=2)
            svgs[kind] = vl_convert.vegalite_to_svg(spec)
        # One font subset per language covers every text of its charts.
        used = "".join(html.unescape(m) for svg in svgs.values() for m in _SVG_TEXT.findall(svg))
        style = f"<defs><style>{fonts.subset_face_css(used)}</style></defs>"
        for kind, svg in svgs.items():
            head_end = svg.index(">", svg.index("<svg")) + 1
            files[chart_file_name(kind, lang, "svg")] = (
                svg[:head_end] + style + svg[head_end:]
            ).encode("utf-8")
    return files


# --- the report, once, as blocks -----------------------------------------------------------
#
# Both documents render the same list of blocks, so the HTML and the PDF say the same things
# in the same order: what the evaluator pastes from one is in the other.


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
        out.append(Heading(3, f"{q.position + 1}. {q.text(lang)}"))
        out.append(
            Para(
                t(
                    "export.report.question_counts",
                    lang,
                    notes=len(shown),
                    dots=sum(n.dots for n in shown),
                    themes=len(q.themes),
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
            out.append(
                Heading(
                    4,
                    t(
                        "export.report.theme_heading",
                        lang,
                        theme=theme,
                        notes=len(in_theme),
                        dots=sum(n.dots for n in in_theme),
                    ),
                )
            )
            if in_theme:
                out.append(Quotes(tuple((n.text, n.dots) for n in in_theme)))
        loose = [n for n in shown if n.theme is None or n.theme not in q.themes]
        if loose:
            out.append(
                Heading(
                    4,
                    t(
                        "export.report.no_theme_heading",
                        lang,
                        notes=len(loose),
                        dots=sum(n.dots for n in loose),
                    ),
                )
            )
            out.append(Quotes(tuple((n.text, n.dots) for n in loose)))
        if hidden:
            out.append(Para(t("export.report.hidden_notes", lang, n=hidden), is_small=True))
    return out


def _anonymity_lines(data: ExportData, lang: str) -> list[str]:
    w = data.workshop
    hidden = sum(1 for q in data.questions for n in q.notes if n.is_hidden)
    plan = data.breakdown.plan
    merged = [*plan.merged_against_subtraction, *plan.too_small]
    roles = data.role_labels(lang)
    sep = t("tally.list_separator", lang)
    merged_text = sep.join(roles.get(r, r) for r in merged) or t("export.anonymity.none", lang)
    return [
        t("export.anonymity.cards", lang),
        t("export.anonymity.sealing", lang),
        t("export.anonymity.batching", lang, k=w.anonymity_k),
        t("export.anonymity.threshold", lang, k=w.anonymity_k),
        t("export.anonymity.suppressed", lang, hidden=hidden, merged=merged_text),
        t("export.anonymity.no_order", lang),
    ]


def report_blocks(
    data: ExportData, lang: str, fingerprint: str, chart: bytes | None
) -> list[Block]:
    """One language's report, as blocks both the HTML and the PDF render."""
    w = data.workshop
    labels = data.labels(lang)
    blocks: list[Block] = [
        Heading(1, f"{t('export.report_title', lang)}: {w.name}"),
        Para(t("export.report.date", lang, date=data.revealed_on, code=w.code)),
        Para(t("export.generated_note", lang), is_small=True),
        Heading(2, t("export.section.participation", lang)),
        Bullets(tuple(participation_lines(data, lang))),
    ]
    counting_name = t(COUNTING_METHODS[data.default_result.counting].name_key, lang)
    headers, rows = result_rows(data, lang)
    blocks += [
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
    blocks += _question_blocks(data, lang)
    blocks += [
        Heading(2, t("export.section.methods", lang)),
        Bullets(tuple(f"{m.label.get(lang)} — {m.description.get(lang)}" for m in w.methods)),
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
        comparison = charts.comparison_table(data.tallies, labels, lang)
        blocks.append(
            Grid(
                tuple(comparison[0]),
                tuple(tuple(str(v) for v in row.values()) for row in comparison),
            )
        )
    blocks += [
        Heading(3, t("export.counting.irv_rounds", lang)),
        Bullets(tuple(irv_lines(data, lang))),
        Heading(2, t("export.section.anonymity", lang)),
        Bullets(tuple(_anonymity_lines(data, lang))),
        Heading(2, t("export.section.signature", lang)),
        Para(t("export.counting.fingerprint", lang, fingerprint=fingerprint)),
        Para(t("export.counting.verify_hint", lang), is_small=True),
    ]
    return blocks


def printed_texts(data: ExportData) -> list[str]:
    """Every typed text the PDF and the chart images draw, in both languages: the font must
    cover all of it (`fonts.check_glyphs`)."""
    w = data.workshop
    texts = [w.name]
    texts += [m.label.get(lang) for m in w.methods for lang in LANGUAGES]
    texts += [m.description.get(lang) for m in w.methods for lang in LANGUAGES]
    texts += [r.label.get(lang) for r in w.roles for lang in LANGUAGES]
    for q in data.questions:
        texts += [q.text_zh, q.text_en, *q.themes, *q.summary_points]
        texts += [n.text for n in q.notes if not n.is_hidden]
    return texts


# --- HTML ---------------------------------------------------------------------------------

_CSS: Final = """
body { font-family: "Noto Sans SC", sans-serif; max-width: 60rem; margin: 2rem auto;
  padding: 0 1rem; line-height: 1.55; color: #111; }
h1 { font-size: 1.8rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #bbb; }
section.language { border-top: 4px solid #0072B2; margin-top: 3rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #bbb; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #eef3f8; }
img.chart { max-width: 100%; height: auto; }
blockquote { margin: .3rem 0 .3rem 1rem; padding-left: .8rem; border-left: 3px solid #56B4E9; }
.dots { color: #555; font-size: .9em; white-space: nowrap; }
.small { font-size: .9em; color: #333; }
.receipts { columns: 4 10rem; font-family: monospace; }
.fingerprint { font-family: monospace; font-size: 1.1rem; }
@media print { section.language { break-before: page; } }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _html_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _ul(items: Iterable[str]) -> str:
    return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def _block_html(block: Block, lang: str) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{_e(block.text)}</h{block.level}>"
    if isinstance(block, Para):
        css = ' class="small"' if block.is_small else ""
        return f"<p{css}>{_e(block.text)}</p>"
    if isinstance(block, Bullets):
        return _ul(block.items)
    if isinstance(block, Quotes):
        return "".join(
            f"<blockquote>{_e(quote(text, lang))} "
            f'<span class="dots">({_e(t("export.report.dots", lang, n=dots))})</span></blockquote>'
            for text, dots in block.items
        )
    if isinstance(block, Grid):
        return _html_table(block.headers, block.rows)
    encoded = base64.b64encode(block.png).decode("ascii")
    return f'<img class="chart" alt="{_e(block.alt)}" src="data:image/png;base64,{encoded}">'


def build_html(data: ExportData, lang: str, fingerprint: str) -> bytes:
    """The report in every language, the chosen one first, then the receipts once."""
    order = language_order(lang)
    first = order[0]
    sections = []
    for code in order:
        chart = chart_png(data.default_result, data.labels(code), code) if data.rankings else None
        blocks = report_blocks(data, code, fingerprint, chart)
        sections.append(
            f'<section class="language" lang="{_HTML_LANG[code]}">\n'
            + "\n".join(_block_html(b, code) for b in blocks)
            + "\n</section>"
        )
    receipts_heading = " / ".join(t("export.section.receipts", code) for code in order)
    receipts_note = " ".join(t("export.counting.receipts_note", code) for code in order)
    title = f"{t('export.report_title', first)}: {data.workshop.name}"
    body = (
        "\n".join(sections) + f'\n<section class="language"><h2>{_e(receipts_heading)}</h2>'
        f"<p>{_e(receipts_note)}</p>"
        f'<div class="receipts">{"<br>".join(_e(r) for r in data.receipts)}</div></section>'
    )
    # The font carries exactly the characters this document shows, rare ones included.
    face = fonts.subset_face_css(html.unescape(body + title))
    document = (
        "<!DOCTYPE html>\n"
        f'<html lang="{_HTML_LANG[first]}"><head><meta charset="utf-8">'
        # No network: fonts and images are inline, nothing else may load.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; font-src data:; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title>"
        f"<style>{face}{_CSS}</style></head><body>\n" + body + "\n</body></html>\n"
    )
    return document.encode("utf-8")


# --- PDF ----------------------------------------------------------------------------------


def _raise_on_missing_glyphs(pdf: Any) -> None:
    # Never trust the check of the typed texts alone: fpdf2 notes every character it could
    # not draw (and only warns on stderr); a locale text or a number format may slip past.
    missing = sorted(
        {chr(cp) for font in pdf.fonts.values() for cp in getattr(font, "missing_glyphs", ())}
    )
    if missing:
        raise fonts.MissingGlyphs(chars=" ".join(missing), text="")


def build_pdf(data: ExportData, lang: str, fingerprint: str, chart: bytes) -> bytes:
    """An A4 report (fpdf2, shipped font embedded) with the same blocks as the HTML, and on
    every page a footer with the page number and the signing key's fingerprint.

    `chart` is the PNG for `lang`; the other language's pages draw their own.
    """
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    order = language_order(lang)
    fonts.check_glyphs(printed_texts(data))
    family = fonts.CHART_FONT

    class Report(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(family, size=7.5)
            self.set_text_color(90, 90, 90)
            text = t(
                "export.report.footer",
                order[0],
                page=self.page_no(),
                pages="{nb}",
                fingerprint=fingerprint,
            )
            self.cell(0, 5, text, align="C")
            self.set_text_color(0, 0, 0)

    pdf = Report(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_margins(18, 18, 18)
    pdf.add_font(family, style="", fname=str(fonts.print_font_path()))
    pdf.set_title(f"{t('export.report_title', order[0])}: {data.workshop.name}")
    pdf.set_creator("Beidui")
    pdf.set_creation_date(_EPOCH)

    def para(text: str, size: float = 10, indent: float = 0) -> None:
        pdf.set_font(family, size=size)
        pdf.set_x(pdf.l_margin + indent)
        # Left-aligned: justified CJK lines next to Latin words stretch into wide gaps.
        pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT", align="L")

    def table(grid: Grid) -> None:
        pdf.set_font(family, size=8.5)
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

    sizes = {1: 17.0, 2: 14.0, 3: 12.0, 4: 10.5}
    for code in order:
        pdf.add_page()
        image = chart if code == order[0] else None
        if image is None and data.rankings:
            image = chart_png(data.default_result, data.labels(code), code)
        for block in report_blocks(data, code, fingerprint, image):
            if isinstance(block, Heading):
                pdf.ln(2 if block.level > 2 else 3)
                para(block.text, sizes[block.level])
                pdf.ln(1)
            elif isinstance(block, Para):
                para(block.text, 8.5 if block.is_small else 10)
            elif isinstance(block, Bullets):
                for item in block.items:
                    para(f"• {item}", indent=2)
            elif isinstance(block, Quotes):
                for text, dots in block.items:
                    para(f"{quote(text, code)} ({t('export.report.dots', code, n=dots)})", 9.5, 4)
            elif isinstance(block, Grid):
                table(block)
            else:
                pdf.image(io.BytesIO(block.png), w=pdf.epw)
    pdf.add_page()
    para(" / ".join(t("export.section.receipts", code) for code in order), 14)
    para(" ".join(t("export.counting.receipts_note", code) for code in order), 9)
    pdf.set_font("Courier", size=9)
    per_line = 5
    for i in range(0, len(data.receipts), per_line):
        pdf.cell(0, 5, "   ".join(data.receipts[i : i + per_line]), new_x="LMARGIN", new_y="NEXT")
    _raise_on_missing_glyphs(pdf)
    return bytes(pdf.output())
