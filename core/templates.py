"""Workshop templates: TOML files under data/templates/, validated into plain dataclasses.

A malformed template raises `TemplateError` naming the file and the field, so whoever edits a
template learns exactly what to fix.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.bilingual import Bilingual
from core.config import TEMPLATES_DIR
from core.errors import BeiduiError
from core.limits import (
    DEFAULT_ANONYMITY_K,
    DEFAULT_BALLOT_SIZE,
    MAX_ANONYMITY_K,
    MAX_BALLOT_SIZE,
    MAX_KEY_LENGTH,
    MIN_ANONYMITY_K,
)

KEY_PATTERN = re.compile(rf"^[a-z][a-z0-9_]{{0,{MAX_KEY_LENGTH - 1}}}$")


class TemplateError(BeiduiError, key="errors.template"):
    def __init__(self, path: Path | str, field: str, problem: str) -> None:
        super().__init__(
            f"{path}: {field}: {problem}", file=str(path), field=field, problem=problem
        )
        self.path = str(path)
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class MethodSpec:
    key: str
    label: Bilingual
    description: Bilingual


@dataclass(frozen=True)
class RoleSpec:
    key: str
    label: Bilingual


@dataclass(frozen=True)
class Template:
    key: str
    name: Bilingual
    ballot_size: int
    anonymity_k: int
    questions: tuple[Bilingual, ...]
    methods: tuple[MethodSpec, ...]
    roles: tuple[RoleSpec, ...]


def _text(path: Path, table: Mapping[str, Any], field: str, name: str) -> str:
    value = table.get(name)
    if not isinstance(value, str) or not value.strip():
        raise TemplateError(path, f"{field}.{name}", "must be a non-empty text")
    return value.strip()


def _bilingual(path: Path, table: Mapping[str, Any], field: str, prefix: str = "") -> Bilingual:
    # Questions and roles are `{zh, en}` tables; a name or a label is `<prefix>zh`/`<prefix>en`.
    return Bilingual(
        _text(path, table, field, f"{prefix}zh"), _text(path, table, field, f"{prefix}en")
    )


def _int(path: Path, table: Mapping[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    value = table.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise TemplateError(path, f"template.{name}", f"must be a whole number from {lo} to {hi}")
    return value


def _list(path: Path, data: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = data.get(name)
    if not isinstance(value, list) or not value:
        raise TemplateError(path, name, "must be a non-empty list of tables ([[" + name + "]])")
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise TemplateError(path, f"{name}[{i}]", "must be a table")
    return value


def _unique_key(path: Path, field: str, key: str, seen: set[str]) -> str:
    if not KEY_PATTERN.match(key):
        raise TemplateError(path, f"{field}.key", "use lowercase letters, digits and _")
    if key in seen:
        raise TemplateError(path, f"{field}.key", f"duplicate key {key!r}")
    seen.add(key)
    return key


def parse_template(path: Path, text: str) -> Template:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(path, "(toml)", str(exc)) from exc
    head = data.get("template")
    if not isinstance(head, Mapping):
        raise TemplateError(path, "template", "missing [template] table")
    key = _unique_key(path, "template", _text(path, head, "template", "key"), set())
    name = _bilingual(path, head, "template", "name_")
    questions = tuple(
        _bilingual(path, q, f"questions[{i}]") for i, q in enumerate(_list(path, data, "questions"))
    )
    seen: set[str] = set()
    methods = []
    for i, m in enumerate(_list(path, data, "methods")):
        field = f"methods[{i}]"
        methods.append(
            MethodSpec(
                key=_unique_key(path, field, _text(path, m, field, "key"), seen),
                label=_bilingual(path, m, field, "label_"),
                description=Bilingual(
                    str(m.get("description_zh", "")).strip(),
                    str(m.get("description_en", "")).strip(),
                ),
            )
        )
    seen = set()
    roles = tuple(
        RoleSpec(
            key=_unique_key(path, f"roles[{i}]", _text(path, r, f"roles[{i}]", "key"), seen),
            label=_bilingual(path, r, f"roles[{i}]"),
        )
        for i, r in enumerate(_list(path, data, "roles"))
    )
    ballot_size = _int(path, head, "ballot_size", DEFAULT_BALLOT_SIZE, 1, MAX_BALLOT_SIZE)
    if ballot_size > len(methods):
        raise TemplateError(path, "template.ballot_size", "is larger than the number of methods")
    return Template(
        key=key,
        name=name,
        ballot_size=ballot_size,
        anonymity_k=_int(
            path, head, "anonymity_k", DEFAULT_ANONYMITY_K, MIN_ANONYMITY_K, MAX_ANONYMITY_K
        ),
        questions=questions,
        methods=tuple(methods),
        roles=roles,
    )


def load_template(path: Path) -> Template:
    return parse_template(path, path.read_text(encoding="utf-8"))


def available_templates(directory: Path = TEMPLATES_DIR) -> dict[str, Template]:
    """Every template in the folder, by key. One bad file fails loudly with its name."""
    out: dict[str, Template] = {}
    for path in sorted(directory.glob("*.toml")):
        tpl = load_template(path)
        if tpl.key in out:
            raise TemplateError(path, "template.key", f"duplicate template key {tpl.key!r}")
        out[tpl.key] = tpl
    return out
