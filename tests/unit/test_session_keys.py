"""Every session-state key the pages and ui/ use is named in ui/state.py (issue 13): a key
spelled out in two places drifts, and an AppTest seeding the old spelling passes silently."""

from __future__ import annotations

import ast
from pathlib import Path

from ui import state

ROOT = Path(__file__).resolve().parents[2]
STATE_MODULE = ROOT / "ui" / "state.py"
KEY_METHODS = {"get", "pop", "setdefault", "__contains__", "__getitem__", "__setitem__"}


def _is_session_state(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "session_state") or (
        isinstance(node, ast.Name) and node.id == "session_state"
    )


def _from_state(node: ast.expr, named: set[str]) -> bool:
    """`state.X`, `state.f(...)`, or a local name bound to one of those."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return isinstance(node.value, ast.Name) and node.value.id == "state"
    return isinstance(node, ast.Name) and node.id in named


def _keys_used(tree: ast.AST) -> list[ast.expr]:
    """Every expression used as a key into st.session_state."""
    keys: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and _is_session_state(node.value):
            keys.append(node.slice)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in KEY_METHODS
            and _is_session_state(node.func.value)
            and node.args
        ):
            keys.append(node.args[0])
        elif isinstance(node, ast.Compare) and any(
            isinstance(op, ast.In | ast.NotIn) and _is_session_state(right)
            for op, right in zip(node.ops, node.comparators, strict=True)
        ):
            keys.append(node.left)
    return keys


def bare_keys(source: str, name: str) -> list[str]:
    """Session-state keys in `source` that do not come from ui/state.py."""
    tree = ast.parse(source)
    named: set[str] = set()
    for node in ast.walk(tree):  # NOTE_BOX = state.note_text(w.code) and the like
        if isinstance(node, ast.Assign) and _from_state(node.value, set()):
            named |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return [
        f"{name}:{key.lineno} {ast.unparse(key)}"
        for key in _keys_used(tree)
        if not _from_state(key, named)
    ]


def test_pages_and_ui_take_every_session_state_key_from_ui_state() -> None:
    files = [
        ROOT / "evaluation_app.py",
        *(ROOT / "pages").glob("*.py"),
        *(ROOT / "ui").glob("*.py"),
    ]
    offenders = [
        hit
        for path in sorted(files)
        if path != STATE_MODULE
        for hit in bare_keys(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert offenders == []


def test_the_check_catches_strings_f_strings_and_local_constants() -> None:
    source = (
        'FLASH = "facilitator_flash"\n'
        'st.session_state["downloads"] = 1\n'
        'st.session_state.get(f"receipt_{code}")\n'
        "st.session_state.pop(FLASH, None)\n"
        '"lang" in st.session_state\n'
        "box = state.note_text(code)\n"
        "st.session_state[box] = ''\n"
        "st.session_state.setdefault(state.dots(code, 1), [])\n"
        "state.LANG not in st.session_state\n"
    )
    assert bare_keys(source, "page") == [
        "page:2 'downloads'",
        "page:3 f'receipt_{code}'",
        "page:4 FLASH",
        "page:5 'lang'",
    ]


def test_per_workshop_keys_never_collide_between_workshops() -> None:
    makers = [state.card, state.receipt, state.ticket, state.ticket_seen, state.seen_stage]
    makers += [state.note_text, state.note_question_seen, state.ballot, state.ballot_token]
    makers += [state.method_order]
    keys = [make(code) for make in makers for code in ("ABC234", "XYZ789")]
    keys += [state.dots("ABC234", 1), state.dots("ABC234", 2)]
    constants = [v for k, v in vars(state).items() if k.isupper() and isinstance(v, str)]
    assert len(set(keys + constants)) == len(keys) + len(constants)
