"""One value for every zh/en pair: what it shows in each language, and how its flat fields,
its exported form and its editing lines turn back into the same value."""

from __future__ import annotations

from core.bilingual import BLANK, Bilingual, as_lines, fold_fields, parse_lines

PEER = Bilingual("同伴辅导", "Peer mentoring")


def test_english_readers_get_the_english_text_and_everyone_else_the_chinese() -> None:
    assert PEER.get("en") == "Peer mentoring"
    assert PEER.get("zh") == "同伴辅导"
    assert PEER.get("fr") == "同伴辅导"  # the house's default language


def test_exported_files_hold_both_languages_chinese_first() -> None:
    assert list(PEER.as_dict().items()) == [("zh", "同伴辅导"), ("en", "Peer mentoring")]


def test_flat_fields_fold_back_into_the_same_value_and_leave_other_fields_alone() -> None:
    row = {"key": "peer", **PEER.fields("label"), **BLANK.fields("description")}
    assert list(row) == ["key", "label_zh", "label_en", "description_zh", "description_en"]
    assert fold_fields(row, "label", "description") == {
        "key": "peer",
        "label": PEER,
        "description": Bilingual("", ""),
    }


def test_editing_lines_read_back_as_the_texts_they_show() -> None:
    texts = (PEER, Bilingual("其他", "Other"))
    assert as_lines(texts) == "同伴辅导 | Peer mentoring\n其他 | Other"
    assert parse_lines(as_lines(texts)) == texts


def test_a_line_without_english_stands_for_both_and_blank_lines_are_skipped() -> None:
    assert parse_lines(" 伙伴 \n\n  | only English\n志愿者 |  ") == (
        Bilingual("伙伴", "伙伴"),
        Bilingual("志愿者", "志愿者"),
    )
