"""Places: for each method, how many ballots put it 1st, 2nd, ... K-th (stacked bars).

Every text comes from the caller (`labels`) or the locale files; data are inline only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

from core.charts_style import DEFAULT_FONT, PLACE_COLOURS, configure, row_height, wrap_label, y_axis
from core.domain import MethodId
from core.i18n import t


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
                axis=y_axis(),
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
            height=row_height([wrap_label(labels.get(m, m)) for m in order]) * max(1, len(order)),
        )
    )
    return configure(chart, font)  # type: ignore[no-any-return]


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
