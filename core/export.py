"""Export a revealed workshop for its evaluators: CSV, Excel, JSON, charts, report, PDF, signed.

`build_bundle` collects the data once (`core.export_collect`, only after the reveal), has
every format of `core.export_formats` turn it into files, and writes them all with a
`manifest.json` of SHA-256 digests, its Ed25519 signature and the public key
(`core.export_signing`), so `core.verify` can show that nothing was changed later.

What an export must never hold, in any file: anything about one person. So no card code
or card digest, no sealed ballot, ballot id or blob, no ballot's role unless the role passed
the k threshold in a breakdown whose complement is also safe (`export_collect.k_safe_breakdown`), no
order that follows casting or storage (ballots, notes and receipts are sorted by content),
no receipt next to a ranking (receipts sit in their own list, sorted), and no timestamp.
CSV and JSON are byte-for-byte deterministic: the same workshop gives the same files.
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from core.config import settings_from_env
from core.console_access import Console
from core.crypto import signatures
from core.db import Database
from core.domain import WorkshopCode
from core.errors import BeiduiError
from core.export_collect import collect
from core.export_formats import ProgressCallback, build_files
from core.export_signing import (
    MANIFEST_NAME,
    PUBLIC_KEY_NAME,
    SIGNATURE_NAME,
    load_or_create_signing_key,
    manifest_bytes,
    signing_fingerprint,
    signing_key_path,
)
from core.i18n import LANGUAGES, normalize_language, t
from core.instance import open_instance


def bundle_name(code: WorkshopCode, lang: str) -> str:
    return f"beidui-{code}-{lang}"


def build_bundle(
    db: Database,
    code: WorkshopCode,
    out_dir: Path,
    lang: str,
    signing_key: Ed25519PrivateKey,
    on_progress: ProgressCallback | None = None,
) -> Path:
    """Write every export plus the signed manifest into `out_dir/beidui-<code>-<lang>/`.

    The bundle is first written to a temporary folder next to it and moved into place, so a
    reader never sees half a bundle. A previous bundle of the same name is replaced; any
    other folder in the way is left alone (`FileExistsError`).
    """
    lang = normalize_language(lang)
    if on_progress is not None:
        on_progress(0.0, t("export.progress.collect", lang))
    data = collect(db, code)
    fingerprint = signing_fingerprint(signing_key)
    files = build_files(data, lang, fingerprint, on_progress)
    if on_progress is not None:
        on_progress(0.9, t("export.progress.sign", lang))
    manifest = manifest_bytes(files, data.workshop.code, fingerprint)
    files[MANIFEST_NAME] = manifest
    files[SIGNATURE_NAME] = signatures.sign(signing_key, manifest)
    files[PUBLIC_KEY_NAME] = signatures.public_key_to_pem(signing_key.public_key())

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / bundle_name(data.workshop.code, lang)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))
    try:
        for name, content in sorted(files.items()):
            (staging / name).write_bytes(content)
        if target.exists():
            if not (target / MANIFEST_NAME).is_file():
                raise FileExistsError(target)
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if on_progress is not None:
        on_progress(1.0, t("export.progress.done", lang))
    return target


_ZIP_EPOCH: Final = (1980, 1, 1, 0, 0, 0)


def bundle_zip(bundle: Path) -> bytes:
    """The bundle as one zip for a download button: sorted names, fixed dates, no folders."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in bundle.iterdir() if p.is_file()):
            info = zipfile.ZipInfo(f"{bundle.name}/{path.name}", date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


@dataclass(frozen=True)
class Downloads:
    """A signed bundle held in memory for a download page: each file and the whole zip."""

    bundle_name: str
    files: Mapping[str, bytes]
    zip_bytes: bytes
    fingerprint: str


def prepare_downloads(
    console: Console,
    data_dir: Path,
    lang: str,
    on_progress: ProgressCallback | None = None,
) -> Downloads:
    """The results page's one action: check the console, build the signed bundle with
    the instance's signing key, and return it in memory (nothing is left on disk)."""
    console.check()
    signing_key = load_or_create_signing_key(signing_key_path(data_dir))
    with tempfile.TemporaryDirectory(prefix="beidui-export-") as tmp:
        bundle = build_bundle(console.db, console.code, Path(tmp), lang, signing_key, on_progress)
        files = {p.name: p.read_bytes() for p in sorted(bundle.iterdir()) if p.is_file()}
        return Downloads(bundle.name, files, bundle_zip(bundle), signing_fingerprint(signing_key))


# --- command line -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m core.export CODE --out DIR [--lang zh|en]`: print the bundle's path."""
    parser = argparse.ArgumentParser(prog="python -m core.export")
    parser.add_argument("code")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--lang", choices=LANGUAGES, default="zh")
    args = parser.parse_args(argv)
    settings = settings_from_env()
    instance = open_instance(settings)
    try:
        key = load_or_create_signing_key(signing_key_path(settings.data_dir))
        started = time.perf_counter()
        path = build_bundle(instance.db, args.code, args.out, args.lang, key)
    except BeiduiError as err:
        print(t(err.key, args.lang, **err.params), file=sys.stderr)
        return 1
    finally:
        instance.db.dispose()
    elapsed = time.perf_counter() - started
    print(f"{path} ({elapsed:.1f} s, {signing_fingerprint(key)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
