"""The instance secret: the card HMAC key and the live-results key wrapper, one per instance.

Never regenerated over an existing one (that would make every issued card unusable), never
readable by anyone but the owner.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Final

from core.errors import BeiduiError
from core.files import fsync_directory


class InvalidInstanceSecret(BeiduiError, key="crypto.invalid_instance_secret"):
    """BEIDUI_SECRET_KEY or the secret file does not hold exactly 32 bytes in hex or base64."""


SECRET_ENV_VAR: Final = "BEIDUI_SECRET_KEY"
_SECRET_LEN: Final = 32


def _decode_secret(text: str) -> bytes:
    text = text.strip()
    # Hex first: 64 hex digits are also valid base64 (of 48 bytes), never the other way round.
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        return bytes.fromhex(text)
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != _SECRET_LEN:
        raise InvalidInstanceSecret()
    return raw


def load_or_create_instance_secret(path: Path) -> bytes:
    """The 32-byte instance secret: card HMAC key and live-results key wrapper.

    `BEIDUI_SECRET_KEY` (64 hex digits or base64 of 32 bytes) wins if set. Otherwise the file
    at `path` is read, or created atomically (hex text, mode 0o600): two processes starting at
    once agree on one secret because the file is linked into place only if absent. Losing the
    secret makes every issued card unusable, so it is never regenerated over an existing file.
    """
    from_env = os.environ.get(SECRET_ENV_VAR)
    if from_env:
        return _decode_secret(from_env)
    try:
        return _read_secret_file(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask can only remove bits; make the mode exact
        os.write(fd, (secrets.token_bytes(_SECRET_LEN).hex() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic, and fails rather than replace a secret another process made
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    fsync_directory(path.parent)  # the link itself must survive a power cut before cards exist
    return _read_secret_file(path)


def _read_secret_file(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        # Readable by others means the secret may already be out; at least stop it spreading.
        os.chmod(path, 0o600)
    return _decode_secret(path.read_text(encoding="ascii"))
