"""The human-readable exports: the ranked chart (PNG), a bilingual HTML report, a PDF.

Both documents stand alone: the HTML embeds the shipped Chinese font and its chart as data
URLs under a Content-Security-Policy that forbids any network load; the PDF embeds a subset
of the same font, so no glyph is missing on a machine without Chinese fonts. They show
counts, aggregates and sorted lists only. This module must never show a role below k (it
only reads `ExportData.breakdown`, already k-safe), any ballot on its own, or a receipt next
to anything but other receipts.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from core import charts, fonts
from core.export import ExportData, Table, breakdown_table, group_name
from core.i18n import LANGUAGES, normalize_language, t
from core.robustness import render
from core.tally import COUNTING_METHODS, MethodId, TallyResult, place_text

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
    """The ranked bar chart as PNG, drawn with the shipped font (never a system font)."""
    import vl_convert

    fonts.register_with_vl_convert()
    chart = charts.ranked_bars(result, labels, lang, font=fonts.CHART_FONT, width=CHART_WIDTH)
    png: bytes = vl_convert.vegalite_to_png(chart.to_dict(), scale=1)
    return png


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


def _dict_table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    headers = list(rows[0])
    return _html_table(headers, ([row[h] for h in headers] for row in rows))


def _ul(items: Iterable[str]) -> str:
    return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def participation_lines(data: ExportData, lang: str) -> list[str]:
    w, c = data.workshop, data.counts
    return [
        t("export.participation.ballots", lang, n=c.ballots),
        t("export.participation.cards_issued", lang, n=c.cards_issued),
        t("export.participation.cards_spent", lang, n=c.cards_spent),
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
    """The default counting's table: rank ("2=" when tied), method, score."""
    result = data.default_result
    labels = data.labels(lang)
    headers = [
        t("tally.table.rank", lang),
        t("tally.table.method", lang),
        t(COUNTING_METHODS[result.counting].score_key, lang),
    ]
    rows = [[place_text(r), labels[r.method], str(r.score)] for r in result.rows()]
    return headers, rows


def _table_html(table: Table, skip: Sequence[int] = ()) -> str:
    keep = [i for i in range(len(table.headers)) if i not in skip]
    return _html_table(
        [table.headers[i] for i in keep],
        ([_cell_text(row[i], "") for i in keep] for row in table.rows),
    )


def _cell_text(value: object, lang: str) -> str:
    if isinstance(value, bool):
        return t("export.header.yes" if value else "export.header.no", lang or "zh")
    return str(value)


def _language_section(data: ExportData, lang: str, chart: bytes, fingerprint: str) -> str:
    w = data.workshop
    labels = data.labels(lang)

    def s(key: str, **params: Any) -> str:
        return _e(t(f"export.section.{key}", lang, **params))

    parts = [
        f'<section class="language" lang="{_HTML_LANG[lang]}">',
        f"<h1>{_e(t('export.report_title', lang))}: {_e(w.name)}</h1>",
        f"<p>{_e(t('export.generated_note', lang))}</p>",
        f"<h2>{s('asked')}</h2><h3>{s('questions')}</h3>",
        "<ol>" + "".join(f"<li>{_e(q.text(lang))}</li>" for q in data.questions) + "</ol>",
        f"<h3>{s('methods')}</h3>",
        "<ul>"
        + "".join(
            f"<li><strong>{_e(m.label.get(lang))}</strong> — {_e(m.description.get(lang))}</li>"
            for m in w.methods
        )
        + "</ul>",
        f"<h2>{s('participation')}</h2>",
        _ul(participation_lines(data, lang)),
    ]
    if data.breakdown.groups:
        parts.append(
            _html_table(
                [t("export.header.group", lang), t("export.header.ballots", lang)],
                ((group_name(g.role, data, lang), g.ballot_count) for g in data.breakdown.groups),
            )
        )
    else:
        parts.append(f"<p>{_e(t('export.participation.no_breakdown', lang))}</p>")
    headers, rows = result_rows(data, lang)
    counting_name = t(COUNTING_METHODS[data.default_result.counting].name_key, lang)
    encoded = base64.b64encode(chart).decode("ascii")
    parts += [
        f"<h2>{s('result')}</h2>",
        f"<p>{_e(t('export.counting.default_note', lang, method=counting_name))}</p>",
        f'<img class="chart" alt="{_e(t("export.section.result", lang))}" '
        f'src="data:image/png;base64,{encoded}">',
        _html_table(headers, rows),
        f"<h2>{s('robustness')}</h2>",
        _ul(robustness_lines(data, lang)),
    ]
    if data.breakdown.groups:
        parts += [
            f"<h2>{s('breakdown', k=w.anonymity_k)}</h2>",
            _table_html(breakdown_table(data, lang), skip=(0, 4)),
        ]
    parts.append(f"<h2>{s('themes')}</h2>")
    for q in data.questions:
        parts.append(f"<h3>{q.position + 1}. {_e(q.text(lang))}</h3>")
        parts.append(f"<h4>{_e(t('export.notes.themes', lang))}</h4>")
        parts.append(
            _ul(q.themes) if q.themes else f"<p>{_e(t('export.notes.no_themes', lang))}</p>"
        )
        parts.append(f"<h4>{_e(t('export.notes.summary', lang))}</h4>")
        parts.append(
            _ul(q.summary_points)
            if q.summary_points
            else f"<p>{_e(t('export.notes.no_summary', lang))}</p>"
        )
    parts.append(f"<h2>{s('counting')}</h2><dl>")
    for method in COUNTING_METHODS.values():
        parts.append(
            f"<dt><strong>{_e(t(method.name_key, lang))}</strong></dt>"
            f"<dd>{_e(t(method.description_key, lang))}</dd>"
        )
    parts.append("</dl>")
    if data.rankings:
        parts.append(_dict_table(charts.comparison_table(data.tallies, labels, lang)))
    parts += [
        f"<h3>{_e(t('export.counting.irv_rounds', lang))}</h3>",
        _ul(irv_lines(data, lang)),
        f"<h2>{s('signature')}</h2>",
        '<p class="fingerprint">'
        + _e(t("export.counting.fingerprint", lang, fingerprint=fingerprint))
        + "</p>",
        f"<p>{_e(t('export.counting.verify_hint', lang))}</p>",
        "</section>",
    ]
    return "\n".join(parts)


def build_html(data: ExportData, lang: str, fingerprint: str) -> bytes:
    """The report in every language, the chosen one first, then the receipts once."""
    order = language_order(lang)
    first = order[0]
    sections = [
        _language_section(
            data, code, chart_png(data.default_result, data.labels(code), code), fingerprint
        )
        for code in order
    ]
    receipts_heading = " / ".join(t("export.section.receipts", code) for code in order)
    receipts_note = " ".join(t("export.counting.receipts_note", code) for code in order)
    title = f"{t('export.report_title', first)}: {data.workshop.name}"
    document = (
        "<!DOCTYPE html>\n"
        f'<html lang="{_HTML_LANG[first]}"><head><meta charset="utf-8">'
        # No network: fonts and images are inline, nothing else may load.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; font-src data:; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title>"
        f"<style>{fonts.font_face_css()}{_CSS}</style></head><body>\n"
        + "\n".join(sections)
        + f'\n<section class="language"><h2>{_e(receipts_heading)}</h2>'
        f"<p>{_e(receipts_note)}</p>"
        f'<div class="receipts">{"<br>".join(_e(r) for r in data.receipts)}</div></section>'
        "\n</body></html>\n"
    )
    return document.encode("utf-8")


# --- PDF ----------------------------------------------------------------------------------


def build_pdf(data: ExportData, lang: str, fingerprint: str, chart: bytes) -> bytes:
    """An A4 report (fpdf2, shipped font embedded): questions, result, robustness, summaries.

    `chart` is the PNG for `lang`; the other language's pages reuse its table, not its image.
    """
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    order = language_order(lang)
    family = fonts.CHART_FONT
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.set_margins(18, 18, 18)
    pdf.add_font(family, style="", fname=str(fonts.font_path()))
    pdf.set_title(f"{t('export.report_title', order[0])}: {data.workshop.name}")
    pdf.set_creator("Beidui")
    pdf.set_creation_date(_EPOCH)

    def heading(text: str, size: float = 14) -> None:
        pdf.set_font(family, size=size)
        pdf.ln(2)
        pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.ln(1)

    def para(text: str, size: float = 10) -> None:
        pdf.set_font(family, size=size)
        # Left-aligned: justified CJK lines next to Latin words stretch into wide gaps.
        pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT", align="L")

    def bullets(items: Iterable[str]) -> None:
        for item in items:
            para(f"• {item}")

    def table(
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        widths: Sequence[float] | None = None,
    ) -> None:
        pdf.set_font(family, size=9)
        # Only the Regular weight ships: headings are shaded, not bold.
        style = FontFace(emphasis="", fill_color=(238, 243, 248))
        with pdf.table(
            text_align="LEFT",
            line_height=5,
            headings_style=style,
            col_widths=tuple(widths) if widths else None,
        ) as tbl:
            row = tbl.row()
            for h in headers:
                row.cell(h)
            for values in rows:
                row = tbl.row()
                for value in values:
                    row.cell(value)
        pdf.ln(2)

    for code in order:
        pdf.add_page()
        labels = data.labels(code)
        heading(f"{t('export.report_title', code)}: {data.workshop.name}", 18)
        para(t("export.generated_note", code), 9)
        heading(t("export.section.questions", code))
        for q in data.questions:
            para(f"{q.position + 1}. {q.text(code)}")
        heading(t("export.section.participation", code))
        bullets(participation_lines(data, code))
        if data.breakdown.groups:
            table(
                [t("export.header.group", code), t("export.header.ballots", code)],
                [
                    [group_name(g.role, data, code), str(g.ballot_count)]
                    for g in data.breakdown.groups
                ],
            )
        heading(t("export.section.result", code))
        counting_name = t(COUNTING_METHODS[data.default_result.counting].name_key, code)
        para(t("export.counting.default_note", code, method=counting_name), 9)
        if code == order[0]:
            pdf.image(io.BytesIO(chart), w=pdf.epw)
        headers, rows = result_rows(data, code)
        table(headers, rows, widths=(1, 6, 2))
        heading(t("export.section.robustness", code))
        bullets(robustness_lines(data, code))
        heading(t("export.section.themes", code))
        for q in data.questions:
            heading(f"{q.position + 1}. {q.text(code)}", 11)
            para(t("export.notes.themes", code) + ":", 9)
            bullets(q.themes or [t("export.notes.no_themes", code)])
            para(t("export.notes.summary", code) + ":", 9)
            bullets(q.summary_points or [t("export.notes.no_summary", code)])
        heading(t("export.section.counting", code))
        for method in COUNTING_METHODS.values():
            para(f"{t(method.name_key, code)}: {t(method.description_key, code)}", 9)
        if data.rankings:
            comparison = charts.comparison_table(data.tallies, labels, code)
            table(list(comparison[0]), [[str(v) for v in r.values()] for r in comparison])
        bullets(irv_lines(data, code))
        heading(t("export.section.signature", code))
        para(t("export.counting.fingerprint", code, fingerprint=fingerprint))
        para(t("export.counting.verify_hint", code), 9)
    pdf.add_page()
    heading(" / ".join(t("export.section.receipts", code) for code in order))
    para(" ".join(t("export.counting.receipts_note", code) for code in order), 9)
    pdf.set_font("Courier", size=9)
    per_line = 5
    for i in range(0, len(data.receipts), per_line):
        pdf.cell(0, 5, "   ".join(data.receipts[i : i + per_line]), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
