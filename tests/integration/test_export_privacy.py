"""The pieces of an export that guard anonymity, tested on their own: the k-safe role
breakdown (no differencing attack) and the chart drawn with the shipped Chinese font."""

from __future__ import annotations

import io
from collections import Counter
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops

from core.export_collect import k_safe_breakdown
from core.export_formats.export_charts import chart_png
from core.tally.methods.points import points

METHODS = ("a", "b", "c", "d")
RANKING = ("a", "b", "c")


def _ballots(sizes: dict[str | None, int]) -> list[tuple[str | None, tuple[str, ...]]]:
    return [(role, RANKING) for role, n in sizes.items() for _ in range(n)]


def _complement(ballots: list[tuple[str | None, tuple[str, ...]]], k: int) -> int:
    shown = k_safe_breakdown(ballots, METHODS, 3, k=k)
    return len(ballots) - sum(g.ballot_count for g in shown.groups)


def test_a_small_remainder_pulls_the_smallest_shown_role_into_other() -> None:
    # Without merging, partner 6 + trainee 4 are shown and 2 ballots are withheld: the
    # total (12) minus the shown groups would give those 2 ballots away.
    shown = k_safe_breakdown(
        _ballots({"partner": 6, "trainee": 4, "mentor": 1, None: 1}), METHODS, 3, k=3
    )
    assert [(g.role, g.ballot_count) for g in shown.groups] == [("partner", 6), (None, 6)]


def test_when_the_remainder_is_already_safe_no_role_is_merged() -> None:
    shown = k_safe_breakdown(
        _ballots({"partner": 6, "trainee": 4, "mentor": 1, None: 2}), METHODS, 3, k=3
    )
    assert [(g.role, g.ballot_count) for g in shown.groups] == [
        ("partner", 6),
        ("trainee", 4),
        (None, 3),
    ]
    exact = k_safe_breakdown(_ballots({"partner": 5, "trainee": 5}), METHODS, 3, k=5)
    assert [g.role for g in exact.groups] == ["partner", "trainee"]


def test_equal_smallest_roles_are_merged_alphabetically_never_by_arrival() -> None:
    sizes = {"zeta": 5, "alpha": 5, "beta": 7, None: 1}
    forward = k_safe_breakdown(_ballots(sizes), METHODS, 3, k=5)
    backward = k_safe_breakdown(list(reversed(_ballots(sizes))), METHODS, 3, k=5)
    assert (
        [g.role for g in forward.groups]
        == [g.role for g in backward.groups]
        == [
            "beta",
            "zeta",
            None,
        ]
    )


def test_a_room_smaller_than_k_shows_no_group_at_all() -> None:
    assert k_safe_breakdown(_ballots({"partner": 1, None: 1}), METHODS, 3, k=3).groups == ()


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.dictionaries(
        st.sampled_from([None, "p", "q", "r", "s"]), st.integers(0, 12), max_size=5
    ),
    k=st.integers(3, 6),
)
def test_no_group_and_no_remainder_is_ever_between_1_and_k_minus_1(
    sizes: dict[str | None, int], k: int
) -> None:
    ballots = _ballots(sizes)
    if not ballots:
        return
    shown = k_safe_breakdown(ballots, METHODS, 3, k=k)
    assert all(g.ballot_count >= k for g in shown.groups)
    remainder = len(ballots) - sum(g.ballot_count for g in shown.groups)
    assert remainder == 0 or remainder >= k or not shown.groups
    # A role shown by name has all of its ballots in its group, and only those.
    declared = Counter(role for role, _ in ballots)
    for g in shown.groups:
        if g.role is not None:
            assert g.ballot_count == declared[g.role] >= k


def test_every_small_combination_up_to_twelve_ballots_resists_differencing() -> None:
    for p, q, r, none in product(range(7), range(5), range(4), range(3)):
        ballots = _ballots({"p": p, "q": q, "r": r, None: none})
        if ballots:
            remainder = _complement(ballots, 3)
            assert remainder == 0 or remainder >= 3 or remainder == len(ballots)


# --- the chart ------------------------------------------------------------------------------


def _png(labels: dict[str, str]) -> Image.Image:
    result = points([("a", "b", "c"), ("b", "a")], METHODS, 3)
    return Image.open(io.BytesIO(chart_png(result, labels, "zh"))).convert("RGB")


def test_chinese_labels_render_in_the_exported_chart_png() -> None:
    base = {"a": "资助资助", "b": "导师", "c": "年会", "d": "网络"}
    first, second = _png(base), _png(dict(base, a="行动研究"))
    assert first.size == second.size
    assert ImageChops.difference(first, second).getbbox() is not None


def test_a_label_the_font_cannot_draw_stops_the_chart_instead_of_drawing_boxes() -> None:
    from core.fonts import MissingGlyphs

    base = {"a": "资助资助", "b": "导师", "c": "年会", "d": "网络"}
    with pytest.raises(MissingGlyphs):
        _png(dict(base, a="\u0378\u0379\u037a\u037b"))
