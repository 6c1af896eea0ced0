"""The export formats, in one place: what a bundle holds and in which order it is built.

Each format is a module of this package that turns a `Rendering` (the `ExportData`, the
language and the signing key's fingerprint) into files by name, and knows nothing of the
database or of the other formats. Nobody lists them: each module declares its own
`EXPORT_FORMAT = Format(key, starts_at, files)` (core/export_data.py) and this package finds
them all, built in the order of `starts_at`. Adding a format: its module here, and its
`export.progress.<key>` text in the zh and en locale files.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from core.export_data import ExportData, Format, Rendering
from core.export_formats.export_charts import ranked_png
from core.i18n import normalize_language, t

__all__ = ["FORMATS", "Format", "ProgressCallback", "build_files", "discover_formats"]

ProgressCallback = Callable[[float, str], None]


class FormatRegistryError(RuntimeError):
    """A format module that does not declare itself properly: a programming error, at import."""


# Read from the file, not `__path__`/`__name__`: the package must also load when this file is
# imported by its own name (`core.export_formats.__init__`, as test_architecture does).
_PACKAGE: Final = "core.export_formats"
_PACKAGE_PATH: Final = (str(Path(__file__).resolve().parent),)


def discover_formats(
    path: Sequence[str] = _PACKAGE_PATH, package: str = _PACKAGE
) -> tuple[Format, ...]:
    """Every `EXPORT_FORMAT` declared by a module of the package, in build order (`starts_at`).

    Modules are read in name order and sorted by `starts_at`, so the order never depends on
    the file system; two formats with one key or one `starts_at` are refused.
    """
    found: list[Format] = []
    for info in sorted(pkgutil.iter_modules(path), key=_name):
        module = importlib.import_module(f"{package}.{info.name}")
        declared = getattr(module, "EXPORT_FORMAT", None)
        if not isinstance(declared, Format):
            raise FormatRegistryError(f"{module.__name__} declares no EXPORT_FORMAT")
        found.append(declared)
    for attribute in ("key", "starts_at"):
        values = [getattr(f, attribute) for f in found]
        if len(set(values)) != len(values):
            raise FormatRegistryError(f"two formats share one {attribute}: {sorted(values)}")
    return tuple(sorted(found, key=lambda f: f.starts_at))


def _name(info: pkgutil.ModuleInfo) -> str:
    return info.name


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
