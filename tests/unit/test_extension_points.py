"""Adding a counting method or an export format touches three files (docs/architecture.md,
"Where do I change X?"): its module and its text in each of the zh and en locale files.

Nothing lists the methods or the formats: `core.tally.registry` and `core.export_formats` find
every module of their package. The tests below add a method and a format the way a developer
would — a new module in the package, a new text in a copy of each language's locale file —
and show both are registered and their texts pass the locale check, with no other file edited.
"""

from __future__ import annotations

import filecmp
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

import core.tally.methods
from core import export_formats
from core.export_data import Format
from core.i18n import LANGUAGES, LOCALES_DIR, catalogue
from core.tally.counting import CountingMethod
from core.tally.registry import COUNTING_METHODS, DEFAULT_COUNTING, discover_counting_methods


def texts_needed(methods: Iterable[CountingMethod], formats: Iterable[Format]) -> set[str]:
    """Every locale key a registered method or format is shown with."""
    keys = {f"export.progress.{f.key}" for f in formats}
    for m in methods:
        keys |= {m.name_key, m.score_key, m.unit_key, f"{m.unit_key}_one", m.description_key}
    return keys


def missing_texts(locales_dir: Path, needed: set[str]) -> dict[str, list[str]]:
    """The needed keys each language lacks, and keys one language has that the other lacks."""
    books = {lang: catalogue.__wrapped__(lang, locales_dir) for lang in LANGUAGES}
    every_key = set().union(*books.values())
    return {
        lang: sorted((needed | every_key) - set(book))
        for lang, book in books.items()
        if (needed | every_key) - set(book)
    }


def changed_files(before: Path, after: Path) -> list[str]:
    """Files added or changed between two copies of a folder (relative names)."""
    changed: list[str] = []

    def walk(cmp: filecmp.dircmp[str], prefix: str) -> None:
        changed.extend(prefix + n for n in cmp.right_only + cmp.diff_files)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(before, after), "")
    return sorted(changed)


@pytest.fixture
def locales(tmp_path: Path) -> Path:
    """A copy of data/locales a test may add texts to."""
    copy = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, copy)
    return copy


@pytest.fixture
def overlay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder that joins the methods package (as if a file were added to it), undone after."""
    folder = tmp_path / "overlay"
    folder.mkdir()
    before = set(sys.modules)
    monkeypatch.setattr(core.tally.methods, "__path__", [*core.tally.methods.__path__, str(folder)])
    yield folder
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_the_registry_lists_todays_methods_in_todays_order() -> None:
    assert list(COUNTING_METHODS) == [
        "points",
        "first_choices",
        "appearances",
        "instant_runoff",
        "schulze",
    ]
    assert next(iter(COUNTING_METHODS)) == DEFAULT_COUNTING
    assert discover_counting_methods() == COUNTING_METHODS


def test_a_bundle_is_built_in_todays_format_order() -> None:
    assert [(f.key, f.starts_at) for f in export_formats.FORMATS] == [
        ("csv", 0.15),
        ("json", 0.2),
        ("chart", 0.25),
        ("xlsx", 0.4),
        ("html", 0.55),
        ("pdf", 0.7),
    ]
    assert export_formats.discover_formats() == export_formats.FORMATS


def test_every_registered_method_and_format_has_its_texts_in_both_languages() -> None:
    needed = texts_needed(COUNTING_METHODS.values(), export_formats.FORMATS)
    assert missing_texts(LOCALES_DIR, needed) == {}


NEW_METHOD = '''"""Last places: how often a method is ranked last (a test's method)."""

from __future__ import annotations

from collections.abc import Sequence

from core.domain import MethodId
from core.tally.counting import counting_method
from core.tally.profile import Ballots, Profile, build_profile
from core.tally.result import TallyResult, rank_by_score


def last_places(
    ballots: Ballots | Profile, methods: Sequence[MethodId], ballot_size: int | None = None
) -> TallyResult:
    p = build_profile(ballots, methods, ballot_size)
    last = p.position_counts[:, -1].tolist()
    return rank_by_score("last_places", p.methods, last, p.ballot_count)


COUNTING = counting_method("last_places", last_places, position=25)
'''

NEW_METHOD_TEXTS = {
    "zh": '\n[tally.method.last_places]\nname = "垫底"\nscore = "垫底次数"\nunit = "次"\n'
    'unit_one = "次"\ndescription = "排在最后的次数。"\n',
    "en": '\n[tally.method.last_places]\nname = "Last places"\nscore = "Last places"\n'
    'unit = "last places"\nunit_one = "last place"\ndescription = "How often it came last."\n',
}


def test_a_new_counting_method_is_its_module_and_two_locale_texts(
    overlay: Path, locales: Path
) -> None:
    # 1. its module, in the methods package
    (overlay / "last_places.py").write_text(NEW_METHOD, encoding="utf-8")
    # 2-3. its texts, in each language's tally file
    for lang, text in NEW_METHOD_TEXTS.items():
        with (locales / lang / "tally.toml").open("a", encoding="utf-8") as f:
            f.write(text)

    found = discover_counting_methods()
    assert [p.name for p in overlay.iterdir() if p.suffix == ".py"] == ["last_places.py"]
    assert list(found) == [
        "points",
        "first_choices",
        "last_places",
        "appearances",
        "instant_runoff",
        "schulze",
    ]
    assert found["last_places"].function(
        [["a", "b"], ["b", "a"], ["a", "b"]], ["a", "b"], 2
    ).winners == ("b",)
    assert changed_files(LOCALES_DIR, locales) == ["en/tally.toml", "zh/tally.toml"]
    assert missing_texts(locales, texts_needed(found.values(), export_formats.FORMATS)) == {}
    # Without its texts the locale check names what is missing.
    assert missing_texts(LOCALES_DIR, texts_needed(found.values(), ())) == {
        lang: [f"tally.method.last_places.{k}" for k in NEW_TEXT_NAMES] for lang in LANGUAGES
    }


NEW_TEXT_NAMES = ("description", "name", "score", "unit", "unit_one")

NEW_FORMAT = '''"""The bundle's language as a text file (a test's format)."""

from __future__ import annotations

from core.export_data import Format, Rendering


def files(r: Rendering) -> dict[str, bytes]:
    return {"language.txt": r.lang.encode()}


EXPORT_FORMAT = Format("text", 0.3, files)
'''


def test_a_new_export_format_is_its_module_and_two_locale_texts(
    tmp_path: Path, locales: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1. its module, in the formats package (a folder that joins the package's path)
    folder = tmp_path / "formats_overlay"
    folder.mkdir()
    (folder / "export_text.py").write_text(NEW_FORMAT, encoding="utf-8")
    path = [*export_formats.__path__, str(folder)]
    monkeypatch.setattr(export_formats, "__path__", path)
    # 2-3. its progress text, in each language's export file
    for lang, words in {"zh": "正在写文本…", "en": "Writing text…"}.items():
        toml = locales / lang / "export.toml"
        source = toml.read_text(encoding="utf-8")
        assert source.count("[export.progress]\n") == 1
        toml.write_text(
            source.replace("[export.progress]\n", f'[export.progress]\ntext = "{words}"\n'),
            encoding="utf-8",
        )

    before = set(sys.modules)
    try:
        found = export_formats.discover_formats(path)
    finally:
        for name in set(sys.modules) - before:
            del sys.modules[name]
    assert [f.key for f in found] == ["csv", "json", "chart", "text", "xlsx", "html", "pdf"]
    assert [p.name for p in folder.iterdir()] == ["export_text.py"]
    assert changed_files(LOCALES_DIR, locales) == ["en/export.toml", "zh/export.toml"]
    assert missing_texts(locales, texts_needed(COUNTING_METHODS.values(), found)) == {}
    assert missing_texts(LOCALES_DIR, texts_needed((), found)) == {
        lang: ["export.progress.text"] for lang in LANGUAGES
    }
