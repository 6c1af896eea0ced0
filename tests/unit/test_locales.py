"""Every key exists in both languages, with the same placeholders, and every key the code uses
exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from core.i18n import LANGUAGES, LocaleError, catalogue, normalize_language, t

ROOT = Path(__file__).resolve().parents[2]


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_exists_in_both_languages() -> None:
    zh, en = catalogue("zh"), catalogue("en")
    assert sorted(set(zh) - set(en)) == []
    assert sorted(set(en) - set(zh)) == []


def test_placeholders_match_across_languages() -> None:
    zh, en = catalogue("zh"), catalogue("en")
    mismatched = {
        k: (_fields(zh[k]), _fields(en[k])) for k in zh if _fields(zh[k]) != _fields(en[k])
    }
    assert mismatched == {}


def test_every_key_used_in_the_code_exists() -> None:
    used: set[str] = set()
    pattern = re.compile(r"""\b(?:tr|t|Message)\(\s*["']([a-z_]+(?:\.[a-z0-9_]+)+)["']""")
    for folder in ("pages", "ui", "core", "web"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(pattern.findall(path.read_text(encoding="utf-8")))
    used |= {
        m.group(1)
        for path in (ROOT / "core").rglob("*.py")
        for m in re.finditer(
            r"""^\s+key(?::\s*ClassVar\[str\])?\s*=\s*["']([a-z_.0-9]+)["']""",
            path.read_text(encoding="utf-8"),
            re.M,
        )
    }
    for lang in LANGUAGES:
        missing = sorted(k for k in used if k not in catalogue(lang))
        assert missing == [], f"{lang}: {missing}"


def test_chinese_is_the_default_and_browser_locales_map_to_a_supported_language() -> None:
    assert normalize_language(None) == "zh"
    assert normalize_language("en-GB") == "en"
    assert normalize_language("zh-Hans-CN") == "zh"
    assert normalize_language("fr-FR") == "zh"
    assert t("nav.home") == t("nav.home", "zh") != t("nav.home", "en")


def test_a_locale_file_with_a_stray_top_level_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "zh").mkdir()
    (tmp_path / "zh" / "x.toml").write_text('[x]\na = "1"\n[y]\nb = "2"\n', encoding="utf-8")
    with pytest.raises(LocaleError, match=r"x\.toml"):
        catalogue.__wrapped__("zh", tmp_path)
