"""Build the CJK font subset that Beidui ships in static/fonts/ (run by hand, not at run time).

Workshops run in rooms with no internet, and many laptops and phones there have no Chinese
font, so the project carries its own. Source: Noto Sans SC (SIL Open Font License 1.1) as the
static TrueType files in the npm package pinned below. The full font is ~10 MB per weight;
we keep only what a workshop needs:

  * ASCII, Latin-1, general punctuation (dashes, curly quotes, ellipsis, ‰, ※), arrows,
    the minus sign, basic geometric shapes and check marks (where the font has them),
  * CJK symbols and punctuation (U+3000–U+303F), full-width forms (U+FF01–U+FF5E, U+FFE0–U+FFE6),
  * GB2312 symbol rows 1, 2, 3, 6 and 8 (①, Ⅰ, ⑴, Greek, pinyin with tone marks),
  * the 3,755 GB2312 level-1 hanzi (the common characters, enumerated with Python's codec),
  * every character found in data/locales/** and data/templates/** when the script runs
    (emoji among them stay out: the source font has none, the viewer's emoji font draws them).

Outputs (all committed): NotoSansSC-Regular.ttf and .woff2 (the list above: card sheets and
browsers), print/NotoSansSC-Print.ttf (exports: PDF via fpdf2, charts via vl-convert; it also
covers every hanzi of GB 18030's BMP part, traditional included: see PRINT_RANGES), OFL.txt
in both folders, BUILD-INFO.json.
The result is byte-for-byte reproducible for the same inputs and fontTools/brotli versions:
the `head.modified` timestamp is kept from the source font.

Usage:
    .venv/bin/pip install -r requirements-tools.txt
    .venv/bin/python scripts/build_font.py                 # runs `npm pack` for the pinned package
    .venv/bin/python scripts/build_font.py --tarball X.tgz  # use an already downloaded tarball
    .venv/bin/python scripts/build_font.py --check          # fail if the shipped font misses
                                                            # a character used in data/
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "static" / "fonts"
TEXT_DIRS = (ROOT / "data" / "locales", ROOT / "data" / "templates")

NPM_PACKAGE = "@expo-google-fonts/noto-sans-sc"
NPM_VERSION = "0.4.3"
# sha256 of the tarball `npm pack` fetched on 2026-11-29; a changed tarball must be reviewed.
NPM_TARBALL_SHA256 = "0d69d0f4971d2ff574e3d93cbc218dc950bf3f3f8f8e2c008d97687ed53aee59"
WEIGHTS = {
    # output style -> path inside the npm tarball
    "Regular": "package/400Regular/NotoSansSC_400Regular.ttf",
    "Bold": "package/700Bold/NotoSansSC_700Bold.ttf",
}
LICENSE_MEMBER = "package/LICENSE_FONT"

FIXED_RANGES: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 supplement
    (0x2010, 0x2027),  # dashes, quotes, bullets, ellipsis
    (0x2030, 0x203B),  # per mille, primes, guillemets, reference mark
    (0x2190, 0x2199),  # arrows
    (0x2212, 0x2212),  # minus sign (charts print negative numbers with it)
    (0x25A0, 0x25CF),  # squares, triangles, circles (▲ ▼ ● ○ in rankings and lists)
    (0x2713, 0x2718),  # check and cross marks
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0xFF01, 0xFF5E),  # full-width ASCII forms
    (0xFFE0, 0xFFE6),  # full-width signs (￥ ￡ ￠ …)
)
PRINT_RANGES: tuple[tuple[int, int], ...] = (
    (0x2E80, 0x2FDF),  # CJK radicals supplement, Kangxi radicals
    (0x3100, 0x312F),  # bopomofo (Taiwan's phonetic input)
    (0x31A0, 0x31EF),  # bopomofo extended, CJK strokes
    (0x3200, 0x33FF),  # enclosed CJK letters, CJK compatibility (㈠ ㎡)
    (0x3400, 0x4DBF),  # CJK extension A (GB 18030's rare hanzi, many name characters)
    (0x4E00, 0x9FFF),  # CJK unified ideographs: simplified AND traditional
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE10, 0xFE1F),  # vertical forms
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF00, 0xFFEF),  # half-width and full-width forms
)
"""The print font (TTF: PDF and chart images) also covers what a Chinese input method can
type: every BMP hanzi GB 18030 requires (unified ideographs and extension A), traditional
forms included, plus every GBK character. Characters outside it (extension B and beyond,
emoji) make an export fail loudly instead of printing a box (core.fonts.check_glyphs)."""
GB2312_SYMBOL_ROWS = (0xA1, 0xA2, 0xA3, 0xA6, 0xA8)
GB2312_LEVEL1_ROWS = range(0xB0, 0xD8)  # 0xB0A1–0xD7F9: the 3,755 level-1 hanzi


def gb2312_chars(rows: Iterable[int]) -> Iterator[str]:
    for hi in rows:
        for lo in range(0xA1, 0xFF):
            try:
                yield bytes((hi, lo)).decode("gb2312")
            except UnicodeDecodeError:
                continue


def gbk_chars() -> Iterator[str]:
    """Every character of GBK (GB 18030's two-byte part), enumerated with Python's codec."""
    for hi in range(0x81, 0xFF):
        for lo in range(0x40, 0xFF):
            try:
                yield bytes((hi, lo)).decode("gbk")
            except UnicodeDecodeError:
                continue


def project_text_chars() -> set[str]:
    """Every character in the project's locale and template files."""
    chars: set[str] = set()
    for folder in TEXT_DIRS:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                try:
                    chars.update(path.read_text(encoding="utf-8"))
                except UnicodeDecodeError:
                    continue
    return {c for c in chars if c.isprintable() and not c.isspace()} | {" "}


def wanted_codepoints() -> list[int]:
    cps: set[int] = set()
    for lo, hi in FIXED_RANGES:
        cps.update(range(lo, hi + 1))
    cps.update(ord(c) for c in gb2312_chars(GB2312_SYMBOL_ROWS))
    cps.update(ord(c) for c in gb2312_chars(GB2312_LEVEL1_ROWS))
    cps.update(ord(c) for c in project_text_chars())
    return sorted(cps)


def print_codepoints() -> list[int]:
    """The TTF's coverage: the web subset plus everything in PRINT_RANGES and GBK."""
    cps = set(wanted_codepoints())
    for lo, hi in PRINT_RANGES:
        cps.update(range(lo, hi + 1))
    cps.update(ord(c) for c in gbk_chars())
    return sorted(cps)


def npm_pack(dest: Path) -> Path:
    spec = f"{NPM_PACKAGE}@{NPM_VERSION}"
    print(f"npm pack {spec} …", file=sys.stderr)
    out = subprocess.run(
        ["npm", "pack", spec, "--silent", "--pack-destination", str(dest)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dest / out.stdout.strip().splitlines()[-1]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def subset_font(source: bytes, codepoints: list[int]) -> tuple[bytes, bytes, int]:
    """Return (ttf, woff2, glyph count) for the subset of `source` covering `codepoints`
    (the codepoints the source lacks are simply absent)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.name_IDs = ["*"]  # keep copyright, licence and description records
    options.notdef_outline = True  # a missing character shows a visible box, not nothing
    options.recalc_timestamp = False  # reproducible output
    font = TTFont(io.BytesIO(source), recalcTimestamp=False)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=codepoints)
    subsetter.subset(font)
    ttf = io.BytesIO()
    font.save(ttf)
    font.flavor = "woff2"
    woff2 = io.BytesIO()
    font.save(woff2)
    return ttf.getvalue(), woff2.getvalue(), len(font.getGlyphOrder())


def must_cover(char: str) -> bool:
    """Text characters the font must have; pictographs (emoji: category So) and invisible
    format marks are left to the viewer's emoji font, since Noto Sans SC has none."""
    return unicodedata.category(char) not in {"So", "Cf", "Mn", "Me", "Cc"}


def missing_in_shipped_font() -> list[str]:
    """Text characters used in data/ that the committed TTF cannot show."""
    from fontTools.ttLib import TTFont

    cmap = TTFont(OUT_DIR / "NotoSansSC-Regular.ttf").getBestCmap()  # the smaller coverage
    return sorted(c for c in project_text_chars() if must_cover(c) and ord(c) not in cmap)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, help="use this npm tarball instead of npm pack")
    parser.add_argument("--bold", action="store_true", help="also build the Bold weight")
    parser.add_argument("--check", action="store_true", help="only check coverage of data/")
    args = parser.parse_args(argv)

    if args.check:
        missing = missing_in_shipped_font()
        if missing:
            print("missing from the shipped font: " + "".join(missing), file=sys.stderr)
            print("rebuild it: python scripts/build_font.py", file=sys.stderr)
            return 1
        print("the shipped font covers every character in data/")
        return 0

    import brotli
    import fontTools

    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball or npm_pack(Path(tmp))
        raw = tarball.read_bytes()
        if sha256(raw) != NPM_TARBALL_SHA256:
            print(f"tarball sha256 {sha256(raw)} != pinned {NPM_TARBALL_SHA256}", file=sys.stderr)
            return 2
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:

            def member(name: str) -> bytes:
                extracted = tar.extractfile(name)
                if extracted is None:
                    raise SystemExit(f"{name} not found in {tarball}")
                return extracted.read()

            sources = {style: member(path) for style, path in WEIGHTS.items()}
            licence = member(LICENSE_MEMBER)

    codepoints = wanted_codepoints()
    # Two coverages: browsers get the small WOFF2 (a hundred phones download it over the
    # room's Wi-Fi, and their own fonts draw rarer characters); PDF and chart images, which
    # have no fallback font, get the TTF that covers GB 18030's BMP hanzi.
    print_cps = print_codepoints()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "OFL.txt").write_bytes(licence)
    info: dict[str, object] = {
        "family": "Noto Sans SC",
        "licence": "SIL Open Font License 1.1 (OFL.txt)",
        "source": {
            "registry": "npm",
            "package": NPM_PACKAGE,
            "version": NPM_VERSION,
            "tarball_sha256": NPM_TARBALL_SHA256,
        },
        "tools": {"fonttools": fontTools.version, "brotli": brotli.version},
        "codepoints": {"web": len(codepoints), "print": len(print_codepoints())},
        "files": {},
    }
    files: dict[str, object] = {}
    for style in ("Regular", "Bold") if args.bold else ("Regular",):
        ttf, woff2, glyphs = subset_font(sources[style], codepoints)
        outputs = [
            (f"NotoSansSC-{style}.ttf", ttf, glyphs),
            (f"NotoSansSC-{style}.woff2", woff2, glyphs),
        ]
        if style == "Regular":
            print_ttf, _, print_glyphs = subset_font(sources[style], print_cps)
            (OUT_DIR / "print").mkdir(exist_ok=True)
            (OUT_DIR / "print" / "OFL.txt").write_bytes(licence)
            outputs.append(("print/NotoSansSC-Print.ttf", print_ttf, print_glyphs))
        for name, data, glyphs in outputs:
            (OUT_DIR / name).write_bytes(data)
            files[name] = {
                "bytes": len(data),
                "sha256": sha256(data),
                "source_sha256": sha256(sources[style]),
                "glyphs": glyphs,
            }
            print(f"{name}: {len(data):,} bytes, {glyphs} glyphs", file=sys.stderr)
    info["files"] = files
    (OUT_DIR / "BUILD-INFO.json").write_text(
        json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
