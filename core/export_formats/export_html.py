"""`report.html`: the report in every language, the chosen one first, then the receipts.

It stands alone: it embeds the glyphs it uses (cut from the shipped print font) and its
charts as data URLs under a Content-Security-Policy that forbids any network load. It says
what the PDF says (`core.export_report.report_blocks`) and nothing more.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from typing import Final

from core import export_report as report
from core import fonts
from core.export_data import ExportData, Format, Rendering
from core.export_formats.export_charts import ranked_png
from core.i18n import t

REPORT_HTML: Final = "report.html"
_HTML_LANG: Final = {"zh": "zh-CN", "en": "en"}

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


def _block_html(block: report.Block, lang: str) -> str:
    if isinstance(block, report.Heading):
        return f"<h{block.level}>{_e(block.text)}</h{block.level}>"
    if isinstance(block, report.Para):
        css = ' class="small"' if block.is_small else ""
        return f"<p{css}>{_e(block.text)}</p>"
    if isinstance(block, report.Bullets):
        return _ul(block.items)
    if isinstance(block, report.Quotes):
        return "".join(
            f"<blockquote>{_e(report.quote(text, lang))} "
            f'<span class="dots">({_e(t("export.report.dots", lang, n=dots))})</span></blockquote>'
            for text, dots in block.items
        )
    if isinstance(block, report.Grid):
        return _html_table(block.headers, block.rows)
    encoded = base64.b64encode(block.png).decode("ascii")
    return f'<img class="chart" alt="{_e(block.alt)}" src="data:image/png;base64,{encoded}">'


def build_html(data: ExportData, lang: str, fingerprint: str) -> bytes:
    """The report in every language, the chosen one first, then the receipts once."""
    order = report.language_order(lang)
    first = order[0]
    sections = []
    for code in order:
        chart = ranked_png(data, code) if data.rankings else None
        blocks = report.report_blocks(data, code, fingerprint, chart)
        sections.append(
            f'<section class="language" lang="{_HTML_LANG[code]}">\n'
            + "\n".join(_block_html(b, code) for b in blocks)
            + "\n</section>"
        )
    receipts_heading, receipts_note = report.receipts_texts(order)
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


def files(r: Rendering) -> dict[str, bytes]:
    """The HTML format of a bundle (see `core.export_formats`)."""
    return {REPORT_HTML: build_html(r.data, r.lang, r.fingerprint)}


EXPORT_FORMAT = Format("html", 0.55, files)
