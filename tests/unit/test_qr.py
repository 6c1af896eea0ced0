"""QR codes for join links: deterministic, self-contained, at the error level asked for."""

from __future__ import annotations

import re

import pytest

from core.qr import qr_modules, qr_png_bytes, qr_svg

URL = "http://192.168.1.10:8501/?w=ABCD&card=K7QF-2M9X"


def test_the_same_url_always_gives_the_same_matrix_and_svg() -> None:
    assert qr_modules(URL) == qr_modules(URL)
    assert qr_svg(URL) == qr_svg(URL)
    assert qr_png_bytes(URL) == qr_png_bytes(URL)


def test_different_card_codes_give_different_matrices() -> None:
    assert qr_modules(URL) != qr_modules(URL.replace("2M9X", "2M9Y"))


def test_the_matrix_is_a_square_qr_symbol_with_finder_patterns() -> None:
    matrix = qr_modules(URL)
    size = len(matrix)
    assert all(len(row) == size for row in matrix)
    assert (size - 17) % 4 == 0 and size >= 21  # a regular (not micro) QR code
    top_left_finder = [row[:7] for row in matrix[:7]]
    assert all(top_left_finder[0]) and all(top_left_finder[6])
    assert top_left_finder[1] == (True, False, False, False, False, False, True)


def test_error_level_q_needs_a_larger_symbol_than_m_for_the_same_url() -> None:
    assert len(qr_modules(URL, error="q")) >= len(qr_modules(URL, error="m"))
    assert qr_modules(URL, error="q") != qr_modules(URL, error="m")


def test_the_inline_svg_is_one_path_with_no_url_no_namespace_and_no_fixed_size() -> None:
    svg = qr_svg(URL)
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert "http" not in svg  # the link exists only as modules; no xmlns, no href
    assert "href" not in svg
    assert svg.count("<path") == 1
    assert "viewBox" in svg and 'width="' not in svg


def test_the_standalone_svg_declares_its_namespace_and_size() -> None:
    svg = qr_svg(URL, standalone=True, scale=3)
    assert svg.startswith("<?xml")
    assert 'xmlns="http://www.w3.org/2000/svg"' in svg
    size = (len(qr_modules(URL)) + 8) * 3
    assert re.search(rf'width="{size}" height="{size}"', svg)


def test_the_png_is_a_png_scaled_per_module() -> None:
    png = qr_png_bytes(URL, scale=2, border=4)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    side = (len(qr_modules(URL)) + 8) * 2
    assert int.from_bytes(png[16:20], "big") == side  # IHDR width


def test_an_empty_url_is_refused() -> None:
    with pytest.raises(ValueError):
        qr_svg("")
