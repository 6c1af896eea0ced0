"""The export formats, in one place: what a bundle holds and in which order it is built.

Each format is a module of this package that turns a `Rendering` (the `ExportData`, the
language and the signing key's fingerprint) into files by name, and knows nothing of the
database or of the other formats. Nobody lists them: each module declares its own
`EXPORT_FORMAT = Format(key, starts_at, files)` (core/export_data.py) and this package finds
them all, built in the order of `starts_at`. Adding a format: its module here, and its
`export.progress.<key>` text in the zh and en locale files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from core.discovery import declared_in
from core.export_data import ExportData, Format, Rendering
from core.export_formats.export_charts import ranked_png
from core.i18n import normalize_language, t

__all__ = ["FORMATS", "Format", "ProgressCallback", "build_files", "discover_formats"]

ProgressCallback = Callable[[float, str], None]


# Read from the file, not `__path__`/`__name__`: the package must also load when this file is
# imported by its own name (`core.export_formats.__init__`, as test_architecture does).
_PACKAGE: Final = "core.export_formats"
_PACKAGE_PATH: Final = (str(Path(__file__).resolve().parent),)


def discover_formats(
    path: Sequence[str] = _PACKAGE_PATH, package: str = _PACKAGE
) -> tuple[Format, ...]:
    """Every `EXPORT_FORMAT` declared by a module of the package, in build order (`starts_at`);
    two formats with one key or one `starts_at` are refused (`DiscoveryError`)."""
    return tuple(
        declared_in(
            path, package, "EXPORT_FORMAT", Format, unique=("key", "starts_at"), order="starts_at"
        )
    )


FORMATS: Final[tuple[Format, ...]] = discover_formats()
"""Every format of a bundle, in the order they are built."""


def build_files(
    data: ExportData,
    lang: str,
    fingerprint: str,
    on_progress: ProgressCallback | None = None,
) -> dict[str, bytes]:
    """Every exported file by name (not the manifest, signature or key)."""
    lang = normalize_language(lang)
    rendering = Rendering(data, lang, fingerprint, draw_chart=ranked_png)
    files: dict[str, bytes] = {}
    for fmt in FORMATS:
        if on_progress is not None:
            on_progress(fmt.starts_at, t(f"export.progress.{fmt.key}", lang))
        files.update(fmt.files(rendering))
    return files
