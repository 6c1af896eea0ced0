"""Pieces every AES-GCM format here shares: nonce and tag sizes, and raw public key bytes."""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

NONCE_LEN: Final = 12
TAG_LEN: Final = 16

PublicKey = Ed25519PublicKey | X25519PublicKey


def raw_public(public_key: PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
