"""Do the counting methods agree? Sentences for the facilitator screen and the report.

Everything returned is a `Message` whose params hold method ids, counting ids and numbers;
`render` turns one into text for a language and a set of (already localized) method
labels. This module never decides a ranking itself: it only compares `TallyResult`s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from core.i18n import Message, catalogue, normalize_language, t
from core.tally import COUNTING_METHODS, DEFAULT_COUNTING, CountingId, MethodId, TallyResult

# Param names `render` knows how to localize; every tally message sticks to them.
METHOD_PARAMS: Final = frozenset(
    {"method", "methods", "methods_a", "methods_b", "leader", "runner_up"}
)
COUNTING_PARAMS: Final = frozenset({"counting", "counting_a", "counting_b"})
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


def agreement(
    results: Mapping[CountingId, TallyResult],
    *,
    top: int = 3,
    reference: CountingId = DEFAULT_COUNTING,
) -> list[Message]:
    """Whether all counting methods agree on the top places; where not, which places differ.

    Places are compared against `reference` (points by default, the method the room sees),
    so each disagreement names the reference and one other counting method.
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
    for counting, other in results.items():
        if counting == reference:
            continue
        for place in range(1, top + 1):
            mine, theirs = at_place(ref, place), at_place(other, place)
            if mine != theirs:
                out.append(
                    Message(
                        "tally.robustness.disagree_place",
                        {
                            "counting_a": reference,
                            "counting_b": counting,
                            "place": place,
                            "methods_a": mine,
                            "methods_b": theirs,
                        },
                    )
                )
    return out


def margins(result: TallyResult, *, top: int = 5) -> list[Message]:
    """How far each of the first `top` places is ahead of the next: "A leads B by 12 points"."""
    out: list[Message] = []
    for i, (rank, group) in enumerate(result.ranks):
        if rank > top:
            break
        score = result.scores[group[0]]
        if len(group) > 1:
            out.append(
                Message(
                    "tally.robustness.tied",
                    {"methods": group, "score": score, "unit": result.counting},
                )
            )
        if i + 1 < len(result.ranks):
            following = result.ranks[i + 1][1]
            out.append(
                Message(
                    "tally.robustness.leads_tied" if len(group) > 1 else "tally.robustness.leads",
                    {
                        "leader": group,
                        "runner_up": following,
                        "margin": score - result.scores[following[0]],
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
) -> list[Message]:
    """Agreement between counting methods, then the margins under the reference method."""
    return agreement(results, top=top, reference=reference) + margins(results[reference], top=top)


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
            params[name] = t(COUNTING_METHODS[value].name_key, lang)
        elif name == "unit":
            # English needs "1 point" but "2 points"; the count is the margin or the score.
            amount = message.params.get("margin", message.params.get("score"))
            key = COUNTING_METHODS[value].unit_key + ("_one" if amount == 1 else "")
            params[name] = t(key, lang)
        elif name == "place":
            key = f"tally.place.{value}"
            keys = catalogue(lang)
            params[name] = t(key, lang) if key in keys else t("tally.place.n", lang, n=value)
        else:
            params[name] = value
    return t(message.key, lang, **params)
