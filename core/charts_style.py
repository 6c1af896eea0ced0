"""What every chart shares: size for a projector, colour-blind-safe palette, label wrapping.

Charts are sized for a projector at 1920x1080 read from the back of a room (28px labels),
use the Okabe-Ito colour-blind-safe palette and take every text from the caller (`labels`,
already localized) or from the locale files (`t`). Data are always inline: a chart must
never reference a URL, load remote data or name a remote font. The chart families live in
`core.charts_ranked`, `core.charts_places`, `core.charts_comparison` and `core.charts_roles`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final, cast

import altair as alt

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


def configure(chart: Any, font: str) -> Any:
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


def y_axis() -> alt.Axis:
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


def grid_axes(
    rows: str,
    row_order: Sequence[str],
    columns: str,
    column_order: Sequence[str],
    *,
    label_limit: int,
    label_size: int,
    label_expr: str,
) -> dict[str, Any]:
    """The `y` and `x` encodings of a grid of cells: method names down the side (`y_axis`),
    untitled, and column names under the grid. Below it, a column name's further lines run
    away from the cells: above it they ran into them, and lifting them got the first line
    cut off at the chart's top edge (seen in Chromium)."""
    return {
        "y": alt.Y(rows, sort=list(row_order), title=None, axis=y_axis()),
        "x": alt.X(
            columns,
            sort=list(column_order),
            # No axis title: it sat on top of the middle column's label.
            title=None,
            axis=alt.Axis(
                orient="bottom",
                labelAngle=0,
                labelLimit=label_limit,
                labelFontSize=label_size,
                labelExpr=label_expr,
            ),
        ),
    }


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


def row_height(labels: Sequence[str]) -> float:
    lines = max((label.count("\n") + 1 for label in labels), default=1)
    # A CJK line's box is about 1.45 em tall in Chromium: rows leave room for it, or two
    # wrapped names' boxes touch (seen in the browser test at 28 px).
    return max(ROW_HEIGHT, lines * (LABEL_SIZE + 8) + 16)
