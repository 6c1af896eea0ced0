"""The input bounds are one set of numbers that agree with each other, with the ballot's
sealed payload, and with every widget that shows them (issue 13: K lived in seven files)."""

from __future__ import annotations

import ast
import re
import secrets
from pathlib import Path

from core import limits
from core.ballot_values import encode_payload
from core.crypto import human_codes
from core.templates import KEY_PATTERN

ROOT = Path(__file__).resolve().parents[2]
WIDGET_BOUNDS = {"min_value", "max_value", "max_chars"}
# A count that starts at 0 or 1 is not a limit anyone tunes.
TRIVIAL_MINIMUMS = {0, 1}
BOUND_NAME = re.compile(r"^_?(MAX|MIN)_[A-Z_]+$")
# Not input bounds: the ceiling on scrypt costs a stored key header may ask for; a
# spreadsheet column's display width.
NOT_INPUT_BOUNDS = {
    "core.crypto.passphrases": {"_MAX_SCRYPT_LOG2_N", "_MAX_SCRYPT_R", "_MAX_SCRYPT_P"},
    "core.export_formats.export_xlsx": {"_MAX_WIDTH"},
}


def _longest_ballot() -> tuple[list[str], str]:
    ranking = [
        chr(ord("a") + i).ljust(limits.MAX_KEY_LENGTH, "x") for i in range(limits.MAX_BALLOT_SIZE)
    ]
    return ranking, "r" * limits.MAX_KEY_LENGTH


def test_the_longest_ballot_fits_the_payload_and_the_limits_module_knows_its_size() -> None:
    ranking, role = _longest_ballot()
    assert all(KEY_PATTERN.match(key) for key in [*ranking, role])
    body = encode_payload(ranking, role).rstrip(b" ")
    assert len(body) == limits.MAX_PAYLOAD_BODY <= limits.PAYLOAD_LENGTH


def test_a_key_of_the_longest_length_is_accepted_and_one_more_character_is_not() -> None:
    assert KEY_PATTERN.match("k" * limits.MAX_KEY_LENGTH)
    assert not KEY_PATTERN.match("k" * (limits.MAX_KEY_LENGTH + 1))


def test_defaults_lie_inside_their_bounds() -> None:
    assert limits.MIN_ANONYMITY_K <= limits.DEFAULT_ANONYMITY_K <= limits.MAX_ANONYMITY_K
    assert 1 <= limits.DEFAULT_BALLOT_SIZE <= limits.MAX_BALLOT_SIZE <= limits.MAX_METHODS
    assert 1 <= limits.DEFAULT_CARDS_PER_CALL <= limits.MAX_CARDS_PER_CALL
    assert limits.MAX_NOTE_LENGTH < limits.MAX_RAW_NOTE_LENGTH
    assert 1 < limits.MIN_PASSPHRASE_LENGTH <= limits.MAX_PASSPHRASE_LENGTH
    assert limits.MAX_SLUG_LENGTH + len("_9999") <= limits.MAX_KEY_LENGTH


def test_code_boxes_and_url_caps_hold_a_whole_code() -> None:
    assert limits.JOIN_CODE_LENGTH <= limits.MAX_CODE_INPUT_CHARS <= limits.MAX_CODE_TEXT
    assert human_codes.CARD_CODE_LENGTH <= limits.MAX_CODE_TEXT
    receipt = human_codes.receipt_for(secrets.token_bytes(64))
    assert len(receipt) <= limits.MAX_URL_RECEIPT_CHARS
    assert len(secrets.token_urlsafe(18)) <= limits.MAX_URL_TICKET_CHARS  # core.casting tickets


def _bound_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names |= {t.id for t in targets if isinstance(t, ast.Name) and BOUND_NAME.match(t.id)}
    return names


def test_no_core_module_but_limits_defines_a_bound_of_its_own() -> None:
    extra = {}
    for path in sorted((ROOT / "core").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if module == "core.limits":
            continue
        if own := _bound_names(path) - NOT_INPUT_BOUNDS.get(module, set()):
            extra[module] = sorted(own)
    assert extra == {}


def _literal_bounds(source: str, name: str) -> list[str]:
    """Widget bounds written as number literals instead of read from core.limits."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        bounds = [(k.arg, k.value) for k in node.keywords if k.arg in WIDGET_BOUNDS]
        if node.func.attr in {"number_input", "slider"}:  # (label, min, max, value, ...)
            bounds += list(zip(("min_value", "max_value"), node.args[1:3], strict=False))
        for bound, value in bounds:
            if not (isinstance(value, ast.Constant) and isinstance(value.value, int | float)):
                continue
            if bound == "min_value" and value.value in TRIVIAL_MINIMUMS:
                continue
            found.append(f"{name}:{node.lineno} {bound}={value.value}")
    return found


def test_pages_and_ui_read_widget_bounds_from_core_limits() -> None:
    files = sorted([*(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")])
    offenders = [
        hit
        for path in files
        for hit in _literal_bounds(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert offenders == []


def test_the_literal_check_catches_the_widgets_the_console_used_to_have() -> None:
    source = (
        'st.number_input("K", 1, 10, 5, key="k")\n'
        'st.text_input("name", max_chars=200)\n'
        'st.number_input("n", min_value=1, max_value=limits.MAX_CARDS_PER_CALL)\n'
    )
    assert _literal_bounds(source, "page") == ["page:1 max_value=10", "page:2 max_chars=200"]
