"""The chart images of an export: the ranked chart (PNG), and every chart for slides.

Drawn with the shipped font only (never a system font): `fonts.MissingGlyphs` rather than a
box where a text has a character the font lacks. Built from `ExportData` alone, a chart
shows only what it holds: no role below k, no ballot on its own.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any, Final

import altair as alt

from core import fonts
from core.charts_comparison import method_comparison
from core.charts_places import place_distribution
from core.charts_ranked import ranked_bars
from core.charts_roles import RoleShares, role_share_grid
from core.charts_style import LABEL_SIZE
from core.domain import MethodId
from core.export_data import ExportData, Format, Rendering
from core.i18n import LANGUAGES, t
from core.tally.profile import position_counts
from core.tally.registry import COUNTING_METHODS
from core.tally.result import TallyResult

CHART_PNG: Final = "chart.png"
CHART_WIDTH: Final = 1100


def chart_png(result: TallyResult, labels: Mapping[MethodId, str], lang: str) -> bytes:
    """The ranked bar chart as PNG, drawn with the shipped font (never a system font);
    `fonts.MissingGlyphs` rather than a box where a label has a character the font lacks."""
    import vl_convert

    fonts.check_glyphs(labels.values())
    fonts.register_with_vl_convert()
    chart = ranked_bars(result, labels, lang, font=fonts.CHART_FONT, width=CHART_WIDTH)
    png: bytes = vl_convert.vegalite_to_png(chart.to_dict(), scale=1)
    return png


def ranked_png(data: ExportData, lang: str) -> bytes:
    """The ranked chart of the default counting in `lang` (what `Rendering.chart` draws)."""
    return chart_png(data.default_result, data.labels(lang), lang)


CHART_KINDS: Final = ("ranked", "places", "comparison", "roles")
"""The charts the results page draws, in the order the report shows them."""


def chart_file_name(kind: str, lang: str, ext: str) -> str:
    return f"chart-{kind}-{lang}.{ext}"


def slide_charts(data: ExportData, lang: str) -> dict[str, Any]:
    """Each chart the app draws, titled, with the ballot count in its subtitle."""
    labels = data.labels(lang)
    n = data.counts.ballots
    order = data.default_result.order
    subtitle = t("export.charts.subtitle", lang, n=n, workshop=data.workshop.name)
    counting = t(COUNTING_METHODS[data.default_result.counting].name_key, lang)

    def titled(chart: Any, key: str, **params: Any) -> Any:
        title = alt.TitleParams(
            t(f"export.charts.{key}", lang, **params),
            subtitle=subtitle,
            subtitleFontSize=LABEL_SIZE - 4,
            subtitlePadding=8,
            offset=16,
        )
        return chart.properties(title=title)

    counts = position_counts(data.rankings, data.workshop.method_keys, data.workshop.ballot_size)
    out = {
        "ranked": titled(
            ranked_bars(data.default_result, labels, lang, font=fonts.CHART_FONT),
            "ranked",
            counting=counting,
        ),
        "places": titled(
            place_distribution(counts, order, labels, lang, font=fonts.CHART_FONT),
            "places",
        ),
        "comparison": titled(
            method_comparison(data.tallies, labels, lang, font=fonts.CHART_FONT),
            "comparison",
        ),
    }
    if data.breakdown.roles:
        out["roles"] = titled(
            role_share_grid(
                RoleShares(data.breakdown, order, labels, lang, data.role_labels(lang)),
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


def printed_texts(data: ExportData) -> list[str]:
    """Every typed text the PDF and the chart images draw, in both languages: the font must
    cover all of it (`fonts.check_glyphs`)."""
    w = data.workshop
    texts = [w.name]
    texts += [m.label.get(lang) for m in w.methods for lang in LANGUAGES]
    texts += [m.description.get(lang) for m in w.methods for lang in LANGUAGES]
    texts += [r.label.get(lang) for r in w.roles for lang in LANGUAGES]
    for q in data.questions:
        texts += [*(q.text.get(lang) for lang in LANGUAGES), *q.themes, *q.summary_points]
        texts += [n.text for n in q.notes if not n.is_hidden]
    return texts


def files(r: Rendering) -> dict[str, bytes]:
    """The chart format of a bundle: the ranked chart in the bundle's language, and every
    chart in both languages for slides (see `core.export_formats`)."""
    return {CHART_PNG: r.chart, **chart_files(r.data)}


EXPORT_FORMAT = Format("chart", 0.25, files)
