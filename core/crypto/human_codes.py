"""Card codes, join codes, receipts and key fingerprints: one alphabet for all of them.

A card code is never stored, logged or returned beyond the call that received it: only its
keyed digest (`card_digest`) is kept. A receipt depends on the ciphertext only, never on the
time or order of casting.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import struct
import unicodedata
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from core.crypto.aead import PublicKey, raw_public
from core.errors import BeiduiError
from core.limits import JOIN_CODE_LENGTH

# Errors (each names its locale key in data/locales/<lang>/crypto.toml)


class MalformedCardCode(BeiduiError, key="crypto.card_code_malformed"):
    """A typed card code is not a well-formed code; caught locally, before any lookup."""


class CardCodeWrongLength(MalformedCardCode, key="crypto.card_code_wrong_length"):
    """Too few or too many characters (params: expected)."""


class CardCodeBadCharacter(MalformedCardCode, key="crypto.card_code_bad_character"):
    """A character that no card code contains (params: character)."""


class CardCodeTypo(MalformedCardCode, key="crypto.card_code_typo"):
    """Right length and alphabet but the check character disagrees: a typo."""


class MalformedJoinCode(BeiduiError, key="crypto.join_code_malformed"):
    """A typed workshop join code has the wrong length or characters (params: expected)."""


class MalformedReceipt(BeiduiError, key="crypto.receipt_malformed"):
    """A typed receipt has the wrong length or characters (params: expected)."""


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


def fingerprint(public_key: PublicKey | bytes) -> str:
    """A human-comparable fingerprint (`ABCD-EFGH-JKMN-PQRS`) of a signing or box public key.

    Raw bytes are taken as an Ed25519 key. The key type is hashed in, so a box key and a
    signing key with the same 32 bytes never share a fingerprint.
    """
    if isinstance(public_key, bytes):
        public_key = Ed25519PublicKey.from_public_bytes(public_key)
    label = b"x25519" if isinstance(public_key, X25519PublicKey) else b"ed25519"
    digest = hashlib.sha256(b"beidui/fingerprint/v1\x00" + label + b"\x00" + raw_public(public_key))
    return _group(_hash_to_symbols(digest.digest(), sum(FINGERPRINT_GROUPS)), FINGERPRINT_GROUPS)
