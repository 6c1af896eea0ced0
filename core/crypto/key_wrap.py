"""Wrapped keys: the box private key under the facilitator's passphrase, and data (the live-results
copy of an unlocked box key) under the 32-byte instance secret.
"""

from __future__ import annotations

import os
import struct
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.crypto import passphrases
from core.crypto.aead import NONCE_LEN, TAG_LEN
from core.crypto.passphrases import SALT_LEN, WrongPassphrase, check_passphrase_strength, scrypt_key
from core.crypto.sealed_box import BoxKeypair
from core.errors import BeiduiError


class CannotUnwrap(BeiduiError, key="crypto.cannot_unwrap"):
    """A key-wrapped blob was altered or the wrapping key (instance secret) has changed."""


WRAPPED_VERSION: Final = 1
_WRAP_LABEL: Final = b"beidui/box-key-wrap/v1"
# version (1) || log2 n (1) || r (1) || p (1) || salt (16) || nonce (12) || ciphertext+tag
_WRAP_HEADER: Final = struct.Struct(">BBBB16s12s")


def wrap_private_key(private_key: X25519PrivateKey | BoxKeypair, passphrase: str) -> bytes:
    """The box private key encrypted under a passphrase (scrypt → AES-256-GCM).

    Format: version (1 byte, =1) || log2 n || r || p (1 byte each) || salt (16) || nonce (12)
    || AES-256-GCM ciphertext of the 32-byte raw key with its tag (48): 80 bytes in all.
    The salt is fresh, never the one of the passphrase hash, so the hash stored for logins
    gives no shortcut to this key. Raises `WeakPassphrase` first if the rules are broken.
    """
    check_passphrase_strength(passphrase)
    keypair = private_key if isinstance(private_key, BoxKeypair) else BoxKeypair(private_key)
    salt = os.urandom(SALT_LEN)
    nonce = os.urandom(NONCE_LEN)
    # Today's parameters, read at call time: they are stored in the blob, so they may change.
    log2_n, r, p = passphrases.SCRYPT_LOG2_N, passphrases.SCRYPT_R, passphrases.SCRYPT_P
    header = _WRAP_HEADER.pack(WRAPPED_VERSION, log2_n, r, p, salt, nonce)
    key = scrypt_key(passphrase, salt, log2_n, r, p)
    return header + AESGCM(key).encrypt(nonce, keypair.private_bytes(), _WRAP_LABEL + header)


def unwrap_private_key(blob: bytes, passphrase: str) -> X25519PrivateKey:
    """The box private key from `wrap_private_key`; `WrongPassphrase` if it does not open.

    A blob altered after the header also reads as `WrongPassphrase`: AES-GCM cannot tell the
    two apart, and the person in front of the screen can only retry the passphrase anyway.
    A blob that is not a wrapped key at all raises `CannotUnwrap`.
    """
    if len(blob) != _WRAP_HEADER.size + 32 + TAG_LEN:
        raise CannotUnwrap()
    version, log2_n, r, p, salt, nonce = _WRAP_HEADER.unpack_from(blob)
    if version != WRAPPED_VERSION:
        raise CannotUnwrap()
    header = blob[: _WRAP_HEADER.size]
    try:
        key = scrypt_key(passphrase, salt, log2_n, r, p)
    except ValueError:
        raise CannotUnwrap() from None
    try:
        raw = AESGCM(key).decrypt(nonce, blob[_WRAP_HEADER.size :], _WRAP_LABEL + header)
    except InvalidTag:
        raise WrongPassphrase() from None
    return X25519PrivateKey.from_private_bytes(raw)


LIVE_WRAP_VERSION: Final = 1
_LIVE_WRAP_LABEL: Final = b"beidui/live-key-wrap/v1"


def _live_key(key32: bytes) -> bytes:
    if len(key32) != 32:
        raise ValueError("wrap_with_key needs a 32-byte key")
    # The instance secret is also the card HMAC key: derive a separate AES key from it.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LIVE_WRAP_LABEL).derive(
        key32
    )


def wrap_with_key(key32: bytes, data: bytes, aad: bytes = b"") -> bytes:
    """`data` (e.g. an unlocked box key in live-results mode) encrypted under a 32-byte key.

    Format: version (1 byte, =1) || nonce (12) || AES-256-GCM ciphertext with tag.
    The AES key is HKDF-derived from `key32`, never `key32` itself. `aad` (e.g. the workshop
    id) binds the blob to its owner.
    """
    nonce = os.urandom(NONCE_LEN)
    header = bytes([LIVE_WRAP_VERSION]) + nonce
    return header + AESGCM(_live_key(key32)).encrypt(nonce, data, header + aad)


def unwrap_with_key(key32: bytes, blob: bytes, aad: bytes = b"") -> bytes:
    """The data from `wrap_with_key`; `CannotUnwrap` if altered, or for another key/aad."""
    if len(blob) < 1 + NONCE_LEN + TAG_LEN or blob[0] != LIVE_WRAP_VERSION:
        raise CannotUnwrap()
    header, nonce = blob[: 1 + NONCE_LEN], blob[1 : 1 + NONCE_LEN]
    try:
        return AESGCM(_live_key(key32)).decrypt(nonce, blob[1 + NONCE_LEN :], header + aad)
    except InvalidTag:
        raise CannotUnwrap() from None
