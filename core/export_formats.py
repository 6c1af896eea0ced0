"""The export formats, in one place: what a bundle holds and in which order it is built.

Each format is a module that turns a `Rendering` (the `ExportData`, the language and the
signing key's fingerprint) into files by name, and knows nothing of the database or of
the other formats. Adding a format: write its module with a `files(rendering)` function,
add it to `FORMATS` here, and give it an `export.progress.<key>` text in the locale files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from core import export_charts, export_csv, export_html, export_json, export_pdf, export_xlsx
from core.export_data import ExportData, Rendering
from core.i18n import normalize_language, t

ProgressCallback = Callable[[float, str], None]


@dataclass(frozen=True)
class Format:
    """One format: its progress key (`export.progress.<key>`), how far along the bundle is
    when it starts (0..1, for the progress bar), and the function that builds its files."""

    key: str
    starts_at: float
    files: Callable[[Rendering], dict[str, bytes]]


FORMATS: Final[tuple[Format, ...]] = (
    Format("csv", 0.15, export_csv.files),
    Format("json", 0.2, export_json.files),
    Format("chart", 0.25, export_charts.files),
    Format("xlsx", 0.4, export_xlsx.files),
    Format("html", 0.55, export_html.files),
    Format("pdf", 0.7, export_pdf.files),
)
"""Every format of a bundle, in the order they are built."""


def build_files(
    data: ExportData,
    lang: str,
    fingerprint: str,
    on_progress: ProgressCallback | None = None,
) -> dict[str, bytes]:
    """Every exported file by name (not the manifest, signature or key)."""
    lang = normalize_language(lang)
    rendering = Rendering(data, lang, fingerprint, draw_chart=export_charts.ranked_png)
    files: dict[str, bytes] = {}
    for fmt in FORMATS:
        if on_progress is not None:
            on_progress(fmt.starts_at, t(f"export.progress.{fmt.key}", lang))
        files.update(fmt.files(rendering))
    return files
