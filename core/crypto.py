"""Cryptographic primitives: card and join codes, the sealed ballot box, passphrases, receipts,
the instance secret and export signatures.

Everything here is pure (no database, no Streamlit, no logging) and uses only `cryptography`
and the standard library. This module must never store, log or return a raw card code beyond
the call that received it, never keep a passphrase or a private key in a module-level
variable, and never put anything that depends on the time or order of casting into a sealed
ballot, a digest or a receipt. Formats and the reasons behind every parameter: docs/crypto.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import os
import re
import secrets
import stat
import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from core.errors import BeiduiError

# --------------------------------------------------------------------------------------------
# Errors (each names its locale key in data/locales/<lang>/crypto.toml)
# --------------------------------------------------------------------------------------------


class MalformedCardCode(BeiduiError):
    """A typed card code is not a well-formed code; caught locally, before any lookup."""

    key: ClassVar[str] = "crypto.card_code_malformed"


class CardCodeWrongLength(MalformedCardCode):
    """Too few or too many characters (params: expected)."""

    key: ClassVar[str] = "crypto.card_code_wrong_length"


class CardCodeBadCharacter(MalformedCardCode):
    """A character that no card code contains (params: character)."""

    key: ClassVar[str] = "crypto.card_code_bad_character"


class CardCodeTypo(MalformedCardCode):
    """Right length and alphabet but the check character disagrees: a typo."""

    key: ClassVar[str] = "crypto.card_code_typo"


class MalformedJoinCode(BeiduiError):
    """A typed workshop join code has the wrong length or characters (params: expected)."""

    key: ClassVar[str] = "crypto.join_code_malformed"


class MalformedReceipt(BeiduiError):
    """A typed receipt has the wrong length or characters (params: expected)."""

    key: ClassVar[str] = "crypto.receipt_malformed"


class CannotUnseal(BeiduiError):
    """A sealed ballot was altered, is not a sealed ballot, or belongs to another box key."""

    key: ClassVar[str] = "crypto.cannot_unseal"


class CannotUnwrap(BeiduiError):
    """A key-wrapped blob was altered or the wrapping key (instance secret) has changed."""

    key: ClassVar[str] = "crypto.cannot_unwrap"


class WrongPassphrase(BeiduiError):
    """The passphrase does not open the box key (or the stored blob was altered)."""

    key: ClassVar[str] = "crypto.wrong_passphrase"


class WeakPassphrase(BeiduiError):
    """A new passphrase breaks the minimum rules (params: min_length)."""

    key: ClassVar[str] = "crypto.weak_passphrase"


class InvalidInstanceSecret(BeiduiError):
    """BEIDUI_SECRET_KEY or the secret file does not hold exactly 32 bytes in hex or base64."""

    key: ClassVar[str] = "crypto.invalid_instance_secret"


# --------------------------------------------------------------------------------------------
# Codes: one alphabet for cards, join codes, receipts and fingerprints
# --------------------------------------------------------------------------------------------

# 29 symbols: digits 2-9 and A-Z without I, L, O, U (Crockford's exclusions) and without
# 0, 1 (which read as O, I, L) and Z (which reads as 2). 29 is prime, which is what makes the
# weighted check character below catch every single substitution and every transposition.
ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTVWXY"
_BASE: Final = len(ALPHABET)
_VALUE: Final = {symbol: value for value, symbol in enumerate(ALPHABET)}

# Letters that are not in the alphabet but have exactly one look-alike in it. O/0 (D? Q?) and
# I/L/1 have no unique intended symbol here, so they are rejected, not guessed.
_CONFUSABLES: Final = {"Z": "2"}

CARD_DATA_LENGTH: Final = 9  # 9 * log2(29) = 43.7 bits of entropy
CARD_GROUPS: Final = (4, 4, 2)  # 9 random symbols + 1 check symbol, printed 7KQM-4HXD-R9
CARD_CODE_LENGTH: Final = CARD_DATA_LENGTH + 1
JOIN_CODE_LENGTH: Final = 6  # 29^6 ≈ 5.9e8 codes: collisions checked by the caller, not secret
RECEIPT_GROUPS: Final = (5, 5)  # 10 symbols ≈ 48.6 bits; 5-5 so it never looks like a card
FINGERPRINT_GROUPS: Final = (4, 4, 4, 4)  # 16 symbols ≈ 77.7 bits, compared by eye

# Separators a phone, a Chinese IME or a copy-paste may put between symbols. Anything else
# (commas, letters outside the alphabet) is an error, so a pasted sentence is not "a code".
_SEPARATOR_CATEGORIES: Final = frozenset({"Pd", "Zs", "Cc", "Cf"})
_EXTRA_SEPARATORS: Final = frozenset("_.·・")


def card_code_entropy_bits() -> float:
    """Bits of randomness in a card code (the check character adds none)."""
    return CARD_DATA_LENGTH * math.log2(_BASE)


def _check_symbol(data: str) -> str:
    # Weights 1..n over Z/29: the whole code (data + check at weight n+1) sums to 0 mod 29.
    # Distinct non-zero weights and a prime modulus mean a single wrong symbol, or any two
    # swapped symbols, always change the sum.
    total = sum((i + 1) * _VALUE[c] for i, c in enumerate(data))
    check_weight = len(data) + 1
    value = (-total * pow(check_weight, -1, _BASE)) % _BASE
    return ALPHABET[value]


def _group(compact: str, groups: tuple[int, ...]) -> str:
    parts, start = [], 0
    for size in groups:
        parts.append(compact[start : start + size])
        start += size
    return "-".join(parts)


def _random_symbols(n: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(n))


def _compact(text: str) -> str:
    """Upper-case symbols of `text`, separators removed, full-width forms folded (NFKC).

    Raises ValueError(character) for a character that is neither a symbol nor a separator.
    """
    folded = unicodedata.normalize("NFKC", text).upper()
    out = []
    for ch in folded:
        if ch in _EXTRA_SEPARATORS or unicodedata.category(ch) in _SEPARATOR_CATEGORIES:
            continue
        ch = _CONFUSABLES.get(ch, ch)
        if ch not in _VALUE:
            raise ValueError(ch)
        out.append(ch)
    return "".join(out)


def new_card_code() -> str:
    """A fresh voting card code such as `7KQM-4HXD-R9` (43.7 random bits + 1 check symbol)."""
    data = _random_symbols(CARD_DATA_LENGTH)
    return _group(data + _check_symbol(data), CARD_GROUPS)


def normalize_card_code(text: str) -> str:
    """The canonical printed form of a typed card code, or a `MalformedCardCode`.

    Accepts lower case, spaces, missing or extra dashes, full-width characters from a Chinese
    IME ('７ＫＱＭ－…') and Z for 2. Everything is decided locally, so a typo never costs a
    lookup (nor a failed attempt against the rate limit).
    """
    try:
        compact = _compact(text)
    except ValueError as exc:
        raise CardCodeBadCharacter(character=str(exc)) from None
    if len(compact) != CARD_CODE_LENGTH:
        raise CardCodeWrongLength(expected=CARD_CODE_LENGTH)
    if _check_symbol(compact[:-1]) != compact[-1]:
        raise CardCodeTypo()
    return _group(compact, CARD_GROUPS)


def card_digest(key: bytes, workshop_salt: bytes, code: str) -> bytes:
    """HMAC-SHA256 of a card code, bound to one workshop: the only form of a code ever stored.

    `key` is the instance secret (so a stolen database alone cannot test guesses offline);
    `workshop_salt` makes the same code in two workshops give two unrelated digests.
    Raises `MalformedCardCode` for a malformed code.
    """
    if len(key) < 32:
        raise ValueError("card_digest needs a key of at least 32 bytes")
    compact = normalize_card_code(code).replace("-", "")
    # Length-prefixed fields: no (salt, code) pair can collide with another by shifting bytes.
    message = b"".join(
        (
            b"beidui/card/v1\x00",
            struct.pack(">H", len(workshop_salt)),
            workshop_salt,
            compact.encode("ascii"),
        )
    )
    return hmac.digest(key, message, "sha256")


def new_join_code() -> str:
    """A short workshop join code such as `7KQM4H`: easy to type, not a secret."""
    return _random_symbols(JOIN_CODE_LENGTH)


def normalize_join_code(text: str) -> str:
    """The canonical join code for typed text (same folding as card codes), or raise."""
    try:
        compact = _compact(text)
    except ValueError:
        raise MalformedJoinCode(expected=JOIN_CODE_LENGTH) from None
    if len(compact) != JOIN_CODE_LENGTH:
        raise MalformedJoinCode(expected=JOIN_CODE_LENGTH)
    return compact


# --------------------------------------------------------------------------------------------
# Receipts and fingerprints
# --------------------------------------------------------------------------------------------


def _hash_to_symbols(digest: bytes, n: int) -> str:
    # 128 bits reduced mod 29^n (n <= 16, 29^16 ≈ 2^77.7): the bias is below 2^-50.
    value = int.from_bytes(digest[:16], "big")
    symbols = []
    for _ in range(n):
        value, digit = divmod(value, _BASE)
        symbols.append(ALPHABET[digit])
    return "".join(symbols)


def receipt_for(sealed_blob: bytes) -> str:
    """A short receipt (`ABCDE-FGHJK`) for a sealed ballot: proves inclusion, not content.

    It is a hash of the ciphertext, whose ephemeral key and nonce the server chose and threw
    away, so the voter holds nothing that shows how they voted.
    """
    digest = hashlib.sha256(b"beidui/receipt/v1\x00" + sealed_blob).digest()
    return _group(_hash_to_symbols(digest, sum(RECEIPT_GROUPS)), RECEIPT_GROUPS)


def normalize_receipt(text: str) -> str:
    """The canonical receipt for typed text (same folding as card codes), or raise."""
    expected = sum(RECEIPT_GROUPS)
    try:
        compact = _compact(text)
    except ValueError:
        raise MalformedReceipt(expected=expected) from None
    if len(compact) != expected:
        raise MalformedReceipt(expected=expected)
    return _group(compact, RECEIPT_GROUPS)


PublicKey = Ed25519PublicKey | X25519PublicKey


def _raw_public(public_key: PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(public_key: PublicKey | bytes) -> str:
    """A human-comparable fingerprint (`ABCD-EFGH-JKMN-PQRS`) of a signing or box public key.

    Raw bytes are taken as an Ed25519 key. The key type is hashed in, so a box key and a
    signing key with the same 32 bytes never share a fingerprint.
    """
    if isinstance(public_key, bytes):
        public_key = Ed25519PublicKey.from_public_bytes(public_key)
    label = b"x25519" if isinstance(public_key, X25519PublicKey) else b"ed25519"
    digest = hashlib.sha256(
        b"beidui/fingerprint/v1\x00" + label + b"\x00" + _raw_public(public_key)
    )
    return _group(_hash_to_symbols(digest.digest(), sum(FINGERPRINT_GROUPS)), FINGERPRINT_GROUPS)


# --------------------------------------------------------------------------------------------
# Sealed box: anyone with the public key can seal; only the private key opens
# --------------------------------------------------------------------------------------------

SEALED_VERSION: Final = 1
_SEAL_LABEL: Final = b"beidui/sealed-box/v1"
_X25519_LEN: Final = 32
_NONCE_LEN: Final = 12
_TAG_LEN: Final = 16
_SEAL_HEADER_LEN: Final = 1 + _X25519_LEN + _NONCE_LEN
SEAL_OVERHEAD: Final = _SEAL_HEADER_LEN + _TAG_LEN  # 61 bytes on top of the plaintext


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
        return _raw_public(self.private.public_key())

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
    ephemeral_pub = _raw_public(ephemeral.public_key())
    key = _seal_key(ephemeral.exchange(recipient), ephemeral_pub, public_key_bytes, aad)
    nonce = os.urandom(_NONCE_LEN)
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
    key = _seal_key(shared, ephemeral_pub, _raw_public(private_key.public_key()), aad)
    try:
        return AESGCM(key).decrypt(nonce, blob[_SEAL_HEADER_LEN:], header + aad)
    except InvalidTag:
        raise CannotUnseal() from None


# --------------------------------------------------------------------------------------------
# Passphrases: the facilitator's hash and the passphrase-wrapped box key
# --------------------------------------------------------------------------------------------

MIN_PASSPHRASE_LENGTH: Final = 8
MAX_PASSPHRASE_LENGTH: Final = 1024
# n = 2^14, r = 8, p = 1: ~32 ms and 16 MiB per call here. Stored with every hash and blob,
# so it can be raised later without breaking what exists (see `needs_rehash`).
SCRYPT_LOG2_N: Final = 14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
# A stored string or blob is data, not code: refuse parameters that would take > 1 GiB.
_MAX_SCRYPT_LOG2_N: Final = 20
_MAX_SCRYPT_R: Final = 16
_MAX_SCRYPT_P: Final = 4
_SALT_LEN: Final = 16
_HASH_LEN: Final = 32


def _passphrase_bytes(passphrase: str) -> bytes:
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


def _scrypt(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    if not (
        1 <= log2_n <= _MAX_SCRYPT_LOG2_N and 1 <= r <= _MAX_SCRYPT_R and 1 <= p <= _MAX_SCRYPT_P
    ):
        raise ValueError("scrypt parameters out of range")
    kdf = Scrypt(salt=salt, length=_HASH_LEN, n=2**log2_n, r=r, p=p)
    return kdf.derive(_passphrase_bytes(passphrase))


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
    salt = os.urandom(_SALT_LEN)
    derived = _scrypt(passphrase, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
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
    if len(passphrase) > 4 * MAX_PASSPHRASE_LENGTH:  # no scrypt over megabytes of input
        return False
    derived = _scrypt(passphrase, salt, log2_n, r, p)
    return hmac.compare_digest(derived, expected)


def needs_rehash(stored: str) -> bool:
    """Whether a stored hash uses weaker parameters than today's (rehash at next login)."""
    log2_n, r, p, _, _ = _parse_hash(stored)
    return (log2_n, r, p) < (SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)


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
    salt = os.urandom(_SALT_LEN)
    nonce = os.urandom(_NONCE_LEN)
    header = _WRAP_HEADER.pack(WRAPPED_VERSION, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, salt, nonce)
    key = _scrypt(passphrase, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
    return header + AESGCM(key).encrypt(nonce, keypair.private_bytes(), _WRAP_LABEL + header)


def unwrap_private_key(blob: bytes, passphrase: str) -> X25519PrivateKey:
    """The box private key from `wrap_private_key`; `WrongPassphrase` if it does not open.

    A blob altered after the header also reads as `WrongPassphrase`: AES-GCM cannot tell the
    two apart, and the person in front of the screen can only retry the passphrase anyway.
    A blob that is not a wrapped key at all raises `CannotUnwrap`.
    """
    if len(blob) != _WRAP_HEADER.size + 32 + _TAG_LEN:
        raise CannotUnwrap()
    version, log2_n, r, p, salt, nonce = _WRAP_HEADER.unpack_from(blob)
    if version != WRAPPED_VERSION:
        raise CannotUnwrap()
    header = blob[: _WRAP_HEADER.size]
    try:
        key = _scrypt(passphrase, salt, log2_n, r, p)
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
    nonce = os.urandom(_NONCE_LEN)
    header = bytes([LIVE_WRAP_VERSION]) + nonce
    return header + AESGCM(_live_key(key32)).encrypt(nonce, data, header + aad)


def unwrap_with_key(key32: bytes, blob: bytes, aad: bytes = b"") -> bytes:
    """The data from `wrap_with_key`; `CannotUnwrap` if altered, or for another key/aad."""
    if len(blob) < 1 + _NONCE_LEN + _TAG_LEN or blob[0] != LIVE_WRAP_VERSION:
        raise CannotUnwrap()
    header, nonce = blob[: 1 + _NONCE_LEN], blob[1 : 1 + _NONCE_LEN]
    try:
        return AESGCM(_live_key(key32)).decrypt(nonce, blob[1 + _NONCE_LEN :], header + aad)
    except InvalidTag:
        raise CannotUnwrap() from None


# --------------------------------------------------------------------------------------------
# Instance secret
# --------------------------------------------------------------------------------------------

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


def fsync_directory(directory: Path) -> None:
    """Make a rename or link inside `directory` durable (POSIX; a no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_secret_file(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        # Readable by others means the secret may already be out; at least stop it spreading.
        os.chmod(path, 0o600)
    return _decode_secret(path.read_text(encoding="ascii"))


# --------------------------------------------------------------------------------------------
# Signatures for export manifests (Ed25519)
# --------------------------------------------------------------------------------------------


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
        serialization.BestAvailableEncryption(_passphrase_bytes(passphrase))
        if passphrase
        else serialization.NoEncryption()
    )
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def signing_key_from_pem(pem: bytes, passphrase: str | None = None) -> Ed25519PrivateKey:
    """Load a PKCS#8 PEM Ed25519 key; `WrongPassphrase` if the passphrase does not open it."""
    password = _passphrase_bytes(passphrase) if passphrase else None
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError):
        raise WrongPassphrase() from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def public_key_to_bytes(public_key: Ed25519PublicKey) -> bytes:
    return _raw_public(public_key)


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
