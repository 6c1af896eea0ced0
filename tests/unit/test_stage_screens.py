"""Every stage has its own screen on the projector and on the phone: a stage added later
cannot silently show the voting screen (the projector's old `else` did exactly that)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.domain import Stage

ROOT = Path(__file__).resolve().parents[2]


def _stage_matches(page: str) -> list[ast.Match]:
    tree = ast.parse((ROOT / "pages" / page).read_text(encoding="utf-8"))
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Match) and ast.unparse(node.subject) == "w.stage"
    ]


def _stages_named(pattern: ast.pattern) -> list[str]:
    """The members a case names; a wildcard or a capture names none (and is refused)."""
    if isinstance(pattern, ast.MatchOr):
        return [name for p in pattern.patterns for name in _stages_named(p)]
    if isinstance(pattern, ast.MatchValue):
        value = ast.unparse(pattern.value)
        assert value.startswith("Stage."), value
        return [value.removeprefix("Stage.")]
    raise AssertionError(f"a catch-all case: {ast.unparse(pattern)}")


@pytest.mark.parametrize("page", ["projector.py", "join.py"])
def test_the_page_chooses_a_screen_for_every_stage_by_name(page: str) -> None:
    matches = _stage_matches(page)
    assert len(matches) == 1, "one dispatch over the stage"
    named = [name for case in matches[0].cases for name in _stages_named(case.pattern)]
    assert sorted(named) == sorted(s.name for s in Stage)  # each exactly once


def _stage_names(node: ast.AST) -> list[ast.Attribute]:
    return [
        n
        for n in ast.walk(node)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "Stage"
    ]


def test_the_projector_names_stages_only_in_its_dispatch() -> None:
    # Everywhere else it asks the stage a rule (`w.stage.accepts_ballots`).
    tree = ast.parse((ROOT / "pages" / "projector.py").read_text(encoding="utf-8"))
    in_cases = [
        n for m in _stage_matches("projector.py") for c in m.cases for n in _stage_names(c.pattern)
    ]
    assert len(_stage_names(tree)) == len(in_cases)
