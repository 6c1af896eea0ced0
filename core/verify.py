"""Check an export bundle: the manifest's signature, then every file against its digest.

Kept apart from `core.export` on purpose (and importing nothing of it), so the checker does
not share the writer's mistakes. `verify_bundle` returns a `Verification` value and never
raises for a bad bundle, whatever the files contain. It must never modify the bundle.

A valid signature proves the files are those the holder of the key exported. Which key that
is, the reader decides: compare the fingerprint with the one the instance shows, or pass
`expected_fingerprint`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from core.crypto import human_codes, signatures
from core.i18n import LANGUAGES, Message, normalize_language, t

MANIFEST_NAME: Final = "manifest.json"
SIGNATURE_NAME: Final = "manifest.sig"
PUBLIC_KEY_NAME: Final = "public_key.pem"
MANIFEST_FORMAT: Final = "beidui-export/1"
_ENVELOPE: Final = frozenset({MANIFEST_NAME, SIGNATURE_NAME, PUBLIC_KEY_NAME})


@dataclass(frozen=True)
class Verification:
    """The outcome: valid, or the problem and (where one file is to blame) its name."""

    is_valid: bool
    problem: Message | None = None
    changed_file: str | None = None
    fingerprint: str | None = None


def _problem(name: str, file: str | None = None, **params: Any) -> Verification:
    if file is not None:
        params["file"] = file
    return Verification(False, Message(f"export.verify.{name}", params), file)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _files(manifest: bytes) -> dict[str, tuple[str, int]] | None:
    try:
        document = json.loads(manifest.decode("utf-8"))
        if document.get("format") != MANIFEST_FORMAT:
            return None
        out: dict[str, tuple[str, int]] = {}
        for name, entry in document["files"].items():
            # A name must be a plain file in the bundle, never a path out of it.
            if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name:
                return None
            out[name] = (str(entry["sha256"]).lower(), int(entry["size"]))
        return out
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        return None


def verify_bundle(path: Path | str, expected_fingerprint: str | None = None) -> Verification:
    """Whether the bundle at `path` is intact; never raises for a damaged bundle."""
    bundle = Path(path)
    manifest = _read(bundle / MANIFEST_NAME)
    if manifest is None:
        return _problem("missing_manifest", MANIFEST_NAME)
    signature = _read(bundle / SIGNATURE_NAME)
    if signature is None:
        return _problem("missing_signature", SIGNATURE_NAME)
    pem = _read(bundle / PUBLIC_KEY_NAME)
    if pem is None:
        return _problem("missing_public_key", PUBLIC_KEY_NAME)
    try:
        public_key = signatures.public_key_from_pem(pem)
    except (ValueError, TypeError):
        return _problem("bad_public_key", PUBLIC_KEY_NAME)
    fingerprint = human_codes.fingerprint(public_key)
    if expected_fingerprint is not None and not hmac.compare_digest(
        fingerprint, expected_fingerprint.strip().upper()
    ):
        return _problem("wrong_key", PUBLIC_KEY_NAME, fingerprint=fingerprint)
    if not signatures.verify_signature(public_key, manifest, signature):
        return _problem("bad_signature", SIGNATURE_NAME)
    files = _files(manifest)
    if files is None:
        return _problem("bad_manifest", MANIFEST_NAME)
    for name, (digest, size) in sorted(files.items()):
        content = _read(bundle / name)
        if content is None:
            return _problem("missing_file", name)
        if len(content) != size or hashlib.sha256(content).hexdigest() != digest:
            return _problem("changed_file", name)
    try:
        present = sorted(p.name for p in bundle.iterdir())
    except OSError:
        return _problem("missing_manifest", MANIFEST_NAME)
    for name in present:
        if name not in files and name not in _ENVELOPE:
            return _problem("extra_file", name)
    return Verification(True, None, None, fingerprint)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m core.verify BUNDLE_DIR [--lang zh|en] [--fingerprint F]`: exit 0 if valid."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m core.verify")
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--lang", choices=LANGUAGES, default="en")
    parser.add_argument("--fingerprint", default=None)
    args = parser.parse_args(argv)
    lang = normalize_language(args.lang)
    result = verify_bundle(args.bundle, args.fingerprint)
    if result.is_valid:
        print(f"valid ({result.fingerprint})")
        print(t("export.verify.valid", lang))
        return 0
    assert result.problem is not None
    if result.changed_file is not None:
        print(f"invalid: {result.changed_file}")
    else:
        print("invalid")
    print(t(result.problem.key, lang, **result.problem.params))
    return 1


if __name__ == "__main__":
    sys.exit(main())
