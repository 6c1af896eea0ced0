"""QR codes for join links, drawn locally with segno (no web service, no external references).

Pure functions: the same URL always gives the same code. The SVG is one `<path>`, meant to be
inlined in HTML; the PNG is for fpdf2 and Excel exports.
"""

from __future__ import annotations

import io
from typing import Literal

import segno

ErrorLevel = Literal["m", "q"]
"""M survives ~15 % damage, Q ~25 %; printed cards get folded, so Q is the default."""

DEFAULT_ERROR: ErrorLevel = "q"


def _make(url: str, error: ErrorLevel) -> segno.QRCode:
    if not url:
        raise ValueError("a QR code needs a non-empty URL")
    # boost_error=False: the level asked for is the level printed, so codes stay comparable.
    # micro=False: phone cameras do not all read Micro QR.
    return segno.make_qr(url, error=error, boost_error=False)


def qr_modules(url: str, error: ErrorLevel = DEFAULT_ERROR) -> tuple[tuple[bool, ...], ...]:
    """The QR matrix (True = dark module), without the quiet zone."""
    return tuple(tuple(bool(cell) for cell in row) for row in _make(url, error).matrix)


def qr_svg(
    url: str,
    *,
    scale: float = 1,
    border: int = 4,
    error: ErrorLevel = DEFAULT_ERROR,
    standalone: bool = False,
) -> str:
    """The QR code for `url` as SVG markup.

    By default the SVG has no width/height (only a viewBox), no XML declaration and no
    namespace, so CSS sizes it when it is inlined in HTML. `standalone=True` adds the
    declaration, the SVG namespace and a pixel size (`scale` pixels per module) for an
    .svg file. `border` is the quiet zone in modules (the standard asks for 4).
    """
    code = _make(url, error)
    out = io.BytesIO()
    code.save(
        out,
        kind="svg",
        scale=scale,
        border=border,
        xmldecl=standalone,
        svgns=standalone,
        omitsize=not standalone,
        svgclass="beidui-qr",
        lineclass=None,
        nl=False,
    )
    return out.getvalue().decode("utf-8")


def qr_png_bytes(
    url: str, *, scale: int = 10, border: int = 4, error: ErrorLevel = DEFAULT_ERROR
) -> bytes:
    """The QR code for `url` as a black-and-white PNG (`scale` pixels per module)."""
    out = io.BytesIO()
    _make(url, error).save(out, kind="png", scale=scale, border=border)
    return out.getvalue()
