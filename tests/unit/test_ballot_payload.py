"""The sealed payload: one fixed length for every ballot, and a strict decoder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.ballot_values import (
    PAYLOAD_LENGTH,
    SEALED_LENGTH,
    CorruptBallot,
    OpenedBallot,
    decode_payload,
    encode_payload,
)
from core.crypto import sealed_box
from core.limits import MAX_BALLOT_SIZE, MAX_KEY_LENGTH

KEYS = st.from_regex(rf"[a-z][a-z0-9_]{{0,{MAX_KEY_LENGTH - 1}}}", fullmatch=True)


@given(
    ranking=st.lists(KEYS, min_size=1, max_size=MAX_BALLOT_SIZE, unique=True),
    role=st.none() | KEYS,
)
def test_every_payload_has_one_length_and_decodes_back(
    ranking: list[str], role: str | None
) -> None:
    payload = encode_payload(ranking, role)
    assert len(payload) == PAYLOAD_LENGTH
    assert decode_payload(payload) == OpenedBallot(role, tuple(ranking))


def test_the_longest_ballot_a_template_allows_still_fits() -> None:
    ranking = [chr(ord("a") + i) + "x" * (MAX_KEY_LENGTH - 1) for i in range(MAX_BALLOT_SIZE)]
    assert len(encode_payload(ranking, "r" * MAX_KEY_LENGTH)) == PAYLOAD_LENGTH


def test_sealed_ballots_of_any_content_have_the_same_size() -> None:
    box = sealed_box.BoxKeypair.generate()
    short = sealed_box.seal(box.public_bytes, encode_payload(["a"], None), b"w")
    long = sealed_box.seal(
        box.public_bytes, encode_payload([f"m{i}" for i in range(10)], "r"), b"w"
    )
    assert len(short) == len(long) == SEALED_LENGTH


@pytest.mark.parametrize(
    "plaintext",
    [
        b"",
        b"{}".ljust(PAYLOAD_LENGTH),
        b'{"v":2,"ranking":["a"],"role":null}'.ljust(PAYLOAD_LENGTH),
        b'{"v":1,"ranking":"a","role":null}'.ljust(PAYLOAD_LENGTH),
        b'{"v":1,"ranking":[1],"role":null}'.ljust(PAYLOAD_LENGTH),
        b'{"v":1,"ranking":["a"],"role":3}'.ljust(PAYLOAD_LENGTH),
        b'{"v":1,"ranking":["a"],"role":null,"x":1}'.ljust(PAYLOAD_LENGTH),
        b'{"v":1,"ranking":["a"],"role":null}',  # unpadded
        b"\xff" * PAYLOAD_LENGTH,
        b"not json".ljust(PAYLOAD_LENGTH),
    ],
)
def test_anything_but_a_padded_payload_is_a_corrupt_ballot(plaintext: bytes) -> None:
    with pytest.raises(CorruptBallot):
        decode_payload(plaintext)


def test_a_payload_that_cannot_fit_is_refused_not_truncated() -> None:
    with pytest.raises(ValueError, match="PAYLOAD_LENGTH"):
        encode_payload(["x" * 1000], None)
