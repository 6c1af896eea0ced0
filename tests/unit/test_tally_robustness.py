"""core.robustness: do the counting methods agree, and by how much does each place lead?"""

from __future__ import annotations

from core import tally
from core.i18n import Message
from core.robustness import agreement, at_place, margins, render, summarize

METHODS = ["a", "b", "c", "d"]
LABELS = {"a": "甲", "b": "乙", "c": "丙", "d": "丁"}


def test_all_methods_agreeing_on_the_top_places_say_so_once() -> None:
    ballots = [["a", "b", "c"]] * 3 + [["a", "b"]] * 3 + [["a"]] * 2 + [["b", "a"]]
    results = tally.tally_all(ballots, METHODS, 3)
    messages = agreement(results, top=2)
    assert messages == [
        Message("tally.robustness.all_agree_order", {"count": 5, "top": 2, "methods": ("a", "b")})
    ]
    assert render(messages[0], "en", LABELS) == (
        "All 5 counting methods give the same top 2, in the same order: 甲, 乙."
    )
    assert (
        render(messages[0], "zh", LABELS) == "全部5种计票方法的前2名完全相同，顺序也一致：甲、乙。"
    )


def test_a_disagreement_names_both_counting_methods_and_the_place() -> None:
    # Points: a 3*3 + 2*2 = 13... a is first by points; c has the most first choices.
    ballots = [["a", "b"]] * 3 + [["b", "a"]] * 2 + [["c"]] * 4
    results = tally.tally_all(ballots, METHODS, 3)
    assert results["points"].winners == ("a",)
    assert results["first_choices"].winners == ("c",)
    messages = agreement(results, top=1)
    disagreement = Message(
        "tally.robustness.disagree_place",
        {
            "counting_a": "points",
            "counting_b": "first_choices",
            "place": 1,
            "methods_a": ("a",),
            "methods_b": ("c",),
        },
    )
    assert disagreement in messages
    assert render(disagreement, "en", LABELS) == (
        "Points and First choices disagree on 1st place: 甲 vs 丙."
    )


def test_margins_say_who_leads_whom_by_how_many_points_and_name_ties() -> None:
    result = tally.points([["a", "b"], ["a", "c"], ["b"], ["c"]], METHODS, 2)
    # a 4, b 3, c 3, d 0
    messages = margins(result, top=3)
    assert [render(m, "en", LABELS) for m in messages] == [
        "甲 leads 乙, 丙 by 1 point.",
        "乙, 丙 are tied on 3 points.",
        "乙, 丙 (tied) lead 丁 by 3 points.",
    ]
    assert render(messages[0], "zh", LABELS) == "甲领先乙、丙1分。"


def test_a_place_inside_a_tie_is_held_by_every_tied_method() -> None:
    result = tally.points([["a", "b"], ["b", "a"], ["c"]], METHODS, 2)
    assert at_place(result, 1) == at_place(result, 2) == ("a", "b")
    assert at_place(result, 3) == ("c",)


def test_every_robustness_message_renders_in_both_languages_without_leftover_keys() -> None:
    ballots = [["a", "b", "c"]] * 3 + [["b", "c", "a"]] * 2 + [["c", "a"]] * 2 + [["d"]]
    results = tally.tally_all(ballots, METHODS, 3)
    messages = summarize(results, top=3)
    assert messages
    for lang in ("zh", "en"):
        for message in messages:
            text = render(message, lang, LABELS)
            assert not text.startswith("tally.") and "{" not in text


def test_irv_round_messages_render_with_method_labels() -> None:
    _, explanation = tally.instant_runoff_with_explanation(
        [["a"], ["a"], ["b", "a"], ["c"]], METHODS, 2
    )
    texts = [render(m, "en", LABELS) for m in explanation.messages()]
    assert texts[-1].startswith("Tie rule:")
    assert any("丁" in text for text in texts)
    assert all("{" not in text for text in texts)


def test_a_place_decided_by_one_method_and_tied_in_another_says_tied() -> None:
    from core.i18n import Message
    from core.robustness import render

    message = Message(
        "tally.robustness.disagree_place",
        {
            "counting_a": "points",
            "counting_b": "schulze",
            "place": 2,
            "methods_a": ("mentor",),
            "methods_b": ("research", "mentor"),
        },
    )
    labels = {"mentor": "导师陪伴", "research": "行动研究"}
    assert render(message, "zh", labels).endswith("导师陪伴 对 行动研究、导师陪伴（并列）。")
    assert "Mentor vs Research, Mentor (tied)" in render(
        message, "en", {"mentor": "Mentor", "research": "Research"}
    )
