"""Facilitator passphrases: the minimum rules for a new one and its self-describing scrypt hash.

A passphrase is never kept beyond the call that received it, nor in a module-level variable.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import unicodedata
from typing import Final

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from core.errors import BeiduiError
from core.limits import MAX_PASSPHRASE_LENGTH, MAX_PASSPHRASE_TEXT, MIN_PASSPHRASE_LENGTH


class WrongPassphrase(BeiduiError, key="crypto.wrong_passphrase"):
    """The passphrase does not open the box key (or the stored blob was altered)."""


class WeakPassphrase(BeiduiError, key="crypto.weak_passphrase"):
    """A new passphrase breaks the minimum rules (params: min_length)."""


# n = 2^14, r = 8, p = 1: ~32 ms and 16 MiB per call here. Stored with every hash and blob,
# so it can be raised later without breaking what exists (see `needs_rehash`).
SCRYPT_LOG2_N: Final = 14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
# A stored string or blob is data, not code: refuse parameters that would take > 1 GiB.
_MAX_SCRYPT_LOG2_N: Final = 20
_MAX_SCRYPT_R: Final = 16
_MAX_SCRYPT_P: Final = 4
SALT_LEN: Final = 16
_HASH_LEN: Final = 32


def passphrase_bytes(passphrase: str) -> bytes:
    # NFKC so the same passphrase typed in full-width IME mode or half-width is the same
    # passphrase; outer whitespace dropped because phone keyboards append a space.
    return unicodedata.normalize("NFKC", passphrase).strip().encode("utf-8")


def check_passphrase_strength(passphrase: str) -> None:
    """Raise `WeakPassphrase` unless a new passphrase meets the minimum rules.

    At least 8 characters after folding, not one character repeated. Only new passphrases are
    checked: raising the rules later must never lock out a box.
    """
    folded = unicodedata.normalize("NFKC", passphrase).strip()
    if len(folded) < MIN_PASSPHRASE_LENGTH or len(set(folded)) < 2:
        raise WeakPassphrase(min_length=MIN_PASSPHRASE_LENGTH)
    if len(folded) > MAX_PASSPHRASE_LENGTH:
        raise WeakPassphrase(min_length=MIN_PASSPHRASE_LENGTH)


def scrypt_key(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    if not (
        1 <= log2_n <= _MAX_SCRYPT_LOG2_N and 1 <= r <= _MAX_SCRYPT_R and 1 <= p <= _MAX_SCRYPT_P
    ):
        raise ValueError("scrypt parameters out of range")
    kdf = Scrypt(salt=salt, length=_HASH_LEN, n=2**log2_n, r=r, p=p)
    return kdf.derive(passphrase_bytes(passphrase))


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


_HASH_PATTERN: Final = re.compile(
    r"^\$scrypt\$ln=(?P<ln>\d{1,2}),r=(?P<r>\d{1,2}),p=(?P<p>\d)"
    r"\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<hash>[A-Za-z0-9+/]+)$"
)


def hash_passphrase(passphrase: str) -> str:
    """A self-describing scrypt hash: `$scrypt$ln=14,r=8,p=1$<salt b64>$<hash b64>`.

    Raises `WeakPassphrase` for a passphrase that breaks the minimum rules.
    """
    check_passphrase_strength(passphrase)
    salt = os.urandom(SALT_LEN)
    derived = scrypt_key(passphrase, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
    params = f"ln={SCRYPT_LOG2_N},r={SCRYPT_R},p={SCRYPT_P}"
    return f"$scrypt${params}${_b64(salt)}${_b64(derived)}"


def _parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    match = _HASH_PATTERN.match(stored)
    if match is None:
        raise ValueError("not a Beidui scrypt passphrase hash")
    try:
        salt, derived = _unb64(match["salt"]), _unb64(match["hash"])
    except binascii.Error as exc:
        raise ValueError("not a Beidui scrypt passphrase hash") from exc
    return int(match["ln"]), int(match["r"]), int(match["p"]), salt, derived


def verify_passphrase(passphrase: str, stored: str) -> bool:
    """Whether `passphrase` matches a `hash_passphrase` string (constant-time comparison).

    Raises ValueError for a stored string that is not such a hash: that is corruption, not a
    wrong passphrase, and must not be hidden as one.
    """
    log2_n, r, p, salt, expected = _parse_hash(stored)
    if len(passphrase) > MAX_PASSPHRASE_TEXT:  # no scrypt over megabytes of input
        return False
    derived = scrypt_key(passphrase, salt, log2_n, r, p)
    return hmac.compare_digest(derived, expected)


def needs_rehash(stored: str) -> bool:
    """Whether a stored hash uses weaker parameters than today's (rehash at next login)."""
    log2_n, r, p, _, _ = _parse_hash(stored)
    return (log2_n, r, p) < (SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
