"""The ballot route's page token: only the exact text a page was handed passes.

CI once saw the edge test's "tampered" token accepted: it replaced the token's last two
characters with "AA", and base64 ignores the spare bits of a 40-byte value's last
character, so one token in a few hundred decoded to the very bytes that were minted.
"""

from __future__ import annotations

import string

import pytest

from web import page_token

SECRET = b"s" * 32
NOW = 1_800_000_000.0
ALPHABET = string.ascii_letters + string.digits + "-_"


def _token(nonce_byte: int = 7) -> str:
    return page_token.mint(SECRET, "ABC123", nonce=bytes([nonce_byte]) * 16, now=NOW)


def test_a_minted_token_passes_for_its_workshop_only() -> None:
    token = _token()
    checked = page_token.check(SECRET, "ABC123", token, now=NOW)
    assert checked is not None and checked.client_key == (bytes([7]) * 16).hex()
    assert page_token.check(SECRET, "ABC124", token, now=NOW) is None
    assert page_token.check(b"t" * 32, "ABC123", token, now=NOW) is None


def test_an_expired_token_is_refused() -> None:
    token = _token()
    late = NOW + page_token.TOKEN_LIFETIME_S + 1
    assert page_token.check(SECRET, "ABC123", token, now=late) is None


@pytest.mark.parametrize("nonce_byte", range(8))
def test_every_one_character_edit_of_a_token_is_refused(nonce_byte: int) -> None:
    """Every position, every other character: none may pass (the last one included)."""
    token = _token(nonce_byte)
    accepted = [
        (i, c)
        for i in range(len(token))
        for c in ALPHABET
        if c != token[i]
        and page_token.check(SECRET, "ABC123", token[:i] + c + token[i + 1 :], now=NOW)
    ]
    assert accepted == []


@pytest.mark.parametrize(
    "junk", [None, 5, "", "!!!!", "A" * 101, _token() + "=", _token() + "AA", _token()[:-1]]
)
def test_junk_is_refused_without_an_error(junk: object) -> None:
    assert page_token.check(SECRET, "ABC123", junk, now=NOW) is None
