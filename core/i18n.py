"""Localized text: every string a person sees comes from data/locales/<lang>/*.toml.

Each file `<area>.toml` holds one top-level table named `<area>`; keys are the dotted paths
(`ballot.card_spent`). Placeholders use `str.format` names: `"Page {page} of {pages}"`.
Chinese (zh) is the default language. Core code never formats user text itself: it returns a
`Message` (key + params) or raises a `BeiduiError` that carries one, and the page translates.

Plural forms. English must never say "1 notes": a text whose number counts a noun is a table
of CLDR plural categories instead of a string,

    n_notes = { one = "{n} note", other = "{n} notes" }

and `t()` picks the form from the count parameter. The rule, checked when the file is read:
- A table is a plural table when it has a `one` entry or holds nothing but CLDR category
  names (zero, one, two, few, many, other) and `count`; any other table is a group of keys
  (so `[tally.breakdown]` may still hold a key named `other`). A plural table holds only
  categories and an optional `count`, all strings.
- The count parameter is the table's `count` entry (`count = "waiting_for"`) when present,
  else `n`, else `count` -- the first of them that is a placeholder of the `other` form.
  It must be a placeholder of the `other` form (a `one` form may spell the number out).
- The table has exactly the categories its language uses (`PLURAL_CATEGORIES`): English
  `one` and `other` (`one` for exactly 1), Chinese only `other` -- so a zh text may stay a
  plain string, which is the same as a table with only `other`.
- Anything else (a missing or unknown category, a non-string form, no count parameter) is a
  `LocaleError` at load.
`catalogue()` maps every key to a string -- the `other` form for a plural key -- so checks of
keys and placeholders keep working; `catalogue(lang).plurals` holds the tables.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES: tuple[str, ...] = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
LOCALES_DIR = Path(__file__).resolve().parent.parent / "data" / "locales"


@dataclass(frozen=True)
class Message:
    """A translatable message: a locale key and the values for its placeholders."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


class LocaleError(Exception):
    """A locale file is malformed or two files define the same key."""


CLDR_CATEGORIES: frozenset[str] = frozenset({"zero", "one", "two", "few", "many", "other"})
# The CLDR categories each language's cardinal numbers use (integers only: we count things).
PLURAL_CATEGORIES: Mapping[str, frozenset[str]] = {
    "zh": frozenset({"other"}),
    "en": frozenset({"one", "other"}),
}
COUNT_PARAMETERS: tuple[str, ...] = ("n", "count")


def plural_category(lang: str, number: Any) -> str:
    """The CLDR category of a count: English `one` for exactly 1, every other case `other`."""
    if lang == "en" and number == 1 and not isinstance(number, bool):
        return "one"
    return "other"


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@dataclass(frozen=True)
class Plural:
    """One plural text: the name of its count parameter and a form per CLDR category."""

    count: str
    forms: Mapping[str, str]

    def form(self, lang: str, params: Mapping[str, Any]) -> str:
        if self.count not in params:
            return self.forms["other"]
        return self.forms[plural_category(lang, params[self.count])]


class Catalogue(dict[str, str]):
    """Every key of one language as a string (a plural key as its `other` form), plus the
    plural tables by key."""

    def __init__(self) -> None:
        super().__init__()
        self.plurals: dict[str, Plural] = {}


def _is_plural(table: Mapping[str, Any]) -> bool:
    return bool(table) and ("one" in table or set(table) <= CLDR_CATEGORIES | {"count"})


def _plural(lang: str, key: str, table: Mapping[str, Any], source: Path) -> Plural:
    where = f"{source}: plural key {key!r}"
    if not all(isinstance(v, str) for v in table.values()):
        raise LocaleError(f"{where}: every entry must be a string")
    forms = {k: v for k, v in table.items() if k != "count"}
    expected = PLURAL_CATEGORIES[lang]
    if set(forms) != expected:
        raise LocaleError(
            f"{where}: {lang} needs exactly the forms {sorted(expected)}, found {sorted(forms)}"
        )
    fields = _fields(forms["other"])
    named = table.get("count")
    count = named or next((p for p in COUNT_PARAMETERS if p in fields), None)
    if count is None or count not in fields:
        raise LocaleError(
            f"{where}: its count parameter (the `count` entry, else n or count) must be a "
            f"placeholder of the `other` form"
        )
    return Plural(count=count, forms=forms)


def _flatten(
    lang: str, prefix: str, table: Mapping[str, Any], out: Catalogue, source: Path
) -> None:
    for name, value in table.items():
        key = f"{prefix}.{name}" if prefix else name
        if key in out or key in out.plurals:
            raise LocaleError(f"{source}: key {key!r} is defined twice")
        if isinstance(value, Mapping) and _is_plural(value):
            plural = _plural(lang, key, value, source)
            out.plurals[key] = plural
            out[key] = plural.forms["other"]
        elif isinstance(value, Mapping):
            _flatten(lang, key, value, out, source)
        elif isinstance(value, str):
            out[key] = value
        else:
            raise LocaleError(f"{source}: key {key!r} must be a string, not {type(value).__name__}")


@cache
def catalogue(lang: str, locales_dir: Path = LOCALES_DIR) -> Catalogue:
    """All keys of one language, read once per process."""
    if lang not in LANGUAGES:
        raise LocaleError(f"unknown language {lang!r}; expected one of {LANGUAGES}")
    out = Catalogue()
    for path in sorted((locales_dir / lang).glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise LocaleError(f"{path}: {exc}") from exc
        stray = [k for k in data if k != path.stem]
        if stray:
            raise LocaleError(
                f"{path}: top-level keys must all sit under [{path.stem}], found {stray}"
            )
        _flatten(lang, "", data, out, path)
    return out


def normalize_language(lang: str | None) -> str:
    """Map a browser locale such as 'en-GB' or 'zh-Hans-CN' to a supported language."""
    if not lang:
        return DEFAULT_LANGUAGE
    base = lang.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, lang: str = DEFAULT_LANGUAGE, /, **params: Any) -> str:
    """The text for `key` in `lang`, with placeholders filled; a plural key takes the form
    its count parameter calls for (module docstring).

    A missing key is a bug (the locale test catches it); at run time we show the key itself
    rather than crash a participant's page.
    """
    lang = normalize_language(lang)
    texts = catalogue(lang)
    text = texts.get(key)
    if text is None:
        return key
    plural = texts.plurals.get(key)
    if plural is not None:
        text = plural.form(lang, params)
    return text.format(**params) if params else text


def plural_forms(key: str, lang: str = DEFAULT_LANGUAGE, /, **params: Any) -> dict[str, str]:
    """Every form of a plural key with `params` filled, and under `count` the name of its
    count parameter: for a browser that picks the form itself (`Intl.PluralRules` uses the
    same CLDR categories) as the count changes. Empty for a plain key."""
    lang = normalize_language(lang)
    plural = catalogue(lang).plurals.get(key)
    if plural is None:
        return {}
    forms = {name: text.format(**params) for name, text in plural.forms.items()}
    return {"count": plural.count, **forms}


def tm(message: Message, lang: str = DEFAULT_LANGUAGE) -> str:
    """Translate a `Message`."""
    return t(message.key, lang, **message.params)
