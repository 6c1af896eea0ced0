"""Charts by role: per-group small multiples, and each method's share of each group's points.

Built from a `Breakdown`, a chart can only show roles that passed the k threshold. Every
text comes from the caller (`labels`, `role_labels`) or the locale files; data are inline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import altair as alt

from core.breakdown import Breakdown, Group, Role, points_share
from core.charts_ranked import bar_layer, ranked_rows
from core.charts_style import (
    DEFAULT_FONT,
    LABEL_SIZE,
    Y_LABEL_EXPR,
    configure,
    grid_axes,
    row_height,
    wrap_label,
)
from core.domain import MethodId
from core.i18n import t
from core.tally.registry import COUNTING_METHODS


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
        bar_layer(ranked_rows(g.result, labels), score_title, width).properties(
            title=_group_title(g, role_labels, lang)
        )
        for g in breakdown.groups
    ]
    if not panels:
        empty = alt.Chart({"values": [{"text": t("tally.breakdown.none_shown", lang)}]})
        panels = [empty.mark_text(fontSize=LABEL_SIZE).encode(text="text:N")]
    chart = alt.concat(*panels, columns=columns)
    return configure(chart, font)  # type: ignore[no-any-return]


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


@dataclass(frozen=True)
class RoleShares:
    """Each method's share (%) of each group's points: one value, drawn as a grid
    (`role_share_grid`) or given as its text alternative (`role_share_table`)."""

    breakdown: Breakdown
    order: Sequence[MethodId]
    labels: Mapping[MethodId, str]
    lang: str
    role_labels: Mapping[Role, str] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        labels, lang = self.labels, self.lang
        return [
            {
                "method": m,
                "label": labels.get(m, m),
                "axis_label": wrap_label(labels.get(m, m)),
                "group": _group_title(g, self.role_labels, lang),
                # Two lines on the axis (name, then count), so neighbouring columns never overlap.
                "group_lines": _group_name(g, self.role_labels, lang)
                + "\n"
                + t("tally.chart.ballots_n", lang, count=g.ballot_count),
                "share": points_share(g.result, m),
            }
            for g in self.breakdown.groups
            for m in self.order
        ]


def role_share_grid(
    shares: RoleShares,
    *,
    font: str = DEFAULT_FONT,
    cell_width: int = 240,
) -> alt.LayerChart:
    """Methods (rows, the room's order) x groups (columns): each method's share (%) of the
    group's points as a shaded cell with its figure. One column per group keeps it as wide
    as the groups are many, not as the panels of small multiples were (2,456 px for five)."""
    rows = shares.rows()
    groups = list(dict.fromkeys(r["group_lines"] for r in rows))
    order = shares.order
    method_order = [wrap_label(shares.labels.get(m, m)) for m in order]
    base = alt.Chart({"values": rows}).encode(
        # Each column's name, then its ballot count, going down.
        **grid_axes(
            "axis_label:N",
            method_order,
            "group_lines:N",
            groups,
            label_limit=cell_width - 10,
            label_size=LABEL_SIZE - 6,
            label_expr=Y_LABEL_EXPR,
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
        height=row_height(method_order) * max(1, len(order)),
    )
    return configure(chart, font)  # type: ignore[no-any-return]


def role_share_table(shares: RoleShares) -> list[dict[str, Any]]:
    """The text alternative of `role_share_grid`: one row per method, one column per group."""
    rows, order, lang = shares.rows(), shares.order, shares.lang
    table: dict[MethodId, dict[str, Any]] = {}
    for r in rows:
        table.setdefault(r["method"], {t("tally.table.method", lang): r["label"]})[r["group"]] = r[
            "share"
        ]
    return [table[m] for m in order]
