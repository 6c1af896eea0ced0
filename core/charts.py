"""Altair charts of tally results, each with a table (list of dicts) of the same figures.

Charts are sized for a projector at 1920x1080 read from the back of a room (28px labels),
use the Okabe-Ito colour-blind-safe palette and take every text from the caller (`labels`,
already localized) or from the locale files (`t`). Data are always inline: a chart must
never reference a URL, load remote data or name a remote font. Built from a `Breakdown`,
a chart can only show roles that passed the k threshold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

import altair as alt

from core.breakdown import Breakdown, Group, Role
from core.i18n import t
from core.tally.profile import CountingId, MethodId
from core.tally.registry import COUNTING_METHODS
from core.tally.result import ResultRow, TallyResult, place_text

DEFAULT_FONT: Final = "Noto Sans SC, sans-serif"

OKABE_ITO: Final = (
    "#0072B2",  # blue
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#F0E442",  # yellow
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#000000",  # black
)
PLACE_COLOURS: Final = (
    *OKABE_ITO,
    # Beyond 8 places, four more from Paul Tol's colour-blind-safe "muted" set, none close
    # to an Okabe-Ito colour: a 12-place ballot never repeats a colour.
    "#882255",  # wine
    "#999933",  # olive
    "#44AA99",  # teal
    "#AA4499",  # purple
)
BAR_COLOUR: Final = OKABE_ITO[0]

LABEL_SIZE: Final = 28
TITLE_SIZE: Final = 34
ROW_HEIGHT: Final = 64


def _configure(chart: Any, font: str) -> Any:
    return (
        chart.configure(font=font)
        .configure_axis(
            labelFontSize=LABEL_SIZE, titleFontSize=LABEL_SIZE, labelLimit=900, titlePadding=16
        )
        .configure_legend(labelFontSize=LABEL_SIZE - 4, titleFontSize=LABEL_SIZE - 4)
        .configure_header(labelFontSize=LABEL_SIZE, titleFontSize=LABEL_SIZE)
        .configure_title(fontSize=TITLE_SIZE, anchor="start")
        .configure_view(stroke=None)
    )


def on_screen(chart: Any) -> Any:
    """`chart` for `st.altair_chart(..., width="stretch")`: only the WIDTH fits the column.

    Streamlit's theme asks Vega to fit the whole chart, axes included, into the container's
    width AND the spec's height, with labelOverlap on. The top axis and the title then eat
    into the rows, rows shrink below a wrapped label's lines, and Vega silently hides every
    other method name (seen in Chromium: tests/e2e/test_charts_fit_browser.py). Fitting
    the width only keeps each row as tall as its label; the page scrolls instead.
    """
    return chart.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))


GRID_WRAP_UNITS: Final = 18
"""Method names beside a grid of columns wrap narrower, leaving the columns room."""
GRID_LABEL_SIZE: Final = LABEL_SIZE - 8
COLUMN_LABEL_EXPR: Final = "split(replace(datum.value, /([-\\s])/g, '$1\\n'), '\\n')"
"""A column name broken after each space and hyphen ("Round-by-" / "round " / ...)."""

WRAP_UNITS: Final = 26
"""Longest axis-label line, in display units (a CJK character is 2, Latin 1): at 28 px that
is about 360 px, so bars keep most of a 786 px column (1280 px screen) in either language."""

_WIDE: Final = re.compile(r"[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]")
_TOKEN: Final = re.compile(
    r"[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]|[^\s\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]+\s*|\s+"
)
Y_LABEL_EXPR: Final = "split(datum.value, '\\n')"
"""Axis labels carry their line breaks as \\n; Vega draws an array as lines."""
LINE_HEIGHT: Final = LABEL_SIZE + 4


def _y_axis() -> alt.Axis:
    """A method-name axis whose wrapped names sit centred on their row: Vega puts a
    label's first line at the row's middle and hangs the rest below it (seen in Chromium,
    a three-line name ran into the next bar), so each label is lifted by half its extra
    lines."""
    return alt.Axis(
        labelExpr=Y_LABEL_EXPR,
        labelLineHeight=LINE_HEIGHT,
        # Vega-Lite evaluates these tests per label: one lift per count of extra lines.
        labelOffset=cast(
            Any,
            {
                "condition": [
                    {
                        "test": f"length(split(datum.value, '\\n')) == {n}",
                        "value": -(n - 1) * LINE_HEIGHT / 2,
                    }
                    for n in range(2, 9)
                ],
                "value": 0,
            },
        ),
    )


def display_units(text: str) -> int:
    return sum(2 if _WIDE.match(c) else 1 for c in text)


def wrap_label(text: str, units: int = WRAP_UNITS) -> str:
    """`text` broken into lines of at most `units` (between words, or between CJK
    characters), joined with \\n, so a long method name never crowds the bars out."""
    lines: list[str] = []
    line = ""
    for token in _TOKEN.findall(text):
        if line.strip() and display_units((line + token).rstrip()) > units:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
    if line.strip():
        lines.append(line.rstrip())
    return "\n".join(lines)


def _row_height(labels: Sequence[str]) -> float:
    lines = max((label.count("\n") + 1 for label in labels), default=1)
    # A CJK line's box is about 1.45 em tall in Chromium: rows leave room for it, or two
    # wrapped names' boxes touch (seen in the browser test at 28 px).
    return max(ROW_HEIGHT, lines * (LABEL_SIZE + 8) + 16)


def _ranked_label(row: ResultRow, label: str) -> str:
    return wrap_label(f"{place_text(row)}. {label}")


def _ranked_rows(result: TallyResult, labels: Mapping[MethodId, str]) -> list[dict[str, Any]]:
    return [
        {
            "rank": row.rank,
            "method": row.method,
            "label": labels.get(row.method, row.method),
            "place": place_text(row),
            "ranked_label": _ranked_label(row, labels.get(row.method, row.method)),
            "score": row.score,
            "is_tied": row.is_tied,
        }
        for row in result.rows()
    ]


def _bars(rows: list[dict[str, Any]], score_title: str, width: int) -> alt.LayerChart:
    order = [r["ranked_label"] for r in rows]
    base = alt.Chart({"values": rows}).encode(
        y=alt.Y("ranked_label:N", sort=order, title=None, axis=_y_axis()),
        x=alt.X("score:Q", title=score_title, axis=alt.Axis(format="d", tickMinStep=1)),
        tooltip=[
            alt.Tooltip("rank:Q"),
            alt.Tooltip("label:N"),
            alt.Tooltip("score:Q"),
        ],
    )
    row = _row_height(order)
    bars = base.mark_bar(color=BAR_COLOUR, height=ROW_HEIGHT * 0.7)
    text = base.mark_text(align="left", dx=10, fontSize=LABEL_SIZE).encode(text="score:Q")
    chart = (bars + text).properties(width=width, height=row * max(1, len(rows)))
    return cast(alt.LayerChart, chart)


# --- ranked bars --------------------------------------------------------------------------


def ranked_bars(
    result: TallyResult,
    labels: Mapping[MethodId, str],
    lang: str,
    *,
    font: str = DEFAULT_FONT,
    width: int = 1300,
) -> alt.LayerChart:
    """Horizontal bars best first: "1. label" on the axis, the score at each bar's end."""
    score_title = t(COUNTING_METHODS[result.counting].score_key, lang)
    chart = _bars(_ranked_rows(result, labels), score_title, width)
    return _configure(chart, font)  # type: ignore[no-any-return]


def ranked_table(
    result: TallyResult, labels: Mapping[MethodId, str], lang: str
) -> list[dict[str, Any]]:
    """The text alternative of `ranked_bars`: rank, method, score (localized headers)."""
    score_title = t(COUNTING_METHODS[result.counting].score_key, lang)
    return [
        {
            t("tally.table.rank", lang): r["place"],
            t("tally.table.method", lang): r["label"],
            score_title: r["score"],
        }
        for r in _ranked_rows(result, labels)
    ]


# --- places: how many put it 1st, 2nd, ... ------------------------------------------------


def _place_rows(
    counts: Mapping[MethodId, Sequence[int]],
    order: Sequence[MethodId],
    labels: Mapping[MethodId, str],
    lang: str,
) -> list[dict[str, Any]]:
    return [
        {
            "method": m,
            "label": labels.get(m, m),
            "axis_label": wrap_label(labels.get(m, m)),
            "place": place,
            "place_label": t("tally.chart.place_n", lang, n=place),
            "ballots": n,
        }
        for m in order
        for place, n in enumerate(counts[m], start=1)
    ]


def place_distribution(
    counts: Mapping[MethodId, Sequence[int]],
    order: Sequence[MethodId],
    labels: Mapping[MethodId, str],
    lang: str,
    *,
    font: str = DEFAULT_FONT,
    width: int = 1300,
) -> alt.Chart:
    """Stacked bars: for each method, how many ballots put it 1st, 2nd, ... K-th.

    `counts` comes from `tally.position_counts`; `order` is usually a result's `order`.
    """
    rows = _place_rows(counts, order, labels, lang)
    k = max((len(v) for v in counts.values()), default=1)
    place_labels = [t("tally.chart.place_n", lang, n=p) for p in range(1, k + 1)]
    colours = [PLACE_COLOURS[i % len(PLACE_COLOURS)] for i in range(k)]
    chart = (
        alt.Chart({"values": rows})
        .mark_bar()
        .encode(
            y=alt.Y(
                "axis_label:N",
                sort=[wrap_label(labels.get(m, m)) for m in order],
                title=None,
                axis=_y_axis(),
            ),
            x=alt.X(
                "sum(ballots):Q",
                title=t("tally.chart.ballots", lang),
                axis=alt.Axis(format="d", tickMinStep=1),
            ),
            color=alt.Color(
                "place_label:N",
                sort=place_labels,
                scale=alt.Scale(domain=place_labels, range=colours),
                title=t("tally.chart.place", lang),
                # Title above, three places a line: in one line "5th" was cut off
                # at the right edge of a 1280 px screen in Chinese.
                legend=alt.Legend(
                    orient="bottom",
                    direction="horizontal",
                    titleLimit=900,
                    titleOrient="top",
                    columns=3,
                ),
            ),
            order=alt.Order("place:Q", sort="ascending"),
            tooltip=[alt.Tooltip("label:N"), alt.Tooltip("place_label:N"), "ballots:Q"],
        )
        .properties(
            width=width,
            height=_row_height([wrap_label(labels.get(m, m)) for m in order]) * max(1, len(order)),
        )
    )
    return _configure(chart, font)  # type: ignore[no-any-return]


def place_table(
    counts: Mapping[MethodId, Sequence[int]],
    order: Sequence[MethodId],
    labels: Mapping[MethodId, str],
    lang: str,
) -> list[dict[str, Any]]:
    """The text alternative of `place_distribution`: a row per method, a column per place."""
    rows: list[dict[str, Any]] = []
    for m in order:
        row: dict[str, Any] = {t("tally.table.method", lang): labels.get(m, m)}
        for place, n in enumerate(counts[m], start=1):
            row[t("tally.chart.place_n", lang, n=place)] = n
        rows.append(row)
    return rows


# --- comparison of counting methods -------------------------------------------------------


def _comparison_rows(
    results: Mapping[CountingId, TallyResult], labels: Mapping[MethodId, str], lang: str
) -> list[dict[str, Any]]:
    return [
        {
            "counting": counting,
            "counting_name": t(COUNTING_METHODS[counting].name_key, lang),
            "method": row.method,
            "label": labels.get(row.method, row.method),
            "axis_label": wrap_label(labels.get(row.method, row.method), GRID_WRAP_UNITS),
            "rank": row.rank,
            "rank_text": f"{row.rank}=" if row.is_tied else str(row.rank),
        }
        for counting, result in results.items()
        for row in result.rows()
    ]


def method_comparison(
    results: Mapping[CountingId, TallyResult],
    labels: Mapping[MethodId, str],
    lang: str,
    *,
    order: Sequence[MethodId] | None = None,
    font: str = DEFAULT_FONT,
) -> alt.LayerChart:
    """Heatmap: each method's rank (the number is printed, "2=" for a tie) per counting method.

    Rows follow `order`, by default the first result's order (points, as registered).
    """
    rows = _comparison_rows(results, labels, lang)
    first = next(iter(results.values()))
    row_order = [
        wrap_label(labels.get(m, m), GRID_WRAP_UNITS)
        for m in (order if order is not None else first.order)
    ]
    col_order = [t(COUNTING_METHODS[c].name_key, lang) for c in results]
    n = len(first.order)
    base = alt.Chart({"values": rows}).encode(
        y=alt.Y("axis_label:N", sort=row_order, title=None, axis=_y_axis()),
        x=alt.X(
            "counting_name:N",
            sort=col_order,
            # No axis title: it sat on top of the middle column's label.
            title=None,
            # Five columns share what the names leave of a 786 px column (1280 px screen):
            # each count's name goes on lines at its spaces and hyphens, in a smaller size.
            # Below the grid: a name's further lines then run away from the cells (above
            # it they ran into them, and lifting them got them cut off at the top).
            axis=alt.Axis(
                orient="bottom",
                labelAngle=0,
                labelLimit=330,
                labelFontSize=GRID_LABEL_SIZE,
                labelExpr=COLUMN_LABEL_EXPR,
            ),
        ),
    )
    cells = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color(
            "rank:Q",
            scale=alt.Scale(scheme="blues", reverse=True, domain=[1, max(n, 2)]),
            legend=None,
        ),
        tooltip=["label:N", "counting_name:N", "rank_text:N"],
    )
    text = base.mark_text(fontSize=LABEL_SIZE, fontWeight="bold").encode(
        text="rank_text:N",
        # Light ranks sit on dark cells: white text there keeps the contrast.
        color=alt.condition(
            f"datum.rank <= {max(1, n // 2)}", alt.value("white"), alt.value("black")
        ),
    )
    chart = (cells + text).properties(
        width=340 * max(1, len(results)), height=_row_height(row_order) * max(1, n)
    )
    return _configure(chart, font)  # type: ignore[no-any-return]


def comparison_table(
    results: Mapping[CountingId, TallyResult],
    labels: Mapping[MethodId, str],
    lang: str,
    *,
    order: Sequence[MethodId] | None = None,
) -> list[dict[str, Any]]:
    """The text alternative of `method_comparison`: a row per method, a column per count."""
    first = next(iter(results.values()))
    rows: list[dict[str, Any]] = []
    for m in order if order is not None else first.order:
        row: dict[str, Any] = {t("tally.table.method", lang): labels.get(m, m)}
        for counting, result in results.items():
            tied = any(m in group and len(group) > 1 for _, group in result.ranks)
            rank = result.rank_of(m)
            row[t(COUNTING_METHODS[counting].name_key, lang)] = f"{rank}=" if tied else str(rank)
        rows.append(row)
    return rows


# --- per-role small multiples -------------------------------------------------------------


def _group_name(group: Group, role_labels: Mapping[Role, str], lang: str) -> str:
    if group.role is None:
        return t("tally.breakdown.other", lang)
    return role_labels.get(group.role, group.role)


def _group_title(group: Group, role_labels: Mapping[Role, str], lang: str) -> str:
    name = _group_name(group, role_labels, lang)
    return t("tally.chart.group_title", lang, group=name, count=group.ballot_count)


def role_small_multiples(
    breakdown: Breakdown,
    labels: Mapping[MethodId, str],
    lang: str,
    *,
    role_labels: Mapping[Role, str] | None = None,
    font: str = DEFAULT_FONT,
    columns: int = 2,
    width: int = 700,
) -> alt.ConcatChart:
    """One ranked-bar panel per group of the breakdown (only groups that passed k)."""
    role_labels = role_labels or {}
    score_title = t(COUNTING_METHODS[breakdown.counting].score_key, lang)
    panels = [
        _bars(_ranked_rows(g.result, labels), score_title, width).properties(
            title=_group_title(g, role_labels, lang)
        )
        for g in breakdown.groups
    ]
    if not panels:
        empty = alt.Chart({"values": [{"text": t("tally.breakdown.none_shown", lang)}]})
        panels = [empty.mark_text(fontSize=LABEL_SIZE).encode(text="text:N")]
    chart = alt.concat(*panels, columns=columns)
    return _configure(chart, font)  # type: ignore[no-any-return]


def role_table(
    breakdown: Breakdown,
    labels: Mapping[MethodId, str],
    lang: str,
    *,
    role_labels: Mapping[Role, str] | None = None,
) -> list[dict[str, Any]]:
    """The text alternative of `role_small_multiples`: group, ballots, rank, method, score."""
    role_labels = role_labels or {}
    score_title = t(COUNTING_METHODS[breakdown.counting].score_key, lang)
    return [
        {
            t("tally.table.group", lang): _group_name(g, role_labels, lang),
            t("tally.table.ballots", lang): g.ballot_count,
            t("tally.table.rank", lang): row.rank,
            t("tally.table.method", lang): labels.get(row.method, row.method),
            score_title: row.score,
        }
        for g in breakdown.groups
        for row in g.result.rows()
    ]


# --- role grid: each method's share of each group's points --------------------------------


def _share_rows(
    breakdown: Breakdown,
    order: Sequence[MethodId],
    labels: Mapping[MethodId, str],
    lang: str,
    role_labels: Mapping[Role, str],
) -> list[dict[str, Any]]:
    from core.breakdown import points_share

    return [
        {
            "method": m,
            "label": labels.get(m, m),
            "axis_label": wrap_label(labels.get(m, m)),
            "group": _group_title(g, role_labels, lang),
            # Two lines on the axis (name, then count), so neighbouring columns never overlap.
            "group_lines": _group_name(g, role_labels, lang)
            + "\n"
            + t("tally.chart.ballots_n", lang, count=g.ballot_count),
            "share": points_share(g.result, m),
        }
        for g in breakdown.groups
        for m in order
    ]


def role_share_grid(
    breakdown: Breakdown,
    order: Sequence[MethodId],
    labels: Mapping[MethodId, str],
    lang: str,
    *,
    role_labels: Mapping[Role, str] | None = None,
    font: str = DEFAULT_FONT,
    cell_width: int = 240,
) -> alt.LayerChart:
    """Methods (rows, the room's order) x groups (columns): each method's share (%) of the
    group's points as a shaded cell with its figure. One column per group keeps it as wide
    as the groups are many, not as the panels of small multiples were (2,456 px for five)."""
    rows = _share_rows(breakdown, order, labels, lang, role_labels or {})
    groups = list(dict.fromkeys(r["group_lines"] for r in rows))
    method_order = [wrap_label(labels.get(m, m)) for m in order]
    base = alt.Chart({"values": rows}).encode(
        y=alt.Y("axis_label:N", sort=method_order, title=None, axis=_y_axis()),
        x=alt.X(
            "group_lines:N",
            sort=groups,
            title=None,
            # Below the grid, name then count going down: above it, the lifted first line
            # was cut off at the chart's top edge (seen in Chromium).
            axis=alt.Axis(
                orient="bottom",
                labelAngle=0,
                labelLimit=cell_width - 10,
                labelExpr="split(datum.value, '\\n')",
                labelFontSize=LABEL_SIZE - 6,
            ),
        ),
        tooltip=[alt.Tooltip("group:N"), alt.Tooltip("label:N"), alt.Tooltip("share:Q")],
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "share:Q", scale=alt.Scale(scheme="blues", domain=[0, 50], clamp=True), legend=None
        )
    )
    text = base.mark_text(fontSize=LABEL_SIZE - 6).encode(
        text=alt.Text("share:Q", format=".1f"),
        color=alt.condition("datum.share > 30", alt.value("white"), alt.value("black")),
    )
    chart = (cells + text).properties(
        width=cell_width * max(1, len(groups)),
        # A full row per method: at 0.8 Vega hid every other wrapped name for lack of room.
        height=_row_height(method_order) * max(1, len(order)),
    )
    return _configure(chart, font)  # type: ignore[no-any-return]


def role_share_table(
    breakdown: Breakdown,
    order: Sequence[MethodId],
    labels: Mapping[MethodId, str],
    lang: str,
    *,
    role_labels: Mapping[Role, str] | None = None,
) -> list[dict[str, Any]]:
    """The text alternative of `role_share_grid`: one row per method, one column per group."""
    rows = _share_rows(breakdown, order, labels, lang, role_labels or {})
    table: dict[MethodId, dict[str, Any]] = {}
    for r in rows:
        table.setdefault(r["method"], {t("tally.table.method", lang): r["label"]})[r["group"]] = r[
            "share"
        ]
    return [table[m] for m in order]
