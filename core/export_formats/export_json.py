"""`results.json`: the whole workshop as plain data, and its JSON Schema beside it.

Enough to recount every ballot independently. Byte for byte deterministic: sorted keys,
canonical ballot order (sorted by content), no timestamp, a trailing newline. Like every
export it holds nothing about one person: no role below k, no receipt next to a ballot.
"""

from __future__ import annotations

import json
from typing import Any, Final

from core import export_schema
from core.breakdown import points_share
from core.export_data import OTHER_GROUP, ExportData, Format, Rendering
from core.i18n import LANGUAGES, t
from core.tally.registry import COUNTING_METHODS, DEFAULT_COUNTING
from core.tally.result import TallyResult

FORMAT: Final = "beidui-results/1"
RESULTS_JSON: Final = "results.json"
RESULTS_SCHEMA: Final = "results.schema.json"


def _bilingual(key: str) -> dict[str, str]:
    return {lang: t(key, lang) for lang in LANGUAGES}


def _result_json(result: TallyResult) -> dict[str, Any]:
    return {
        "ballot_count": result.ballot_count,
        "ranks": [{"rank": rank, "methods": list(group)} for rank, group in result.ranks],
        "scores": dict(result.scores),
    }


def _workshop_json(data: ExportData) -> dict[str, Any]:
    w = data.workshop
    return {
        "code": w.code,
        "name": w.name,
        "template": w.template_key,
        "ballot_size": w.ballot_size,
        "anonymity_k": w.anonymity_k,
        "is_open_mode": w.is_open_mode,
        "is_live_results": w.is_live_results,
        "revealed_on": data.revealed_on,
    }


def _questions_json(data: ExportData) -> list[dict[str, Any]]:
    return [
        {
            "number": q.position + 1,
            "text": q.text.as_dict(),
            "themes": list(q.themes),
            "summary_points": list(q.summary_points),
            "notes": [
                {"text": n.text, "theme": n.theme, "dots": n.dots, "is_hidden": n.is_hidden}
                for n in q.notes
            ],
        }
        for q in data.questions
    ]


def _methods_json(data: ExportData) -> list[dict[str, Any]]:
    return [
        {
            "key": m.key,
            "label": m.label.as_dict(),
            "description": m.description.as_dict(),
        }
        for m in data.workshop.methods
    ]


def _counting_json(data: ExportData) -> dict[str, Any]:
    return {
        "default": DEFAULT_COUNTING,
        "methods": {
            c: {"name": _bilingual(m.name_key), "description": _bilingual(m.description_key)}
            for c, m in COUNTING_METHODS.items()
        },
        "irv_tie_rule": _bilingual(data.irv.tie_rule.key),
    }


def _shares_json(data: ExportData) -> list[dict[str, Any]]:
    return [
        {
            "method": s.method,
            "points": s.points,
            "points_pct": s.points_pct,
            "first_choices": s.first_choices,
            "first_pct": s.first_pct,
            "chosen": s.chosen,
            "chosen_pct": s.chosen_pct,
            "average_score": s.average_score,
        }
        for s in data.shares
    ]


def _breakdown_json(data: ExportData) -> dict[str, Any]:
    plan = data.breakdown.plan
    return {
        "k": data.breakdown.k,
        "counting": data.breakdown.counting,
        "roles_offered": [r.key for r in data.workshop.roles],
        "roles_shown": list(plan.shown),
        "roles_too_small": list(plan.too_small),
        "roles_merged_against_subtraction": list(plan.merged_against_subtraction),
        "groups": [
            {
                "group": g.role or OTHER_GROUP,
                **_result_json(g.result),
                "points_pct": {m: points_share(g.result, m) for m in g.result.scores},
            }
            for g in data.breakdown.groups
        ],
    }


def json_document(data: ExportData) -> dict[str, Any]:
    """The whole workshop as plain data: enough to recount every ballot independently."""
    return {
        "format": FORMAT,
        "workshop": _workshop_json(data),
        "questions": _questions_json(data),
        "methods": _methods_json(data),
        "roles_shown": [
            {"key": g.role or OTHER_GROUP, "ballot_count": g.ballot_count}
            for g in data.breakdown.groups
        ],
        "counting": _counting_json(data),
        "counts": {
            "ballots": data.counts.ballots,
            "cards_issued": data.counts.cards_issued,
            "cards_spent": data.counts.cards_spent,
        },
        "ballots": [list(r) for r in data.rankings],
        "tallies": {c: _result_json(r) for c, r in data.tallies.items()},
        "shares": _shares_json(data),
        "head_to_head": {
            "methods": list(data.head_to_head.methods),
            "prefer": [list(row) for row in data.head_to_head.prefer],
        },
        "breakdown": _breakdown_json(data),
        "receipts": list(data.receipts),
    }


def build_json(data: ExportData) -> bytes:
    """Deterministic: sorted keys, canonical ballot order, no timestamp, trailing newline."""
    text = json.dumps(json_document(data), ensure_ascii=False, sort_keys=True, indent=2)
    return (text + "\n").encode("utf-8")


def files(r: Rendering) -> dict[str, bytes]:
    """The JSON format of a bundle: the document and its schema (see `core.export_formats`)."""
    return {RESULTS_JSON: build_json(r.data), RESULTS_SCHEMA: export_schema.build_schema()}


EXPORT_FORMAT = Format("json", 0.2, files)
