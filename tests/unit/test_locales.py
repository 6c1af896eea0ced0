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
            r"""^class \w+\(.*\bkey=["']([a-z_.0-9]+)["']""",
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


# --- plural forms ---------------------------------------------------------------------------

# A number followed (directly, or after one word such as "more" or "voting") by a plural noun:
# "{n} notes", "{n} more ballots", "{n} voting cards".
COUNTED_NOUN = re.compile(r"\{(\w+)\} (?:[a-z]+ )??[a-z]+s\b")

# Matches that are not a count of the noun, or whose count can never be 1. Each says why.
NOT_A_COUNT_OF_ONE = {
    # k is the anonymity threshold, at least MIN_ANONYMITY_K = 3 (asserted below).
    "{k} ballots": "anonymity threshold k >= 3",
    "{k} are always": "anonymity threshold k >= 3 (projector.batched)",
    # Fixed lengths of codes and the passphrase minimum, all constants far above 1.
    "{expected} characters": "card code length, a constant",
    "{expected} letters": "join code / receipt length, a constant",
    "{min_length} characters": "MIN_PASSPHRASE_LENGTH = 8",
    # Upper bounds of a range whose lower bound is already at least 1 (the text says "from
    # {low} to {high}" or "at most {high}"), all limits in core/limits.py above 1.
    "{high} characters": "a MAX_*_LENGTH limit",
    "{high} cards": "MAX_CARDS_PER_CALL = 500",
    "{high} points": "MAX_SUMMARY_POINTS = 8",
    "{length} characters": "a note longer than its limit (MAX_NOTE_LENGTH = 280)",
    "{per_question} dots": "DOTS_PER_QUESTION = 3",
    # Names and labels, not numbers: the word after them is a verb.
    "{question} has": "a question number followed by a verb",
    "{question} already has": "a question number followed by a verb",
    "{point} needs": "a summary point number followed by a verb",
    "{place} depends": "a place's name followed by a verb",
    "{place} is": "a place's name followed by a verb",
    "{leader} leads": "a method's name followed by a verb",
    "{leader} has": "a method's name followed by a verb",
    "{runner_up} comes": "a method's name followed by a verb",
    "{code} already exists": "a workshop code followed by a verb",
}


def test_the_allow_list_of_counts_that_are_never_one_still_holds() -> None:
    from core import limits

    assert limits.MIN_ANONYMITY_K > 1
    assert limits.DOTS_PER_QUESTION > 1
    assert limits.MIN_PASSPHRASE_LENGTH > 1
    assert limits.MAX_SUMMARY_POINTS > 1


def test_every_english_count_of_a_noun_has_a_singular_form() -> None:
    en = catalogue("en")
    plain = {
        f"{key}: {match.group(0)}"
        for key, text in en.items()
        if key not in en.plurals
        for match in COUNTED_NOUN.finditer(text)
        if match.group(0) not in NOT_A_COUNT_OF_ONE
    }
    assert sorted(plain) == [], "make these plural tables (see core/i18n.py)"
    matched = {m.group(0) for text in en.values() for m in COUNTED_NOUN.finditer(text)}
    assert sorted(set(NOT_A_COUNT_OF_ONE) - matched) == [], "stale allow-list entries"


def test_every_plural_form_uses_only_the_placeholders_of_its_other_form() -> None:
    for lang in LANGUAGES:
        for key, plural in catalogue(lang).plurals.items():
            for form in plural.forms.values():
                assert _fields(form) <= _fields(plural.forms["other"]), (lang, key, form)


def test_english_says_one_note_and_two_notes_and_chinese_says_the_same_for_both() -> None:
    assert t("facilitator.n_notes", "en", n=1) == "1 note"
    assert t("facilitator.n_notes", "en", n=2) == "2 notes"
    assert t("facilitator.n_notes", "en", n=0) == "0 notes"
    assert t("facilitator.n_notes", "zh", n=1) == t("facilitator.n_notes", "zh", n=2).replace(
        "2", "1"
    )
    assert "1" in t("facilitator.n_notes", "zh", n=1)


def test_a_plural_table_names_its_count_parameter_when_it_is_not_n(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "x.toml").write_text(
        '[x]\nwait = { count = "left", one = "one more ballot", other = "{left} more ballots" }\n',
        encoding="utf-8",
    )
    plural = catalogue.__wrapped__("en", tmp_path).plurals["x.wait"]
    assert plural.count == "left"
    assert plural.form("en", {"left": 1}) == "one more ballot"
    assert plural.form("en", {"left": 3}) == "{left} more ballots"


@pytest.mark.parametrize(
    ("lang", "table"),
    [
        ("en", '{ other = "{n} notes" }'),  # English needs `one`
        ("en", '{ one = "{n} note" }'),  # every language needs `other`
        ("en", '{ one = "{n} note", other = "{n} notes", few = "{n} notes" }'),  # not English
        ("zh", '{ one = "{n} 条", other = "{n} 条" }'),  # Chinese has only `other`
        ("en", '{ one = "{n} note", other = "{n} notes", ones = "x" }'),  # unknown entry
        ("en", '{ one = "{n} note", other = 2 }'),  # not a string
        ("en", '{ one = "{x} note", other = "{x} notes" }'),  # no n/count and no `count`
        ("en", '{ count = "m", one = "{n} note", other = "{n} notes" }'),  # count not used
    ],
)
def test_a_malformed_plural_table_is_refused(tmp_path: Path, lang: str, table: str) -> None:
    (tmp_path / lang).mkdir()
    (tmp_path / lang / "x.toml").write_text(f"[x]\nn_notes = {table}\n", encoding="utf-8")
    with pytest.raises(LocaleError, match=r"x\.toml: plural key 'x\.n_notes'"):
        catalogue.__wrapped__(lang, tmp_path)


# A bound written into a text as a number goes stale when core/limits.py changes it: the
# page must pass the limit as a placeholder ("up to {max}"). Found on the first run: the
# dots per question, the summary points, the smallest group, the join code's length and an
# unused note placeholder with the note length.
_LITERAL_BOUND = {
    "en": re.compile(
        r"\b(up to|at least|at most|no more than|maximum|minimum)\s+\d+"
        r"|\b\d+\s+(characters|letters|digits|per question)\b|\(\d+ per\b"
    ),
    "zh": re.compile(r"(最多|至少|不超过|每题)\s*\d+|\d+\s*(个字|字以内|位代码)"),
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_text_writes_a_bound_as_a_literal_number(lang: str) -> None:
    stated = {
        key: value for key, value in catalogue(lang).items() if _LITERAL_BOUND[lang].search(value)
    }
    assert stated == {}
