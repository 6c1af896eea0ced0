"""A per-page-session token that lets the ballot route trust a POST came from our page.

Stateless, so any replica can check it: `nonce | expires_at | HMAC(key, code, nonce,
expires_at)` with a key derived from the instance secret (the same on every replica). The
nonce is random per browser session and is also the card limiter's client key for that
session; it is held only in the browser and in the session's memory, never stored.
It is not a credential for anything but "this request carries a token our page handed out
for this workshop" — the card is what authorises a ballot.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import struct
import time
from dataclasses import dataclass

TOKEN_LIFETIME_S = 12 * 3600  # longer than any workshop day; a new page load mints a new one
_NONCE_BYTES = 16
_MAC_BYTES = 16
_PURPOSE = b"beidui/ballot-page-token/v1"


@dataclass(frozen=True)
class PageToken:
    """A checked token: `client_key` is the opaque per-session key for the card limiter."""

    client_key: str


@functools.lru_cache(maxsize=4)
def _key(secret_key: bytes) -> bytes:
    """The token key, derived once per instance secret (in memory only)."""
    return hmac.new(secret_key, _PURPOSE, hashlib.sha256).digest()


def _mac(secret_key: bytes, code: str, nonce: bytes, expires_at: int) -> bytes:
    msg = b"|".join([code.encode(), nonce, struct.pack(">Q", expires_at)])
    return hmac.new(_key(secret_key), msg, hashlib.sha256).digest()[:_MAC_BYTES]


def mint(secret_key: bytes, code: str, nonce: bytes | None = None, now: float | None = None) -> str:
    """A token for this workshop; pass the session's `nonce` to keep one limiter key."""
    nonce = nonce if nonce is not None else secrets.token_bytes(_NONCE_BYTES)
    expires_at = int(now if now is not None else time.time()) + TOKEN_LIFETIME_S
    raw = nonce + struct.pack(">Q", expires_at) + _mac(secret_key, code, nonce, expires_at)
    return _encode(raw)


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def check(
    secret_key: bytes, code: str, token: object, now: float | None = None
) -> PageToken | None:
    """The token's limiter key if it is ours, for this workshop and not expired; else None."""
    if not isinstance(token, str) or len(token) > 100:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        return None
    if len(raw) != _NONCE_BYTES + 8 + _MAC_BYTES or _encode(raw) != token:
        # Only the one spelling `mint` writes: base64 ignores the last character's spare
        # bits, so without this an edited token could still decode to the minted bytes.
        return None
    nonce, stamp, mac = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:-_MAC_BYTES], raw[-_MAC_BYTES:]
    (expires_at,) = struct.unpack(">Q", stamp)
    if not hmac.compare_digest(mac, _mac(secret_key, code, nonce, expires_at)):
        return None
    if expires_at < (now if now is not None else time.time()):
        return None
    return PageToken(client_key=nonce.hex())
