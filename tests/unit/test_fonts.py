"""The shipped CJK font: present, small, licensed, covering our texts, and used by vl-convert.

The chart tests are the proof that matters: they pass on a machine with no Chinese font
installed (`fc-list :lang=zh` prints nothing), because the only CJK glyphs vl-convert can
find there are the ones in static/fonts/.
"""

from __future__ import annotations

import io
import threading
import unicodedata
from pathlib import Path

import pytest
import vl_convert
from PIL import Image, ImageChops

from core import fonts

ROOT = Path(__file__).resolve().parents[2]
PLOT_HEIGHT = 60
PADDING = 5  # Vega's default padding around the plot, in pixels


def _bar_chart_png(label: str) -> Image.Image:
    """A one-bar chart whose only text that varies is the x-axis label `label`."""
    spec = {
        "width": 120,
        "height": PLOT_HEIGHT,
        "data": {"values": [{"x": label, "y": 3}]},
        "mark": "bar",
        "encoding": {
            "x": {"field": "x", "type": "nominal", "title": None, "axis": {"labelAngle": 0}},
            "y": {"field": "y", "type": "quantitative", "title": None},
        },
        "config": fonts.chart_config(),
    }
    fonts.register_with_vl_convert()
    return Image.open(io.BytesIO(vl_convert.vegalite_to_png(spec))).convert("RGB")


def _differing_box(a: Image.Image, b: Image.Image) -> tuple[int, int, int, int] | None:
    assert a.size == b.size, "the charts differ in size, so their layouts differ, not glyphs"
    return ImageChops.difference(a, b).getbbox()


def test_the_font_files_ship_small_for_pages_and_a_print_font_under_11_mb_for_exports() -> None:
    shipped = [fonts.REGULAR_TTF, fonts.REGULAR_WOFF2, fonts.LICENSE_FILE, fonts.PRINT_TTF]
    for path in shipped:
        assert path.is_file(), f"{path} is missing: run scripts/build_font.py"
    # The print TTF covers GB 18030's BMP hanzi (~10.3 MB) and is read by exports only;
    # phones load the WOFF2, card sheets the small TTF (it is parsed on console reruns).
    assert fonts.PRINT_TTF.stat().st_size < 11_000_000
    assert fonts.REGULAR_TTF.stat().st_size < 1_500_000
    assert fonts.REGULAR_WOFF2.stat().st_size < 1_000_000
    assert (fonts.PRINT_DIR / "OFL.txt").is_file()


def test_the_ofl_licence_ships_next_to_the_fonts() -> None:
    text = fonts.LICENSE_FILE.read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in text


def test_font_path_gives_a_truetype_file_for_fpdf2_even_when_bold_is_asked() -> None:
    for bold in (False, True):
        path = fonts.font_path(bold=bold)
        assert path.suffix == ".ttf"
        assert path.read_bytes()[:4] == b"\x00\x01\x00\x00"  # TrueType outlines


def test_the_family_name_in_the_font_is_chart_font() -> None:
    ttlib = pytest.importorskip("fontTools.ttLib")
    font = ttlib.TTFont(fonts.REGULAR_TTF)
    assert font["name"].getDebugName(1) == fonts.CHART_FONT


def test_the_font_covers_every_character_in_the_locale_and_template_files() -> None:
    ttlib = pytest.importorskip("fontTools.ttLib")
    cmap = ttlib.TTFont(fonts.REGULAR_TTF).getBestCmap()
    used: set[str] = set()
    for folder in (ROOT / "data" / "locales", ROOT / "data" / "templates"):
        for path in folder.rglob("*.toml"):
            used.update(path.read_text(encoding="utf-8"))
    # Emoji and other pictographs (So) come from the viewer's emoji font: Noto Sans SC has none.
    text = {c for c in used if unicodedata.category(c) not in {"So", "Cf", "Mn", "Me", "Cc", "Zl"}}
    missing = sorted(c for c in text if not c.isspace() and ord(c) not in cmap)
    assert not missing, (
        f"the shipped font cannot show {''.join(missing)!r}: rerun scripts/build_font.py"
    )


def test_the_font_covers_the_3755_common_gb2312_hanzi() -> None:
    ttlib = pytest.importorskip("fontTools.ttLib")
    cmap = ttlib.TTFont(fonts.REGULAR_TTF).getBestCmap()
    level1 = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                level1.append(bytes((hi, lo)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    assert len(level1) == 3755
    assert all(ord(c) in cmap for c in level1)


def test_registering_with_vl_convert_from_many_threads_at_once_is_harmless() -> None:
    errors: list[BaseException] = []

    def register() -> None:
        try:
            fonts.register_with_vl_convert()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    fonts.register_with_vl_convert()


def test_two_chinese_labels_render_as_different_glyphs_where_the_labels_are() -> None:
    funding, action = _bar_chart_png("资助"), _bar_chart_png("行动")
    box = _differing_box(funding, action)
    assert box is not None, "资助 and 行动 rendered identically: the CJK font was not used"
    top = box[1]
    assert top >= PADDING + PLOT_HEIGHT, f"pixels changed at {box}, above the x-axis labels"


def test_a_chinese_label_does_not_render_as_tofu_boxes() -> None:
    # Two unassigned code points: no font has them, so both draw the same .notdef boxes.
    tofu = _bar_chart_png("\u0378\u0379")
    assert _differing_box(tofu, _bar_chart_png("\u0380\u0381")) is None
    for label in ("资助", "行动"):
        assert _differing_box(tofu, _bar_chart_png(label)) is not None, f"{label} drew as tofu"


def test_the_woff2_data_url_embeds_the_shipped_woff2() -> None:
    url = fonts.woff2_data_url()
    assert url.startswith("data:font/woff2;base64,d09GMg")  # base64 of the b"wOF2" magic
    css = fonts.font_face_css()
    assert f'font-family: "{fonts.CHART_FONT}"' in css
    assert "http" not in css


# Issue 11: traditional, ethnic-minority and name characters a Chinese input method types.
RARE_AND_TRADITIONAL = "佤畲婧琦社區互助（臺灣經驗）䶮"


def test_the_print_font_covers_every_bmp_hanzi_of_gb18030_simplified_and_traditional() -> None:
    assert fonts.missing_glyphs([RARE_AND_TRADITIONAL]) == []
    every_hanzi = [chr(cp) for cp in range(0x4E00, 0x9FA6)] + [
        chr(cp) for cp in range(0x3400, 0x4DB6)
    ]
    assert fonts.missing_glyphs(every_hanzi) == []
    gbk = []
    for hi in range(0x81, 0xFF):
        for lo in range(0x40, 0xFF):
            try:
                gbk.append(bytes((hi, lo)).decode("gbk"))
            except UnicodeDecodeError:
                continue
    # GBK has private-use code points no font draws; of its real characters only ≒ is
    # missing, because Noto Sans SC itself has no such glyph (docs/fonts.md says so).
    assert fonts.missing_glyphs(c for c in gbk if unicodedata.category(c) != "Co") == ["≒"]


def test_a_character_the_font_lacks_fails_loudly_with_a_named_localized_error() -> None:
    from core.i18n import t

    with pytest.raises(fonts.MissingGlyphs) as caught:
        fonts.check_glyphs(["正常的字", "吉祥的𠮷🙂"])
    assert caught.value.params["chars"] == "🙂 𠮷"
    assert caught.value.params["text"] == "吉祥的𠮷🙂"
    for lang in ("zh", "en"):
        assert "𠮷" in t(caught.value.key, lang, **caught.value.params)
    fonts.check_glyphs(["a\u200db\ufe0f", "\t\n"])  # invisible marks are never "missing"


@pytest.mark.parametrize("char", list(dict.fromkeys(RARE_AND_TRADITIONAL)))
def test_a_rare_or_traditional_character_draws_as_its_own_glyph_in_a_chart_png(char: str) -> None:
    tofu = _bar_chart_png("\u0378")
    drawn = _bar_chart_png(char)
    assert _differing_box(tofu, drawn) is not None, f"{char} drew as a box"
    assert _differing_box(_bar_chart_png(""), drawn) is not None, f"{char} was dropped"
