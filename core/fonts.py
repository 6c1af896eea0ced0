"""The CJK font Beidui ships (static/fonts/), for charts, PDFs and printed pages.

Workshop rooms have no internet and many machines there have no Chinese font, so every
renderer gets its font from the repository, never from a system or a CDN:

* vl-convert (charts to PNG/SVG/PDF): `register_with_vl_convert()`, then `CHART_FONT` in the
  chart config;
* fpdf2 (PDF exports): `font_path()`;
* browsers: Streamlit serves static/fonts/ at `app/static/fonts/...` (see docs/fonts.md);
  self-contained HTML embeds `woff2_data_url()`.

This module never imports Streamlit and never fetches anything.
"""

from __future__ import annotations

import base64
import threading
from functools import cache
from pathlib import Path

FONTS_DIR = Path(__file__).resolve().parent.parent / "static" / "fonts"
"""Where the subset font files live (built by scripts/build_font.py)."""

CHART_FONT = "Noto Sans SC"
"""The family name that vl-convert, fpdf2 and the browser @font-face all see."""

REGULAR_TTF = FONTS_DIR / "NotoSansSC-Regular.ttf"
BOLD_TTF = FONTS_DIR / "NotoSansSC-Bold.ttf"
REGULAR_WOFF2 = FONTS_DIR / "NotoSansSC-Regular.woff2"
LICENSE_FILE = FONTS_DIR / "OFL.txt"

STATIC_URL = "app/static/fonts/NotoSansSC-Regular.woff2"
"""The WOFF2's URL relative to the app root when `server.enableStaticServing` is on."""

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

        vl_convert.register_font_directory(str(FONTS_DIR))
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
