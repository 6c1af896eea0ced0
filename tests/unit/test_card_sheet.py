"""Printable voting cards: every code once, escaped text, both languages, nothing external."""

from __future__ import annotations

import re

import pytest

from core import fonts
from core.card_sheet import CARDS_PER_PAGE, instructions, render_card_sheet, render_card_sheet_pdf
from core.i18n import t
from core.qr import qr_svg

CODES = [f"K7QF-{n:04d}" for n in range(23)]
WORKSHOP = "2026 社区基金评估 <script>alert('x')</script> & co"


def join_url(code: str) -> str:
    return f"http://192.168.1.10:8501/?w=ABCD&card={code}"


@pytest.fixture(scope="module")
def sheet() -> str:
    return render_card_sheet(CODES, join_url, WORKSHOP)


def test_every_code_appears_exactly_once_in_large_type(sheet: str) -> None:
    for code in CODES:
        assert sheet.count(code) == 1
        assert f'<div class="code">{code}</div>' in sheet


def test_each_card_carries_the_qr_code_of_its_own_join_link(sheet: str) -> None:
    for code in CODES:
        assert qr_svg(join_url(code)) in sheet
    assert sheet.count('<div class="card">') == len(CODES)


def test_cards_are_split_into_a4_pages_of_ten(sheet: str) -> None:
    pages = -(-len(CODES) // CARDS_PER_PAGE)
    assert sheet.count('<section class="sheet">') == pages
    assert "@page { size: A4 portrait" in sheet
    assert "page-break-after: always" in sheet and "@media print" in sheet


def test_a_workshop_name_with_markup_is_escaped(sheet: str) -> None:
    assert "<script>" not in sheet
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in sheet


def test_nothing_in_the_document_points_outside_it(sheet: str) -> None:
    assert not re.search(r"https?://", sheet)
    assert "<script" not in sheet and "<link" not in sheet and "<img" not in sheet
    assert "default-src 'none'" in sheet  # and the CSP forbids loading anything


def test_the_font_is_embedded_as_a_woff2_data_url(sheet: str) -> None:
    assert fonts.woff2_data_url() in sheet
    assert f'font-family: "{fonts.CHART_FONT}"' in sheet


def test_instructions_come_in_chinese_first_then_english(sheet: str) -> None:
    zh, en = instructions("zh"), instructions("en")
    assert zh and en and zh != en
    assert sheet.count(zh) == len(CODES) and sheet.count(en) == len(CODES)
    assert sheet.index(zh) < sheet.index(en)
    assert '<html lang="zh-CN">' in sheet
    for key in ("cards.used_once", "cards.nobody_records", "cards.keep_or_destroy"):
        assert t(key, "zh") in zh and t(key, "en") in en


def test_every_cards_key_exists_in_both_languages() -> None:
    for key in ("cards.sheet_title", "cards.card_heading", "cards.code_label", "cards.cut_hint"):
        assert t(key, "zh", workshop="w") != key
        assert t(key, "en", workshop="w") != key
        assert t(key, "zh", workshop="w") != t(key, "en", workshop="w")


def test_english_first_puts_english_first() -> None:
    sheet = render_card_sheet(CODES[:2], join_url, "W", lang_order=("en", "zh"))
    assert sheet.index(instructions("en")) < sheet.index(instructions("zh"))
    assert '<html lang="en">' in sheet


@pytest.mark.parametrize(
    ("codes", "lang_order"),
    [([], ("zh", "en")), (["A", "A"], ("zh", "en")), (["A", " "], ("zh", "en")), (["A"], ("fr",))],
)
def test_bad_arguments_are_refused(codes: list[str], lang_order: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        render_card_sheet(codes, join_url, "W", lang_order=lang_order)


def test_the_pdf_has_one_a4_page_per_ten_cards_and_embeds_the_font() -> None:
    pypdf = pytest.importorskip("pypdf")
    import io

    data = render_card_sheet_pdf(CODES, join_url, WORKSHOP)
    assert data == render_card_sheet_pdf(CODES, join_url, WORKSHOP)  # reproducible
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) == -(-len(CODES) // CARDS_PER_PAGE)
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    text = "".join(page.extract_text() for page in reader.pages)
    for code in CODES:
        assert text.count(code) == 1
    assert "匿名投票卡" in text
    assert b"NotoSansSC" in data
