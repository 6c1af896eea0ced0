"""Do the counting methods agree? Plain sentences for the facilitator screen and the report.

What matters to a reader is said first and never contradicts itself: whether every counting
method gives the same top places; for a disputed place, each distinct answer once with the
counting methods that give it; dead heats (ties) and close places (a lead no bigger than one
first choice is worth) named as such, with the head-to-head counts behind them and the
counting methods that reverse them.

Everything returned is a `Message` whose params hold method ids, counting ids and numbers;
`render` turns one into text for a language and a set of (already localized) method
labels. This module never decides a ranking itself: it only compares `TallyResult`s.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, Final

from core.domain import MethodId
from core.i18n import Message, catalogue, normalize_language, t
from core.tally.pairwise import Pairwise
from core.tally.profile import CountingId
from core.tally.registry import COUNTING_METHODS, DEFAULT_COUNTING
from core.tally.result import TallyResult

# Param names `render` knows how to localize; every tally message sticks to them.
METHOD_PARAMS: Final = frozenset(
    {"method", "methods", "methods_a", "methods_b", "leader", "runner_up"}
)
COUNTING_PARAMS: Final = frozenset({"counting", "counting_a", "counting_b", "countings"})
TIE_AWARE_PARAMS: Final = frozenset({"methods_a", "methods_b"})


def at_place(result: TallyResult, place: int) -> tuple[MethodId, ...]:
    """The methods occupying `place` (1-based); several when a tie spans it."""
    for rank, group in result.ranks:
        if rank <= place < rank + len(group):
            return group
    return ()


def _top_set(result: TallyResult, top: int) -> frozenset[MethodId] | None:
    """The methods in the top `top`, or None when a tie straddles the cut."""
    chosen = [m for rank, group in result.ranks if rank <= top for m in group]
    return frozenset(chosen) if len(chosen) == top else None


def _place_split(
    results: Mapping[CountingId, TallyResult], place: int, reference: CountingId
) -> Message | None:
    """Who holds `place` under each counting method, grouped; None when they all agree."""
    by_holder: dict[tuple[MethodId, ...], list[CountingId]] = {}
    for counting in (reference, *(c for c in results if c != reference)):
        by_holder.setdefault(at_place(results[counting], place), []).append(counting)
    if len(by_holder) == 1:
        return None
    split = tuple((tuple(countings), holder) for holder, countings in by_holder.items())
    return Message("tally.robustness.place_split", {"place": place, "split": split})


def agreement(
    results: Mapping[CountingId, TallyResult],
    *,
    top: int = 3,
    reference: CountingId = DEFAULT_COUNTING,
) -> list[Message]:
    """Whether all counting methods agree on the top places; where not, who holds each
    disputed place under which counting method.

    A disputed place is one message listing every distinct answer once, with the counting
    methods that give it ("3rd place — Points: A; First choices: A and B, level"), so a
    method never appears "against itself" as in a pairwise "A vs A, B (tied)".
    """
    if reference not in results:
        raise ValueError(f"reference counting {reference!r} is missing")
    ref = results[reference]
    top = min(top, len(ref.order))
    if top < 1:
        return []
    count = len(results)
    ref_order = ref.order[:top]
    ref_set = _top_set(ref, top)
    out: list[Message] = []
    if ref_set is not None and all(_top_set(r, top) == ref_set for r in results.values()):
        same_order = all(
            all(at_place(r, p) == at_place(ref, p) for p in range(1, top + 1))
            for r in results.values()
        )
        key = "tally.robustness.all_agree_order" if same_order else "tally.robustness.all_agree_set"
        out.append(Message(key, {"count": count, "top": top, "methods": ref_order}))
        if same_order:
            return out
    elif len(ref.winners) == 1 and all(r.winners == ref.winners for r in results.values()):
        out.append(
            Message("tally.robustness.all_agree_winner", {"count": count, "method": ref.winners})
        )
    for place in range(1, top + 1):
        split = _place_split(results, place, reference)
        if split is not None:
            out.append(split)
    return out


def _head_to_head(pairwise: Pairwise | None, a: MethodId, b: MethodId) -> list[Message]:
    if pairwise is None:
        return []
    i, j = pairwise.methods.index(a), pairwise.methods.index(b)
    a_over_b, b_over_a = pairwise.prefer[i][j], pairwise.prefer[j][i]
    key = "tally.robustness.head_to_head" + ("_level" if a_over_b == b_over_a else "")
    return [
        Message(
            key,
            {"leader": a, "runner_up": b, "for_leader": a_over_b, "for_runner_up": b_over_a},
        )
    ]


def _reversed_by(
    results: Mapping[CountingId, TallyResult] | None,
    reference: CountingId,
    a: MethodId,
    b: MethodId,
) -> list[Message]:
    """Which other counting methods put b strictly ahead of a."""
    if not results:
        return []
    countings = tuple(
        c for c, r in results.items() if c != reference and r.rank_of(b) < r.rank_of(a)
    )
    if not countings:
        return []
    return [
        Message(
            "tally.robustness.reversed_by", {"countings": countings, "leader": a, "runner_up": b}
        )
    ]


def margins(
    result: TallyResult,
    *,
    top: int = 5,
    close_within: int = 0,
    pairwise: Pairwise | None = None,
    results: Mapping[CountingId, TallyResult] | None = None,
) -> list[Message]:
    """How far each of the first `top` places is ahead of the next, in plain words.

    A tie is named a dead heat. A lead of at most `close_within` (the export passes the
    points one first choice is worth, K) is called close rather than a lead. For both, with
    `pairwise`, the head-to-head counts behind them follow, and with `results`, the counting
    methods that order the pair the other way.
    """
    out: list[Message] = []
    for i, (rank, group) in enumerate(result.ranks):
        if rank > top:
            break
        score = result.scores[group[0]]
        if len(group) > 1:
            out.append(
                Message(
                    "tally.robustness.tied",
                    {"methods": group, "score": score, "unit": result.counting, "place": rank},
                )
            )
            for a, b in itertools.pairwise(group):
                out += _head_to_head(pairwise, a, b)
        if i + 1 < len(result.ranks):
            following = result.ranks[i + 1][1]
            margin = score - result.scores[following[0]]
            if len(group) == 1 and len(following) == 1 and margin <= close_within:
                a, b = group[0], following[0]
                out.append(
                    Message(
                        "tally.robustness.close",
                        {
                            "place": rank,
                            "leader": a,
                            "runner_up": b,
                            "score": score,
                            "runner_up_score": result.scores[b],
                            "margin": margin,
                            "unit": result.counting,
                        },
                    )
                )
                out += _head_to_head(pairwise, a, b)
                out += _reversed_by(results, result.counting, a, b)
                continue
            out.append(
                Message(
                    "tally.robustness.leads_tied" if len(group) > 1 else "tally.robustness.leads",
                    {
                        "leader": group,
                        "runner_up": following,
                        "margin": margin,
                        "unit": result.counting,
                    },
                )
            )
    return out


def summarize(
    results: Mapping[CountingId, TallyResult],
    *,
    top: int = 3,
    reference: CountingId = DEFAULT_COUNTING,
    close_within: int = 0,
    pairwise: Pairwise | None = None,
) -> list[Message]:
    """Agreement between counting methods, then the margins under the reference method
    (dead heats and close places with their head-to-head counts when `pairwise` is given)."""
    return agreement(results, top=top, reference=reference) + margins(
        results[reference],
        top=top,
        close_within=close_within,
        pairwise=pairwise,
        results=results,
    )


def _join(methods: Sequence[MethodId], lang: str, labels: Mapping[MethodId, str]) -> str:
    return t("tally.list_separator", lang).join(labels.get(m, m) for m in methods)


def render(message: Message, lang: str, labels: Mapping[MethodId, str]) -> str:
    """Text of any tally message (robustness, IRV rounds) in `lang`.

    Method ids become `labels` (joined with the language's list separator), counting ids
    become their localized names, `unit` becomes the counting method's unit, `place` an
    ordinal place ("2nd place" / "第2名").
    """
    lang = normalize_language(lang)
    params: dict[str, Any] = {}
    for name, value in message.params.items():
        if name in METHOD_PARAMS:
            group = (value,) if isinstance(value, str) else tuple(value)
            params[name] = _join(group, lang, labels)
            if name in TIE_AWARE_PARAMS and len(group) > 1:
                # "A vs B, A" reads as a contradiction; "A vs B, A (tied)" says what it is.
                params[name] = t("tally.tied_group", lang, methods=params[name])
        elif name in COUNTING_PARAMS:
            group = (value,) if isinstance(value, str) else tuple(value)
            params[name] = t("tally.list_separator", lang).join(
                t(COUNTING_METHODS[c].name_key, lang) for c in group
            )
        elif name == "split":
            parts = []
            for countings, holders in value:
                names = t("tally.list_separator", lang).join(
                    t(COUNTING_METHODS[c].name_key, lang) for c in countings
                )
                held = _join(holders, lang, labels)
                if len(holders) > 1:
                    held = t("tally.level_group", lang, methods=held)
                parts.append(t("tally.robustness.split_part", lang, countings=names, methods=held))
            params[name] = t("tally.split_separator", lang).join(parts)
        elif name == "unit":
            # English needs "1 point" but "2 points"; the count is the margin or the score
            # (a close race states both scores, so its unit follows the runner-up's).
            amount = message.params.get(
                "runner_up_score", message.params.get("margin", message.params.get("score"))
            )
            key = COUNTING_METHODS[value].unit_key + ("_one" if amount == 1 else "")
            params[name] = t(key, lang)
        elif name == "place":
            key = f"tally.place.{value}"
            keys = catalogue(lang)
            params[name] = t(key, lang) if key in keys else t("tally.place.n", lang, n=value)
        else:
            params[name] = value
    return t(message.key, lang, **params)
