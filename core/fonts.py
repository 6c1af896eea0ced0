"""The CJK font Beidui ships (static/fonts/), for charts, PDFs and printed pages.

Workshop rooms have no internet and many machines there have no Chinese font, so every
renderer gets its font from the repository, never from a system or a CDN:

* vl-convert (charts to PNG/SVG/PDF): `register_with_vl_convert()`, then `CHART_FONT` in the
  chart config;
* fpdf2: `print_font_path()` for exports, `font_path()` (small) for card sheets;
* browsers: Streamlit serves static/fonts/ at `app/static/fonts/...` (see docs/fonts.md);
  self-contained HTML embeds `woff2_data_url()`.

This module never imports Streamlit and never fetches anything.
"""

from __future__ import annotations

import base64
import io
import threading
import unicodedata
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from core.errors import BeiduiError

FONTS_DIR = Path(__file__).resolve().parent.parent / "static" / "fonts"
"""Where the subset font files live (built by scripts/build_font.py)."""

CHART_FONT = "Noto Sans SC"
"""The family name that vl-convert, fpdf2 and the browser @font-face all see."""

REGULAR_TTF = FONTS_DIR / "NotoSansSC-Regular.ttf"
"""The small TTF (the web coverage): card sheets, whose pages rerun the console often."""
PRINT_DIR = FONTS_DIR / "print"
PRINT_TTF = PRINT_DIR / "NotoSansSC-Print.ttf"
"""The print font: every BMP hanzi GB 18030 requires, simplified and traditional. In its own
folder, because vl-convert picks fonts by family name and must only ever see this one."""
BOLD_TTF = FONTS_DIR / "NotoSansSC-Bold.ttf"
REGULAR_WOFF2 = FONTS_DIR / "NotoSansSC-Regular.woff2"
"""The web font: a small subset (common hanzi and our own texts); browsers fall back to the
viewer's fonts for the rest, which phones and laptops with an input method have."""
LICENSE_FILE = FONTS_DIR / "OFL.txt"

STATIC_URL = "app/static/fonts/NotoSansSC-Regular.woff2"
"""The WOFF2's URL relative to the app root when `server.enableStaticServing` is on."""


class MissingGlyphs(BeiduiError, key="export.errors.missing_glyphs"):
    """A text to print has characters the shipped font cannot draw (emoji, CJK extension B
    and beyond): the export stops rather than print boxes or silently drop them."""


_registered = False
_register_lock = threading.Lock()


def font_path(bold: bool = False) -> Path:
    """The TTF for fpdf2 (`pdf.add_font(CHART_FONT, fname=font_path())`).

    Only the Regular weight ships (the Bold doubles the size); asking for bold returns the
    Bold file if someone built it (`build_font.py --bold`), else the Regular one.
    """
    if bold and BOLD_TTF.is_file():
        return BOLD_TTF
    return REGULAR_TTF


def print_font_path() -> Path:
    """The TTF for exported PDFs (`pdf.add_font(CHART_FONT, fname=print_font_path())`):
    covers what a Chinese input method types; parsing it costs ~0.7 s, so pages that
    rerun often (the card sheet) use `font_path()` instead."""
    return PRINT_TTF


def register_with_vl_convert() -> None:
    """Make vl-convert see the shipped fonts; safe to call from any thread, any number of times.

    vl-convert keeps one font database per process, so registering once is enough; the lock
    keeps two first calls from scanning the directory twice.
    """
    global _registered
    if _registered:
        return
    with _register_lock:
        if _registered:
            return
        import vl_convert

        # Only the print font: the small TTF has the same family name and lacks rare hanzi.
        vl_convert.register_font_directory(str(PRINT_DIR))
        _registered = True


def chart_config() -> dict[str, object]:
    """A Vega-Lite `config` block that puts `CHART_FONT` on every text mark, title and axis."""
    return {
        "font": CHART_FONT,
        "title": {"font": CHART_FONT},
        "axis": {"labelFont": CHART_FONT, "titleFont": CHART_FONT},
        "legend": {"labelFont": CHART_FONT, "titleFont": CHART_FONT},
        "header": {"labelFont": CHART_FONT, "titleFont": CHART_FONT},
        "text": {"font": CHART_FONT},
    }


@cache
def woff2_data_url() -> str:
    """The Regular WOFF2 as a `data:` URL, for HTML documents that must stand alone."""
    encoded = base64.b64encode(REGULAR_WOFF2.read_bytes()).decode("ascii")
    return f"data:font/woff2;base64,{encoded}"


def font_face_css(family: str = CHART_FONT) -> str:
    """An `@font-face` rule embedding the WOFF2 (about 750 kB of base64)."""
    return (
        "@font-face {"
        f' font-family: "{family}";'
        f' src: url("{woff2_data_url()}") format("woff2");'
        " font-weight: 400; font-style: normal; font-display: block; }"
    )


@cache
def _print_cmap() -> frozenset[int]:
    from fontTools.ttLib import TTFont  # a dependency of fpdf2, so always installed

    return frozenset(TTFont(PRINT_TTF, lazy=True).getBestCmap())


def needs_glyph(char: str) -> bool:
    """Whether `char` must be drawn: not whitespace, a control or an invisible format mark
    (variation selectors, zero-width joiners), which renderers skip on purpose."""
    return not char.isspace() and unicodedata.category(char) not in {"Cc", "Cf", "Mn", "Me"}


def missing_glyphs(texts: Iterable[str]) -> list[str]:
    """The distinct characters of `texts` the print TTF cannot draw, sorted."""
    cmap = _print_cmap()
    return sorted({c for text in texts for c in text if needs_glyph(c) and ord(c) not in cmap})


def check_glyphs(texts: Iterable[str]) -> None:
    """Raise `MissingGlyphs` (naming the characters and the first text holding one) when
    the shipped font cannot draw every character of `texts`.

    The print font covers every BMP hanzi of GB 18030, simplified and traditional
    (scripts/build_font.py, PRINT_RANGES), so what a Chinese input method types passes;
    emoji and the rarest hanzi (extension B+) do not, and a PDF or chart with a box or a
    hole where a name should be is worse than no PDF.
    """
    texts = list(texts)
    missing = missing_glyphs(texts)
    if missing:
        holder = next((t for t in texts if any(c in t for c in missing)), "")
        raise MissingGlyphs(
            f"the font cannot draw {''.join(missing)!r}",
            chars=" ".join(missing),
            text=holder[:40],
        )


def subset_face_css(text: str, family: str = CHART_FONT) -> str:
    """An `@font-face` rule embedding only the glyphs `text` needs, cut from the print TTF.

    Self-contained documents with typed text (the report) use this rather than the web
    WOFF2: a note with a traditional or rare character (區 臺 婧) then shows on a machine
    with no Chinese font too, and the embedded font is usually smaller than the WOFF2.
    Deterministic: the same text gives the same bytes.
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.name_IDs = ["*"]  # keep the copyright and licence records (OFL)
    options.notdef_outline = True
    options.recalc_timestamp = False
    font = TTFont(PRINT_TTF, recalcTimestamp=False)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes={ord(c) for c in text} | {0x20})
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.save(buffer)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        "@font-face {"
        f' font-family: "{family}";'
        f' src: url("data:font/ttf;base64,{encoded}") format("truetype");'
        " font-weight: 400; font-style: normal; font-display: block; }"
    )
