"""The instance's export signing key and the signed manifest of a bundle.

Every bundle carries `manifest.json` (SHA-256 and size of every file), its Ed25519
signature and the public key, so `core.verify` can show that nothing was changed later.
The private key never leaves the instance's secrets folder; only its fingerprint is shown.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from core.crypto import human_codes, signatures
from core.domain import WorkshopCode

MANIFEST_FORMAT: Final = "beidui-export/1"
MANIFEST_NAME: Final = "manifest.json"
SIGNATURE_NAME: Final = "manifest.sig"
PUBLIC_KEY_NAME: Final = "public_key.pem"
SIGNING_KEY_FILE: Final = "signing.key"


def signing_key_path(data_dir: Path) -> Path:
    """Where the instance keeps its export signing key (next to the instance secret)."""
    return data_dir / "secrets" / SIGNING_KEY_FILE


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The instance's Ed25519 export key: read, or created once (PEM, owner-only, atomic).

    Two processes starting at once agree on one key because the file is linked into place
    only if absent; an existing key is never replaced, since evaluators compare fingerprints
    across workshops.
    """
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)  # the umask can only remove bits; make the mode exact
            os.write(fd, signatures.signing_key_to_pem(signatures.new_signing_key()))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        os.chmod(path, 0o600)  # readable by others: at least stop it spreading further
    return signatures.signing_key_from_pem(path.read_bytes())


def manifest_bytes(files: Mapping[str, bytes], code: WorkshopCode, fingerprint: str) -> bytes:
    """The manifest: SHA-256 and size of every file, sorted by name; what the signature covers."""
    document = {
        "format": MANIFEST_FORMAT,
        "workshop": code,
        "signing_key_fingerprint": fingerprint,
        "files": {
            name: {"sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}
            for name, content in sorted(files.items())
        },
    }
    return (json.dumps(document, sort_keys=True, indent=2) + "\n").encode("utf-8")


def signing_fingerprint(signing_key: Ed25519PrivateKey) -> str:
    return human_codes.fingerprint(signing_key.public_key())


def instance_fingerprint(data_dir: Path) -> str:
    """The fingerprint every bundle of this instance is signed with, for public pages (the
    receipts page, the projector), so a third party can pin the key an evaluator's bundle
    must carry: `python -m core.verify BUNDLE --fingerprint XXXX-…`. The key is created
    here if no export made it yet; only its public half's fingerprint leaves."""
    return signing_fingerprint(load_or_create_signing_key(signing_key_path(data_dir)))
