"""core.robustness: do the counting methods agree, and by how much does each place lead?"""

from __future__ import annotations

from core.i18n import Message, t
from core.robustness import agreement, at_place, margins, render, summarize
from core.tally.methods.instant_runoff import instant_runoff_with_explanation
from core.tally.methods.points import points
from core.tally.pairwise import pairwise
from core.tally.registry import COUNTING_METHODS, tally_all

METHODS = ["a", "b", "c", "d"]
LABELS = {"a": "甲", "b": "乙", "c": "丙", "d": "丁"}


def test_all_methods_agreeing_on_the_top_places_say_so_once() -> None:
    ballots = [["a", "b", "c"]] * 3 + [["a", "b"]] * 3 + [["a"]] * 2 + [["b", "a"]]
    results = tally_all(ballots, METHODS, 3)
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


def test_a_disputed_place_lists_each_answer_once_with_the_counting_methods_giving_it() -> None:
    # Points: a 3*3 + 2*2 = 13... a is first by points; c has the most first choices.
    ballots = [["a", "b"]] * 3 + [["b", "a"]] * 2 + [["c"]] * 4
    results = tally_all(ballots, METHODS, 3)
    assert results["points"].winners == ("a",)
    assert results["first_choices"].winners == ("c",)
    split = [m for m in agreement(results, top=1) if m.key == "tally.robustness.place_split"]
    assert len(split) == 1
    text = render(split[0], "en", LABELS)
    assert text.startswith("Who holds 1st place depends on the counting method — Points")
    assert "First choices" in text and "丙" in text
    # Every counting method is named exactly once.
    for counting in results:
        assert text.count(t(COUNTING_METHODS[counting].name_key, "en")) == 1


def test_margins_say_who_leads_whom_by_how_many_points_and_name_dead_heats() -> None:
    result = points([["a", "b"], ["a", "c"], ["b"], ["c"]], METHODS, 2)
    # a 4, b 3, c 3, d 0
    messages = margins(result, top=3)
    assert [render(m, "en", LABELS) for m in messages] == [
        "甲 leads 乙, 丙 by 1 point.",
        "Dead heat for 2nd place: 乙, 丙, 3 points each.",
        "乙, 丙 (tied) lead 丁 by 3 points.",
    ]
    assert render(messages[0], "zh", LABELS) == "甲领先乙、丙1分。"


def test_a_place_inside_a_tie_is_held_by_every_tied_method() -> None:
    result = points([["a", "b"], ["b", "a"], ["c"]], METHODS, 2)
    assert at_place(result, 1) == at_place(result, 2) == ("a", "b")
    assert at_place(result, 3) == ("c",)


def test_every_robustness_message_renders_in_both_languages_without_leftover_keys() -> None:
    ballots = [["a", "b", "c"]] * 3 + [["b", "c", "a"]] * 2 + [["c", "a"]] * 2 + [["d"]]
    results = tally_all(ballots, METHODS, 3)
    messages = summarize(results, top=3)
    assert messages
    for lang in ("zh", "en"):
        for message in messages:
            text = render(message, lang, LABELS)
            assert not text.startswith("tally.") and "{" not in text


def test_irv_round_messages_render_with_method_labels() -> None:
    _, explanation = instant_runoff_with_explanation([["a"], ["a"], ["b", "a"], ["c"]], METHODS, 2)
    texts = [render(m, "en", LABELS) for m in explanation.messages()]
    assert texts[-1].startswith("Tie rule:")
    assert any("丁" in text for text in texts)
    assert all("{" not in text for text in texts)


def test_a_place_decided_by_one_method_and_tied_in_another_never_reads_as_a_contradiction() -> None:
    # Issue 11's sample: "Points and First choices disagree on 3rd place: Action research vs
    # Action research, Mentor accompaniment (tied)". Now each answer appears once.
    message = Message(
        "tally.robustness.place_split",
        {
            "place": 3,
            "split": ((("points",), ("research",)), (("first_choices",), ("research", "mentor"))),
        },
    )
    labels = {"mentor": "Mentor accompaniment", "research": "Action research"}
    assert render(message, "en", labels) == (
        "Who holds 3rd place depends on the counting method — Points: Action research; "
        "First choices: Action research, Mentor accompaniment, level."
    )
    zh = render(message, "zh", {"mentor": "导师陪伴", "research": "行动研究"})
    assert zh == "第3名是谁，取决于计票方法——积分：行动研究；第一选择：行动研究、导师陪伴并列。"


def test_a_close_place_is_called_close_with_head_to_head_counts_and_who_reverses_it() -> None:
    # Issue 11's sample: 2nd place 123 vs 122 points, 23:23 head to head, IRV reverses it.
    # Here: a 1st; b and c one point apart on points, level head to head, and first
    # choices (c has more) put c ahead.
    ballots = [["a", "b"]] * 4 + [["a", "b", "c"], ["c"], ["c", "a", "b"], ["c", "b"]]
    ballots += [["c", "b", "a"]] * 2
    results = tally_all(ballots, METHODS, 3)
    points = results["points"]
    assert points.order[:3] == ("a", "b", "c")
    assert points.scores["b"] - points.scores["c"] == 1
    pw = pairwise(ballots, METHODS, 3)
    assert pw.prefer[1][2] == pw.prefer[2][1]
    texts = [
        render(m, "en", LABELS) for m in summarize(results, top=3, close_within=3, pairwise=pw)
    ]
    close = texts.index(
        f"2nd place is close: 乙 has {points.scores['b']}, 丙 {points.scores['c']} points."
    )
    level = pw.prefer[1][2]
    assert texts[close + 1] == (
        f"Head to head it is level too: {level} ballots rank 乙 above 丙 and {level} the other way."
    )
    assert texts[close + 2].startswith("Under First choices")
    assert texts[close + 2].endswith("丙 comes ahead of 乙.")
    for lang in ("zh", "en"):
        for m in summarize(results, top=3, close_within=3, pairwise=pw):
            assert "{" not in render(m, lang, LABELS)
