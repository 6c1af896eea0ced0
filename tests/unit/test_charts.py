"""core.charts_*: charts serialize, stay offline, and never show a suppressed role."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core import (
    charts_comparison,
    charts_places,
    charts_ranked,
    charts_roles,
    charts_style,
    fonts,
)
from core.breakdown import breakdown
from core.i18n import t
from core.tally.methods.points import points
from core.tally.profile import position_counts
from core.tally.registry import tally_all
from core.tally.result import TallyResult, place_text

METHODS = ["unrestricted_funding", "co_creation_fund", "action_research", "supportive_stance"]
LABELS = {
    "unrestricted_funding": "非限定性资金",
    "co_creation_fund": "共创基金",
    "action_research": "行动研究",
    "supportive_stance": "团队的支持态度",
}
BALLOTS = (
    [["unrestricted_funding", "co_creation_fund", "action_research"]] * 6
    + [["co_creation_fund", "action_research"]] * 4
    + [["action_research", "unrestricted_funding", "supportive_stance"]] * 3
)


def spec_text(chart: Any) -> str:
    spec = chart.to_dict()
    # The Vega-Lite schema id is an identifier that renderers never fetch; anything else
    # with a URL would be a remote resource.
    spec.pop("$schema", None)
    return json.dumps(spec, ensure_ascii=False)


@pytest.fixture
def role_breakdown() -> Any:
    votes = (
        [("funder", b) for b in BALLOTS[:5]]
        + [("grantee", b) for b in BALLOTS[5:11]]
        + [("secret-small-role", b) for b in BALLOTS[11:13]]
        # Three undeclared ballots bring what is not shown to k, so the two big roles stay.
        + [(None, b) for b in BALLOTS[:3]]
    )
    return breakdown(votes, METHODS, 3, k=5)


def every_chart(role_breakdown: Any, lang: str) -> list[Any]:
    results = tally_all(BALLOTS, METHODS, 3)
    counts = position_counts(BALLOTS, METHODS, 3)
    return [
        charts_ranked.ranked_bars(results["points"], LABELS, lang),
        charts_places.place_distribution(counts, results["points"].order, LABELS, lang),
        charts_comparison.method_comparison(results, LABELS, lang),
        charts_roles.role_small_multiples(role_breakdown, LABELS, lang),
    ]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_chart_serializes_with_inline_data_and_no_urls(
    role_breakdown: Any, lang: str
) -> None:
    for chart in every_chart(role_breakdown, lang):
        text = spec_text(chart)
        assert "http" not in text and '"url"' not in text
        assert "Noto Sans SC" in text


def test_a_suppressed_role_never_appears_in_any_chart(role_breakdown: Any) -> None:
    assert role_breakdown.roles == ("funder", "grantee")
    for lang in ("zh", "en"):
        chart = charts_roles.role_small_multiples(role_breakdown, LABELS, lang)
        assert "secret-small-role" not in spec_text(chart)
        table = charts_roles.role_table(role_breakdown, LABELS, lang)
        assert "secret-small-role" not in json.dumps(table, ensure_ascii=False)
        groups = {row[t("tally.table.group", lang)] for row in table}
        assert groups == {"funder", "grantee", t("tally.breakdown.other", lang)}


def test_ranked_bars_show_rank_label_and_points_in_large_type() -> None:
    result = points(BALLOTS, METHODS, 3)
    spec = charts_ranked.ranked_bars(result, LABELS, "zh").to_dict()
    text = json.dumps(spec, ensure_ascii=False)
    first = result.rows()[0]
    assert f"{place_text(first)}. {LABELS[first.method]}" in text
    assert spec["config"]["axis"]["labelFontSize"] >= 28
    assert t("tally.method.points.score", "zh") in text


def test_the_ranked_table_holds_the_same_figures_as_the_chart() -> None:
    result = points(BALLOTS, METHODS, 3)
    table = charts_ranked.ranked_table(result, LABELS, "en")
    assert [row["Rank"] for row in table] == [place_text(r) for r in result.rows()]
    assert [row["Points"] for row in table] == [r.score for r in result.rows()]
    assert [row["Method"] for row in table] == [LABELS[m] for m in result.order]


def test_the_place_table_counts_each_place() -> None:
    counts = position_counts(BALLOTS, METHODS, 3)
    table = charts_places.place_table(counts, METHODS, LABELS, "en")
    assert table[0] == {"Method": "非限定性资金", "#1": 6, "#2": 3, "#3": 0}


def test_the_comparison_table_marks_tied_ranks() -> None:
    results = tally_all([["a"], ["b"]], ["a", "b", "c"], 1)
    table = charts_comparison.comparison_table(results, {}, "en")
    assert table[0]["Points"] == "1="
    assert table[2]["Points"] == "3"


def test_charts_use_the_colour_blind_safe_palette() -> None:
    counts = position_counts(BALLOTS, METHODS, 3)
    spec = charts_places.place_distribution(counts, METHODS, LABELS, "en").to_dict()
    assert spec["encoding"]["color"]["scale"]["range"] == list(charts_style.OKABE_ITO[:3])


def test_a_breakdown_with_no_group_shown_still_draws_a_notice() -> None:
    empty = breakdown([("tiny", ["a"])] * 2, ["a", "b"], 1, k=5)
    chart = charts_roles.role_small_multiples(empty, {}, "en")
    assert t("tally.breakdown.none_shown", "en") in spec_text(chart)
    assert charts_roles.role_table(empty, {}, "en") == []


def test_a_twelve_place_ballot_gets_twelve_distinct_colours() -> None:
    # Issue 11: colours repeated beyond 8 places.
    from core.charts_places import place_distribution
    from core.charts_style import PLACE_COLOURS

    methods = [f"m{i}" for i in range(12)]
    counts = {m: tuple(range(12)) for m in methods}
    spec = place_distribution(counts, methods, {m: m for m in methods}, "en").to_dict()
    colours = spec["encoding"]["color"]["scale"]["range"]
    assert len(colours) == 12 == len(set(colours))
    assert len(set(PLACE_COLOURS)) == len(PLACE_COLOURS) >= 12


def _scene_items(node: object, role: str) -> list[dict]:
    """Every item of every mark with `role` in a Vega scenegraph."""
    found: list[dict] = []
    if isinstance(node, dict):
        if node.get("role") == role and "items" in node:
            found += node["items"]
        for value in node.values():
            found += _scene_items(value, role)
    elif isinstance(node, list):
        for value in node:
            found += _scene_items(value, role)
    return found


LONG_NAMES = {
    "en": "Tiered capacity building with big, medium and small stoves, number {i}",
    "zh": "分层能力建设（大灶、中灶、小灶）与同伴互访计划第{i}期",
}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("n_methods", [8, 12])
@pytest.mark.parametrize("column", [786, 1400])  # the results column at 1280 and 1920 px
def test_the_ranked_chart_keeps_its_bars_visible_with_long_names_at_projector_widths(
    lang: str, n_methods: int, column: int
) -> None:
    # Issue 11: at 1280 px in English the main chart showed no bars: one-line labels took
    # the whole width. Laid out as Streamlit does (width = the column, autosize fit).
    import vl_convert

    from core.charts_ranked import ranked_bars
    from core.charts_style import WRAP_UNITS, display_units
    from core.tally.methods.points import points

    methods = [f"m{i}" for i in range(n_methods)]
    labels = {m: LONG_NAMES[lang].format(i=i) for i, m in enumerate(methods)}
    ballots = [methods[i : i + 5] for i in range(n_methods - 4)] * 3 + [[methods[-1]]]
    result = points(ballots, methods, 5)
    spec = ranked_bars(result, labels, lang, font=fonts.CHART_FONT).to_dict()
    spec["width"] = column
    spec["autosize"] = {"type": "fit-x", "contains": "padding"}
    fonts.register_with_vl_convert()
    scene = vl_convert.vegalite_to_scenegraph(spec)
    assert scene["width"] <= column
    plot = _scene_items(scene, "frame")[0]["width"]
    assert plot >= 0.4 * column, f"bars get only {plot} of {column} px"
    bars = [b for b in _scene_items(scene, "mark") if "width" in b and "height" in b]
    assert len(bars) == n_methods
    assert all(b["width"] >= 1 for b in bars), "a bar is missing"
    for label in _scene_items(scene, "axis-label"):
        lines = label["text"] if isinstance(label["text"], list) else [label["text"]]
        assert all(display_units(line) <= WRAP_UNITS for line in lines), lines


def test_tied_places_read_the_same_on_every_screen() -> None:
    """Issue 12: the projector showed 5, 5, 7, 7 and phones 5, 6, 7, 8 — one rule now."""
    result = TallyResult(
        counting="points",
        ranks=((1, ("a",)), (2, ("b", "c")), (4, ("d",))),
        scores={"a": 9, "b": 5, "c": 5, "d": 1},
        ballot_count=3,
    )
    assert [place_text(r) for r in result.rows()] == ["1", "2=", "2=", "4"]
    table = charts_ranked.ranked_table(result, {m: m for m in "abcd"}, "en")
    assert [row["Rank"] for row in table] == ["1", "2=", "2=", "4"]
