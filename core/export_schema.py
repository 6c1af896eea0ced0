"""The JSON Schema (draft 2020-12) of `results.json`, shipped in every bundle.

R, pandas and SPSS users (and their validators) load `results.json` without guessing what a
field is: every object lists its fields, says what each means and forbids any other. Built
from code so it cannot drift from `core.export_formats.export_json.json_document`: a test
validates each export against it. Deterministic, like the document it describes.
"""

from __future__ import annotations

import json
from typing import Any, Final

SCHEMA_ID: Final = "https://beidui.invalid/schema/beidui-results-1.json"


def _obj(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": sorted(properties),
        "additionalProperties": False,
    }
    if description:
        out["description"] = description
    return out


def _str(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


def _int(description: str, minimum: int = 0) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "description": description}


def _pct(description: str) -> dict[str, Any]:
    return {"type": "number", "minimum": 0, "maximum": 100, "description": description}


_BILINGUAL: Final = _obj({"zh": {"type": "string"}, "en": {"type": "string"}}, "zh and en")
_METHOD_MAP_INT: Final = {
    "type": "object",
    "additionalProperties": {"type": "integer"},
    "description": "method key -> figure",
}


def _result(description: str) -> dict[str, Any]:
    return _obj(
        {
            "ballot_count": _int("ballots counted"),
            "ranks": {
                "type": "array",
                "description": "best first; tied methods share a rank (competition ranking)",
                "items": _obj(
                    {
                        "rank": _int("1 = best", 1),
                        "methods": {"type": "array", "items": {"type": "string"}},
                    }
                ),
            },
            "scores": _METHOD_MAP_INT,
        },
        description,
    )


COUNTING_NAMES: Final = ["points", "first_choices", "appearances", "instant_runoff", "schulze"]


def _workshop() -> dict[str, Any]:
    return _obj(
        {
            "code": _str("workshop join code"),
            "name": _str("workshop name as typed"),
            "template": _str("template key"),
            "ballot_size": _int("K: most methods one ballot ranks", 1),
            "anonymity_k": _int("k: smallest group ever shown", 3),
            "is_open_mode": {"type": "boolean"},
            "is_live_results": {"type": "boolean"},
            "revealed_on": _str("ISO date (UTC) of the reveal; never a time"),
        }
    )


def _questions() -> dict[str, Any]:
    return {
        "type": "array",
        "items": _obj(
            {
                "number": _int("1-based", 1),
                "text": _BILINGUAL,
                "themes": {"type": "array", "items": {"type": "string"}},
                "summary_points": {"type": "array", "items": {"type": "string"}},
                "notes": {
                    "type": "array",
                    "description": "sorted by theme, dots, text: never arrival",
                    "items": _obj(
                        {
                            "text": _str("as typed"),
                            "theme": {"type": ["string", "null"]},
                            "dots": _int("dots received"),
                            "is_hidden": {"type": "boolean"},
                        }
                    ),
                },
            }
        ),
    }


def _counting() -> dict[str, Any]:
    return _obj(
        {
            "default": {"enum": COUNTING_NAMES},
            "methods": _obj(
                {c: _obj({"name": _BILINGUAL, "description": _BILINGUAL}) for c in COUNTING_NAMES}
            ),
            "irv_tie_rule": _BILINGUAL,
        }
    )


def _shares() -> dict[str, Any]:
    return {
        "type": "array",
        "description": "per method, in the default counting's order",
        "items": _obj(
            {
                "method": _str("method key"),
                "points": _int("points (K for 1st … 1 for K-th)"),
                "points_pct": _pct("share of all points"),
                "first_choices": _int("ballots ranking it first"),
                "first_pct": _pct("% of ballots ranking it first"),
                "chosen": _int("ballots ranking it at all"),
                "chosen_pct": _pct("% of ballots ranking it at all"),
                "average_score": {
                    "type": "number",
                    "minimum": 0,
                    "description": "average ranked score: points per ballot",
                },
            }
        ),
    }


def _breakdown() -> dict[str, Any]:
    return _obj(
        {
            "k": _int("anonymity threshold", 3),
            "counting": {"enum": COUNTING_NAMES},
            "roles_offered": {"type": "array", "items": {"type": "string"}},
            "roles_shown": {"type": "array", "items": {"type": "string"}},
            "roles_too_small": {
                "type": "array",
                "description": "offered roles with fewer than k ballots (maybe 0)",
                "items": {"type": "string"},
            },
            "roles_merged_against_subtraction": {
                "type": "array",
                "description": "roles with k+ ballots merged into 'other' so no "
                "smaller group can be derived by subtraction",
                "items": {"type": "string"},
            },
            "groups": {
                "type": "array",
                "items": {
                    **_result("one shown group"),
                    "properties": {
                        **_result("")["properties"],
                        "group": _str("role key or 'other'"),
                        "points_pct": {
                            "type": "object",
                            "additionalProperties": {"type": "number"},
                        },
                    },
                    "required": ["ballot_count", "group", "points_pct", "ranks", "scores"],
                },
            },
        }
    )


def results_schema() -> dict[str, Any]:
    """The schema as a dict."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Beidui workshop results (format beidui-results/1)",
        **_obj(
            {
                "format": {"const": "beidui-results/1"},
                "workshop": _workshop(),
                "questions": _questions(),
                "methods": {
                    "type": "array",
                    "items": _obj(
                        {"key": _str("method key"), "label": _BILINGUAL, "description": _BILINGUAL}
                    ),
                },
                "roles_shown": {
                    "type": "array",
                    "items": _obj({"key": _str("role key or 'other'"), "ballot_count": _int("")}),
                },
                "counting": _counting(),
                "counts": _obj(
                    {
                        "ballots": _int("opened ballots"),
                        "cards_issued": _int("voting cards issued"),
                        "cards_spent": _int("voting cards used"),
                    }
                ),
                "ballots": {
                    "type": "array",
                    "description": "every opened ballot, best first, sorted by content",
                    "items": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                },
                "tallies": _obj({c: _result(f"result under {c}") for c in COUNTING_NAMES}),
                "shares": _shares(),
                "head_to_head": _obj(
                    {
                        "methods": {"type": "array", "items": {"type": "string"}},
                        "prefer": {
                            "type": "array",
                            "description": "prefer[i][j]: ballots ranking methods[i] above [j]",
                            "items": {"type": "array", "items": {"type": "integer"}},
                        },
                    }
                ),
                "breakdown": _breakdown(),
                "receipts": {
                    "type": "array",
                    "description": "sorted; never next to a ballot",
                    "items": {"type": "string"},
                },
            }
        ),
    }


def build_schema() -> bytes:
    """The schema file's bytes: sorted keys, two-space indent, trailing newline."""
    return (json.dumps(results_schema(), sort_keys=True, indent=2) + "\n").encode("utf-8")
