"""The sealed ballot box: anyone with the public key can seal; only the private key opens.

A sealed blob holds a fresh ephemeral key and nonce per ballot: nothing in it depends on the
time or order of casting. The private key is never printed, even in a traceback.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.crypto.aead import NONCE_LEN, TAG_LEN, raw_public
from core.errors import BeiduiError


class CannotUnseal(BeiduiError, key="crypto.cannot_unseal"):
    """A sealed ballot was altered, is not a sealed ballot, or belongs to another box key."""


SEALED_VERSION: Final = 1
_SEAL_LABEL: Final = b"beidui/sealed-box/v1"
_X25519_LEN: Final = 32
_SEAL_HEADER_LEN: Final = 1 + _X25519_LEN + NONCE_LEN
SEAL_OVERHEAD: Final = _SEAL_HEADER_LEN + TAG_LEN  # 61 bytes on top of the plaintext


@dataclass(frozen=True)
class BoxKeypair:
    """The ballot box key: X25519. Casting needs only `public_bytes`; opening needs `private`."""

    private: X25519PrivateKey

    @classmethod
    def generate(cls) -> BoxKeypair:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> BoxKeypair:
        return cls(X25519PrivateKey.from_private_bytes(raw))

    @property
    def public_bytes(self) -> bytes:
        return raw_public(self.private.public_key())

    def private_bytes(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )

    def __repr__(self) -> str:  # never print the private key, even in a traceback
        return f"BoxKeypair(public={self.public_bytes.hex()})"


def _seal_key(shared: bytes, ephemeral_pub: bytes, recipient_pub: bytes, aad: bytes) -> bytes:
    # Both public keys go into the salt (as in libsodium's sealed box) and the version label
    # plus the workshop aad into info: a blob moved to another workshop derives another key.
    info = _SEAL_LABEL + b"\x00" + struct.pack(">I", len(aad)) + aad
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=ephemeral_pub + recipient_pub, info=info
    ).derive(shared)


def seal(public_key_bytes: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt `plaintext` to a box public key; `aad` (e.g. the workshop id) is authenticated.

    Format: version (1 byte, =1) || ephemeral X25519 public key (32) || nonce (12) ||
    AES-256-GCM ciphertext with its 16-byte tag. A fresh ephemeral key per ballot: no two
    ballots share a key, and nothing in the blob depends on time or order.
    """
    recipient = X25519PublicKey.from_public_bytes(public_key_bytes)
    ephemeral = X25519PrivateKey.generate()
    ephemeral_pub = raw_public(ephemeral.public_key())
    key = _seal_key(ephemeral.exchange(recipient), ephemeral_pub, public_key_bytes, aad)
    nonce = os.urandom(NONCE_LEN)
    header = bytes([SEALED_VERSION]) + ephemeral_pub + nonce
    return header + AESGCM(key).encrypt(nonce, plaintext, header + aad)


def open_sealed(private_key: X25519PrivateKey | BoxKeypair, blob: bytes, aad: bytes) -> bytes:
    """Decrypt a sealed blob; raises `CannotUnseal` if it was altered, or for the wrong key/aad."""
    if isinstance(private_key, BoxKeypair):
        private_key = private_key.private
    if len(blob) < SEAL_OVERHEAD or blob[0] != SEALED_VERSION:
        raise CannotUnseal()
    header = blob[:_SEAL_HEADER_LEN]
    ephemeral_pub = blob[1 : 1 + _X25519_LEN]
    nonce = blob[1 + _X25519_LEN : _SEAL_HEADER_LEN]
    try:
        shared = private_key.exchange(X25519PublicKey.from_public_bytes(ephemeral_pub))
    except ValueError:  # a low-order point gives an all-zero secret; cryptography refuses it
        raise CannotUnseal() from None
    key = _seal_key(shared, ephemeral_pub, raw_public(private_key.public_key()), aad)
    try:
        return AESGCM(key).decrypt(nonce, blob[_SEAL_HEADER_LEN:], header + aad)
    except InvalidTag:
        raise CannotUnseal() from None
