"""A text in both languages of the house: one value for every zh/en pair.

A question, a method's label and description, a role's label and a template's name are each
one `Bilingual`; the ORM maps each pair of columns to one (`core.models`), and the flat
`<name>_zh` / `<name>_en` fields of stored rows, backup archives and templates are read and
written here only. This module only holds and reshapes text: cleaning and length limits
belong to the services that know them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True)
class Bilingual:
    zh: str
    en: str

    def get(self, lang: str) -> str:
        """The English text for "en", the Chinese text for any other language (the default)."""
        return self.en if lang == "en" else self.zh

    def as_dict(self) -> dict[str, str]:
        """`{"zh": ..., "en": ...}`, as exported files hold a text in both languages."""
        return {"zh": self.zh, "en": self.en}

    def fields(self, name: str) -> dict[str, str]:
        """The flat fields `<name>_zh` and `<name>_en`, as rows and archives store them."""
        return {f"{name}_zh": self.zh, f"{name}_en": self.en}


BLANK: Final = Bilingual("", "")
"""Nothing in either language (a method without a description)."""


def fold_fields(row: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """`row` with each `<name>_zh` / `<name>_en` pair folded into one `Bilingual` `<name>`."""
    folded = dict(row)
    for name in names:
        folded[name] = Bilingual(folded.pop(f"{name}_zh"), folded.pop(f"{name}_en"))
    return folded


def parse_lines(text: str) -> tuple[Bilingual, ...]:
    """One text per non-blank line typed as `中文 | English`; without English, the Chinese
    stands for both. The inverse of `as_lines`."""
    found = []
    for line in text.splitlines():
        zh, _, en = line.partition("|")
        if zh.strip():
            found.append(Bilingual(zh.strip(), en.strip() or zh.strip()))
    return tuple(found)


def as_lines(texts: Iterable[Bilingual]) -> str:
    """The texts as lines `中文 | English`, for a form to edit (see `parse_lines`)."""
    return "\n".join(f"{t.zh} | {t.en}" for t in texts)
