"""Ed25519 signatures for export manifests, and the key formats they are kept in."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from core.crypto.aead import raw_public
from core.crypto.passphrases import WrongPassphrase, passphrase_bytes


def new_signing_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 key for signing export manifests."""
    return Ed25519PrivateKey.generate()


def sign(private_key: Ed25519PrivateKey, data: bytes) -> bytes:
    """A 64-byte Ed25519 signature of `data`."""
    return private_key.sign(data)


def verify_signature(public_key: Ed25519PublicKey | bytes, data: bytes, signature: bytes) -> bool:
    """Whether `signature` is a valid signature of `data` (returns a value, never raises)."""
    try:
        if isinstance(public_key, bytes):
            public_key = Ed25519PublicKey.from_public_bytes(public_key)
        public_key.verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


def signing_key_to_bytes(private_key: Ed25519PrivateKey) -> bytes:
    """The 32-byte raw private key (store it only wrapped)."""
    return private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def signing_key_from_bytes(raw: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(raw)


def signing_key_to_pem(private_key: Ed25519PrivateKey, passphrase: str | None = None) -> bytes:
    """PKCS#8 PEM, encrypted with the best available scheme when a passphrase is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase_bytes(passphrase))
        if passphrase
        else serialization.NoEncryption()
    )
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def signing_key_from_pem(pem: bytes, passphrase: str | None = None) -> Ed25519PrivateKey:
    """Load a PKCS#8 PEM Ed25519 key; `WrongPassphrase` if the passphrase does not open it."""
    password = passphrase_bytes(passphrase) if passphrase else None
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError):
        raise WrongPassphrase() from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def public_key_to_bytes(public_key: Ed25519PublicKey) -> bytes:
    return raw_public(public_key)


def public_key_from_bytes(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


def public_key_to_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_from_pem(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key
