"""Localized text: every string a person sees comes from data/locales/<lang>/*.toml.

Each file `<area>.toml` holds one top-level table named `<area>`; keys are the dotted paths
(`ballot.card_spent`). Placeholders use `str.format` names: `"{count} ballots"`.
Chinese (zh) is the default language. Core code never formats user text itself: it returns a
`Message` (key + params) or raises a `BeiduiError` that carries one, and the page translates.
"""

from __future__ import annotations

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


def _flatten(prefix: str, table: Mapping[str, Any], out: dict[str, str], source: Path) -> None:
    for name, value in table.items():
        key = f"{prefix}.{name}" if prefix else name
        if isinstance(value, Mapping):
            _flatten(key, value, out, source)
        elif isinstance(value, str):
            if key in out:
                raise LocaleError(f"{source}: key {key!r} is defined twice")
            out[key] = value
        else:
            raise LocaleError(f"{source}: key {key!r} must be a string, not {type(value).__name__}")


@cache
def catalogue(lang: str, locales_dir: Path = LOCALES_DIR) -> Mapping[str, str]:
    """All keys of one language, read once per process."""
    if lang not in LANGUAGES:
        raise LocaleError(f"unknown language {lang!r}; expected one of {LANGUAGES}")
    out: dict[str, str] = {}
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
        _flatten("", data, out, path)
    return out


def normalize_language(lang: str | None) -> str:
    """Map a browser locale such as 'en-GB' or 'zh-Hans-CN' to a supported language."""
    if not lang:
        return DEFAULT_LANGUAGE
    base = lang.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, lang: str = DEFAULT_LANGUAGE, /, **params: Any) -> str:
    """The text for `key` in `lang`, with placeholders filled.

    A missing key is a bug (the locale test catches it); at run time we show the key itself
    rather than crash a participant's page.
    """
    text = catalogue(normalize_language(lang)).get(key)
    if text is None:
        return key
    return text.format(**params) if params else text


def tm(message: Message, lang: str = DEFAULT_LANGUAGE) -> str:
    """Translate a `Message`."""
    return t(message.key, lang, **message.params)
