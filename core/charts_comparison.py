"""Comparison of counting methods: each method's rank under every count, as a heatmap.

Every text comes from the caller (`labels`) or the locale files; data are inline only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

from core.charts_style import (
    COLUMN_LABEL_EXPR,
    DEFAULT_FONT,
    GRID_LABEL_SIZE,
    GRID_WRAP_UNITS,
    LABEL_SIZE,
    configure,
    grid_axes,
    row_height,
    wrap_label,
)
from core.domain import MethodId
from core.i18n import t
from core.tally.profile import CountingId
from core.tally.registry import COUNTING_METHODS
from core.tally.result import TallyResult


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
    # Five columns share what the names leave of a 786 px column (1280 px screen): each
    # count's name goes on lines at its spaces and hyphens, in a smaller size.
    base = alt.Chart({"values": rows}).encode(
        **grid_axes(
            "axis_label:N",
            row_order,
            "counting_name:N",
            col_order,
            label_limit=330,
            label_size=GRID_LABEL_SIZE,
            label_expr=COLUMN_LABEL_EXPR,
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
        width=340 * max(1, len(results)), height=row_height(row_order) * max(1, n)
    )
    return configure(chart, font)  # type: ignore[no-any-return]


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
