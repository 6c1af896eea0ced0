"""Ranked bars: the methods best first, "1. label" on the axis, each score at its bar's end.

Every text comes from the caller (`labels`) or the locale files; data are inline only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import altair as alt

from core.charts_style import (
    BAR_COLOUR,
    DEFAULT_FONT,
    LABEL_SIZE,
    ROW_HEIGHT,
    configure,
    row_height,
    wrap_label,
    y_axis,
)
from core.domain import MethodId
from core.i18n import t
from core.tally.registry import COUNTING_METHODS
from core.tally.result import ResultRow, TallyResult, place_text


def _ranked_label(row: ResultRow, label: str) -> str:
    return wrap_label(f"{place_text(row)}. {label}")


def ranked_rows(result: TallyResult, labels: Mapping[MethodId, str]) -> list[dict[str, Any]]:
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


def bar_layer(rows: list[dict[str, Any]], score_title: str, width: int) -> alt.LayerChart:
    order = [r["ranked_label"] for r in rows]
    base = alt.Chart({"values": rows}).encode(
        y=alt.Y("ranked_label:N", sort=order, title=None, axis=y_axis()),
        x=alt.X("score:Q", title=score_title, axis=alt.Axis(format="d", tickMinStep=1)),
        tooltip=[
            alt.Tooltip("rank:Q"),
            alt.Tooltip("label:N"),
            alt.Tooltip("score:Q"),
        ],
    )
    row = row_height(order)
    bars = base.mark_bar(color=BAR_COLOUR, height=ROW_HEIGHT * 0.7)
    text = base.mark_text(align="left", dx=10, fontSize=LABEL_SIZE).encode(text="score:Q")
    chart = (bars + text).properties(width=width, height=row * max(1, len(rows)))
    return cast(alt.LayerChart, chart)


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
    chart = bar_layer(ranked_rows(result, labels), score_title, width)
    return configure(chart, font)  # type: ignore[no-any-return]


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
        for r in ranked_rows(result, labels)
    ]
