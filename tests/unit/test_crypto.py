"""Crypto primitives: codes, sealed box, passphrases, receipts, instance secret, signatures."""

from __future__ import annotations

import base64
import math
import os
import re
import stat
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.crypto import human_codes, instance_secret, key_wrap, passphrases, sealed_box, signatures
from core.crypto.human_codes import (
    ALPHABET,
    CardCodeBadCharacter,
    CardCodeTypo,
    CardCodeWrongLength,
    MalformedCardCode,
    MalformedJoinCode,
    MalformedReceipt,
)
from core.crypto.instance_secret import InvalidInstanceSecret
from core.crypto.key_wrap import CannotUnwrap
from core.crypto.passphrases import WeakPassphrase, WrongPassphrase
from core.crypto.sealed_box import BoxKeypair, CannotUnseal
from core.i18n import t

CARD_PATTERN = re.compile(rf"^[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{2}}$")
AAD = b"workshop:42"
# Cheap passphrase work for tests that run scrypt many times: the format carries the
# parameters, so lowering them here exercises exactly the same code paths.
FAST = {"SCRYPT_LOG2_N": 4}


@pytest.fixture
def fast_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAST.items():
        monkeypatch.setattr(passphrases, name, value)


# --- card codes -------------------------------------------------------------------------------


def test_card_codes_are_grouped_4_4_2_from_the_alphabet() -> None:
    for _ in range(200):
        assert CARD_PATTERN.match(human_codes.new_card_code())


def test_card_codes_carry_at_least_40_bits_of_entropy() -> None:
    assert human_codes.card_code_entropy_bits() == pytest.approx(9 * math.log2(29))
    assert human_codes.card_code_entropy_bits() >= 40


def test_the_alphabet_excludes_every_ambiguous_character() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 29
    for ambiguous in "0O1ILUZ":
        assert ambiguous not in ALPHABET
    assert ALPHABET.upper() == ALPHABET


def test_card_codes_are_not_repeated_in_a_large_batch() -> None:
    codes = {human_codes.new_card_code() for _ in range(5000)}
    assert len(codes) == 5000


def test_every_symbol_appears_in_every_random_position() -> None:
    # A crude check that no position is stuck (e.g. an off-by-one in the alphabet index).
    codes = [human_codes.new_card_code().replace("-", "") for _ in range(3000)]
    for position in range(9):
        assert {c[position] for c in codes} == set(ALPHABET)


def test_a_single_mistyped_character_is_always_caught() -> None:
    code = human_codes.new_card_code().replace("-", "")
    for position in range(len(code)):
        for symbol in ALPHABET:
            if symbol == code[position]:
                continue
            typo = code[:position] + symbol + code[position + 1 :]
            with pytest.raises(CardCodeTypo):
                human_codes.normalize_card_code(typo)


def test_any_two_swapped_characters_are_always_caught() -> None:
    for _ in range(50):
        code = human_codes.new_card_code().replace("-", "")
        for i in range(len(code)):
            for j in range(i + 1, len(code)):
                if code[i] == code[j]:
                    continue
                swapped = list(code)
                swapped[i], swapped[j] = swapped[j], swapped[i]
                with pytest.raises(CardCodeTypo):
                    human_codes.normalize_card_code("".join(swapped))


_FULL_WIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


card_codes = st.text(alphabet=ALPHABET, min_size=9, max_size=9).map(
    lambda data: human_codes._group(data + human_codes._check_symbol(data), human_codes.CARD_GROUPS)
)


@st.composite
def typed_versions(draw: st.DrawFn, code: str) -> str:
    """The code as a person might type it: any case, spaces, dashes, full-width, Z for 2."""
    out = []
    for ch in code.replace("-", ""):
        if ch == "2" and draw(st.booleans()):
            ch = "Z"
        if draw(st.booleans()):
            ch = ch.lower()
        if draw(st.booleans()):
            ch = _FULL_WIDTH[ch]
        out.append(ch)
        out.append(draw(st.sampled_from(["", "", " ", "-", "－", "\u3000", "—", " - "])))
    return draw(st.sampled_from(["", " ", "\u3000"])) + "".join(out)


@given(st.data())
def test_a_code_typed_with_any_case_spacing_or_full_width_normalizes_to_itself(
    data: st.DataObject,
) -> None:
    code = data.draw(card_codes)
    typed = data.draw(typed_versions(code))
    assert human_codes.normalize_card_code(typed) == code


def test_a_code_typed_on_a_chinese_ime_is_accepted() -> None:
    code = "7KQM-4HXD-R" + human_codes._check_symbol("7KQM4HXDR")
    full_width = "".join(_FULL_WIDTH.get(c, c) for c in code.lower())
    assert human_codes.normalize_card_code(full_width) == code
    assert human_codes._compact("ＡＢ－") == "AB"


@pytest.mark.parametrize("ambiguous", ["0", "O", "1", "I", "L", "U", "o", "i", "l"])
def test_ambiguous_characters_are_rejected_not_guessed(ambiguous: str) -> None:
    code = human_codes.new_card_code()
    with pytest.raises(CardCodeBadCharacter) as caught:
        human_codes.normalize_card_code(ambiguous + code[1:])
    assert caught.value.params == {"character": ambiguous.upper()}


@pytest.mark.parametrize("text", ["", "ABCD", "7KQM-4HXD-R9X", "7KQM-4HXD-R9XY-2345"])
def test_codes_of_the_wrong_length_are_rejected(text: str) -> None:
    with pytest.raises(CardCodeWrongLength) as caught:
        human_codes.normalize_card_code(text)
    assert caught.value.params == {"expected": 10}


def test_a_pasted_sentence_is_not_a_code() -> None:
    with pytest.raises(MalformedCardCode):
        human_codes.normalize_card_code("我的代码是7KQM-4HXD-R9")


def test_card_code_errors_have_text_in_both_languages() -> None:
    errors = [CardCodeWrongLength(expected=10), CardCodeBadCharacter(character="O"), CardCodeTypo()]
    for error in errors:
        for lang in ("zh", "en"):
            text = t(error.key, lang, **error.params)
            assert text != error.key
            assert "{" not in text


def test_digests_of_one_code_differ_across_workshops() -> None:
    key, code = os.urandom(32), human_codes.new_card_code()
    assert human_codes.card_digest(key, b"workshop-a", code) != human_codes.card_digest(
        key, b"workshop-b", code
    )


def test_digests_differ_across_instance_secrets() -> None:
    code = human_codes.new_card_code()
    assert human_codes.card_digest(os.urandom(32), b"w", code) != human_codes.card_digest(
        os.urandom(32), b"w", code
    )


@given(st.data())
def test_a_code_however_typed_has_one_digest(data: st.DataObject) -> None:
    key, code = b"k" * 32, data.draw(card_codes)
    typed = data.draw(typed_versions(code))
    assert human_codes.card_digest(key, b"salt", typed) == human_codes.card_digest(
        key, b"salt", code
    )
    assert len(human_codes.card_digest(key, b"salt", code)) == 32


def test_a_malformed_code_has_no_digest() -> None:
    with pytest.raises(MalformedCardCode):
        human_codes.card_digest(b"k" * 32, b"salt", "not a code")


def test_a_short_digest_key_is_refused() -> None:
    with pytest.raises(ValueError):
        human_codes.card_digest(b"short", b"salt", human_codes.new_card_code())


# --- join codes and receipts ------------------------------------------------------------------


def test_join_codes_are_six_unambiguous_characters() -> None:
    for _ in range(200):
        code = human_codes.new_join_code()
        assert len(code) == 6
        assert set(code) <= set(ALPHABET)


def test_a_join_code_typed_loosely_normalizes_to_itself() -> None:
    code = human_codes.new_join_code()
    typed = " " + "".join(_FULL_WIDTH[c] for c in code[:3].lower()) + "-" + code[3:] + " "
    assert human_codes.normalize_join_code(typed) == code


@pytest.mark.parametrize("text", ["ABCDE", "ABCDEFG", "ABCDE0"])
def test_a_malformed_join_code_is_rejected(text: str) -> None:
    with pytest.raises(MalformedJoinCode):
        human_codes.normalize_join_code(text)


def test_a_receipt_is_ten_symbols_in_two_groups() -> None:
    receipt = human_codes.receipt_for(os.urandom(100))
    assert re.fullmatch(rf"[{ALPHABET}]{{5}}-[{ALPHABET}]{{5}}", receipt)
    assert human_codes.normalize_receipt(receipt.lower().replace("-", " ")) == receipt


def test_a_receipt_depends_on_every_byte_of_the_sealed_ballot() -> None:
    blob = sealed_box.seal(BoxKeypair.generate().public_bytes, b"ranking", AAD)
    receipt = human_codes.receipt_for(blob)
    for i in range(len(blob)):
        changed = bytearray(blob)
        changed[i] ^= 0x01
        assert human_codes.receipt_for(bytes(changed)) != receipt


def test_the_same_ballot_sealed_twice_gives_two_receipts() -> None:
    # The voter cannot reproduce a receipt from their ranking: it proves inclusion, not content.
    public = BoxKeypair.generate().public_bytes
    assert human_codes.receipt_for(
        sealed_box.seal(public, b"A>B>C", AAD)
    ) != human_codes.receipt_for(sealed_box.seal(public, b"A>B>C", AAD))


def test_a_malformed_receipt_is_rejected() -> None:
    with pytest.raises(MalformedReceipt):
        human_codes.normalize_receipt("ABCDE-FGH")


# --- sealed box -------------------------------------------------------------------------------


@given(plaintext=st.binary(max_size=2000), aad=st.binary(max_size=64))
@settings(max_examples=100)
def test_a_sealed_ballot_opens_to_what_was_sealed(plaintext: bytes, aad: bytes) -> None:
    box = BoxKeypair.generate()
    blob = sealed_box.seal(box.public_bytes, plaintext, aad)
    assert len(blob) == len(plaintext) + sealed_box.SEAL_OVERHEAD
    assert blob[0] == sealed_box.SEALED_VERSION
    assert sealed_box.open_sealed(box.private, blob, aad) == plaintext
    assert sealed_box.open_sealed(box, blob, aad) == plaintext


_BOX = BoxKeypair.generate()
_BLOB = sealed_box.seal(_BOX.public_bytes, b'{"ranking": ["m1", "m3", "m2"]}', AAD)


@given(index=st.integers(0, len(_BLOB) - 1), flip=st.integers(1, 255))
@settings(max_examples=300)
def test_flipping_any_byte_of_a_sealed_ballot_is_detected(index: int, flip: int) -> None:
    changed = bytearray(_BLOB)
    changed[index] ^= flip
    with pytest.raises(CannotUnseal):
        sealed_box.open_sealed(_BOX.private, bytes(changed), AAD)


def test_every_single_byte_flip_of_a_sealed_ballot_is_detected() -> None:
    for index in range(len(_BLOB)):
        changed = bytearray(_BLOB)
        changed[index] ^= 0x80
        with pytest.raises(CannotUnseal):
            sealed_box.open_sealed(_BOX.private, bytes(changed), AAD)


def test_a_truncated_or_extended_sealed_ballot_is_detected() -> None:
    for blob in (_BLOB[:-1], _BLOB[: sealed_box.SEAL_OVERHEAD - 1], b"", _BLOB + b"\x00"):
        with pytest.raises(CannotUnseal):
            sealed_box.open_sealed(_BOX.private, blob, AAD)


def test_a_sealed_ballot_does_not_open_with_another_box_key() -> None:
    with pytest.raises(CannotUnseal):
        sealed_box.open_sealed(BoxKeypair.generate().private, _BLOB, AAD)


def test_a_sealed_ballot_moved_to_another_workshop_does_not_open() -> None:
    with pytest.raises(CannotUnseal):
        sealed_box.open_sealed(_BOX.private, _BLOB, b"workshop:43")


def test_a_sealed_ballot_with_a_low_order_ephemeral_key_is_refused() -> None:
    zero_point = bytes([sealed_box.SEALED_VERSION]) + bytes(32) + _BLOB[33:]
    with pytest.raises(CannotUnseal):
        sealed_box.open_sealed(_BOX.private, zero_point, AAD)


def test_sealing_twice_gives_unrelated_blobs() -> None:
    a = sealed_box.seal(_BOX.public_bytes, b"same", AAD)
    b = sealed_box.seal(_BOX.public_bytes, b"same", AAD)
    assert a[1:33] != b[1:33]  # a fresh ephemeral key per ballot
    assert a != b


def test_a_box_keypair_round_trips_through_raw_bytes_and_never_prints_its_secret() -> None:
    box = BoxKeypair.generate()
    again = BoxKeypair.from_private_bytes(box.private_bytes())
    assert again.public_bytes == box.public_bytes
    assert box.private_bytes().hex() not in repr(box)


# --- passphrases ------------------------------------------------------------------------------


def test_a_passphrase_hash_describes_its_own_parameters() -> None:
    stored = passphrases.hash_passphrase("correct horse battery")
    assert re.fullmatch(r"\$scrypt\$ln=14,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}", stored)
    assert passphrases.verify_passphrase("correct horse battery", stored)
    assert not passphrases.verify_passphrase("correct horse batterY", stored)
    assert not passphrases.needs_rehash(stored)


def test_the_same_passphrase_hashes_differently_each_time(fast_scrypt: None) -> None:
    assert passphrases.hash_passphrase("same passphrase") != passphrases.hash_passphrase(
        "same passphrase"
    )


def test_a_hash_made_with_weaker_parameters_still_verifies_and_asks_for_a_rehash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(passphrases, "SCRYPT_LOG2_N", 10)
    old = passphrases.hash_passphrase("passphrase from 2026")
    monkeypatch.undo()
    assert old.startswith("$scrypt$ln=10,")
    assert passphrases.verify_passphrase("passphrase from 2026", old)
    assert passphrases.needs_rehash(old)


def test_a_passphrase_typed_full_width_or_with_a_trailing_space_is_the_same(
    fast_scrypt: None,
) -> None:
    stored = passphrases.hash_passphrase("Beidui 2026!")
    assert passphrases.verify_passphrase("Ｂｅｉｄｕｉ\u3000２０２６！ ", stored)


@pytest.mark.parametrize("weak", ["", "short", "1234567", "aaaaaaaaaaaa", "        x"])
def test_weak_passphrases_are_refused(weak: str) -> None:
    with pytest.raises(WeakPassphrase) as caught:
        passphrases.hash_passphrase(weak)
    assert caught.value.params == {"min_length": 8}
    with pytest.raises(WeakPassphrase):
        key_wrap.wrap_private_key(BoxKeypair.generate().private, weak)


def test_chinese_passphrases_are_accepted(fast_scrypt: None) -> None:
    stored = passphrases.hash_passphrase("背对项目团队评估口令")
    assert passphrases.verify_passphrase("背对项目团队评估口令", stored)


@pytest.mark.parametrize(
    "stored", ["", "plain", "$scrypt$ln=14,r=8,p=1$!!$!!", "$scrypt$ln=40,r=8,p=1$AAAA$AAAA"]
)
def test_a_corrupt_stored_hash_is_an_error_not_a_wrong_passphrase(stored: str) -> None:
    with pytest.raises(ValueError):
        passphrases.verify_passphrase("whatever passphrase", stored)


@given(passphrase=st.text(min_size=8, max_size=40).filter(lambda p: len(set(p.strip())) > 1))
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_wrapped_box_key_unwraps_with_its_passphrase(fast_scrypt: None, passphrase: str) -> None:
    try:
        passphrases.check_passphrase_strength(passphrase)
    except WeakPassphrase:
        return
    box = BoxKeypair.generate()
    blob = key_wrap.wrap_private_key(box.private, passphrase)
    assert len(blob) == 80
    unwrapped = key_wrap.unwrap_private_key(blob, passphrase)
    assert BoxKeypair(unwrapped).public_bytes == box.public_bytes


def test_a_wrong_passphrase_raises_wrong_passphrase(fast_scrypt: None) -> None:
    blob = key_wrap.wrap_private_key(BoxKeypair.generate(), "the right passphrase")
    with pytest.raises(WrongPassphrase):
        key_wrap.unwrap_private_key(blob, "the wrong passphrase")


def test_a_wrapped_box_key_uses_the_real_scrypt_parameters() -> None:
    blob = key_wrap.wrap_private_key(BoxKeypair.generate(), "the right passphrase")
    assert blob[:4] == bytes([1, 14, 8, 1])


def test_flipping_any_byte_of_a_wrapped_box_key_is_detected(fast_scrypt: None) -> None:
    blob = key_wrap.wrap_private_key(BoxKeypair.generate(), "the right passphrase")
    for index in range(len(blob)):
        changed = bytearray(blob)
        changed[index] ^= 0x01
        with pytest.raises((WrongPassphrase, CannotUnwrap)):
            key_wrap.unwrap_private_key(bytes(changed), "the right passphrase")


def test_a_blob_that_is_not_a_wrapped_key_raises_cannot_unwrap() -> None:
    with pytest.raises(CannotUnwrap):
        key_wrap.unwrap_private_key(b"\x01" * 10, "the right passphrase")
    hostile = bytes([1, 40, 8, 1]) + bytes(76)  # 2^40 scrypt would take a terabyte
    with pytest.raises(CannotUnwrap):
        key_wrap.unwrap_private_key(hostile, "the right passphrase")


# --- live-results key wrapping ----------------------------------------------------------------


@given(data=st.binary(max_size=200), aad=st.binary(max_size=32))
def test_data_wrapped_under_the_instance_secret_unwraps(data: bytes, aad: bytes) -> None:
    key = os.urandom(32)
    assert key_wrap.unwrap_with_key(key, key_wrap.wrap_with_key(key, data, aad), aad) == data


def test_live_wrapped_data_does_not_unwrap_after_the_instance_secret_changes() -> None:
    blob = key_wrap.wrap_with_key(os.urandom(32), b"box key")
    with pytest.raises(CannotUnwrap):
        key_wrap.unwrap_with_key(os.urandom(32), blob)


def test_flipping_any_byte_of_live_wrapped_data_is_detected() -> None:
    key = os.urandom(32)
    blob = key_wrap.wrap_with_key(key, b"box key", b"w1")
    for index in range(len(blob)):
        changed = bytearray(blob)
        changed[index] ^= 0x01
        with pytest.raises(CannotUnwrap):
            key_wrap.unwrap_with_key(key, bytes(changed), b"w1")
    with pytest.raises(CannotUnwrap):
        key_wrap.unwrap_with_key(key, blob, b"w2")


def test_the_live_wrapper_never_encrypts_with_the_raw_instance_secret() -> None:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = os.urandom(32)
    blob = key_wrap.wrap_with_key(key, b"box key")
    with pytest.raises(InvalidTag):
        AESGCM(key).decrypt(blob[1:13], blob[13:], blob[:13])


# --- instance secret --------------------------------------------------------------------------


@pytest.fixture
def no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(instance_secret.SECRET_ENV_VAR, raising=False)


def test_the_instance_secret_file_is_created_owner_only(
    tmp_path: Path, no_secret_env: None
) -> None:
    path = tmp_path / "state" / "instance.key"
    old_umask = os.umask(0)  # even a permissive umask must not widen the mode
    try:
        secret = instance_secret.load_or_create_instance_secret(path)
    finally:
        os.umask(old_umask)
    assert len(secret) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert instance_secret.load_or_create_instance_secret(path) == secret
    assert [p.name for p in path.parent.iterdir()] == ["instance.key"]  # no temp files left


def test_an_instance_secret_file_readable_by_others_is_tightened(
    tmp_path: Path, no_secret_env: None
) -> None:
    path = tmp_path / "instance.key"
    path.write_text("ab" * 32)
    path.chmod(0o644)
    assert instance_secret.load_or_create_instance_secret(path) == bytes.fromhex("ab" * 32)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_processes_starting_at_once_agree_on_one_instance_secret(
    tmp_path: Path, no_secret_env: None
) -> None:
    path = tmp_path / "instance.key"
    results: list[bytes] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        results.append(instance_secret.load_or_create_instance_secret(path))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert len(set(results)) == 1


@pytest.mark.parametrize("encode", [bytes.hex, lambda b: base64.b64encode(b).decode()])
def test_the_environment_variable_overrides_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encode: object
) -> None:
    raw = os.urandom(32)
    monkeypatch.setenv(instance_secret.SECRET_ENV_VAR, encode(raw))  # type: ignore[operator]
    path = tmp_path / "instance.key"
    assert instance_secret.load_or_create_instance_secret(path) == raw
    assert not path.exists()


@pytest.mark.parametrize("value", ["abcd", "zz" * 32, base64.b64encode(bytes(16)).decode()])
def test_an_invalid_environment_secret_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(instance_secret.SECRET_ENV_VAR, value)
    with pytest.raises(InvalidInstanceSecret):
        instance_secret.load_or_create_instance_secret(tmp_path / "instance.key")


# --- signatures -------------------------------------------------------------------------------


def test_a_signed_manifest_verifies_and_a_changed_one_does_not() -> None:
    key = signatures.new_signing_key()
    signature = signatures.sign(key, b"manifest")
    public = key.public_key()
    assert signatures.verify_signature(public, b"manifest", signature)
    assert not signatures.verify_signature(public, b"manifesT", signature)
    # Flip one bit of the first byte (inside R). Overwriting the last byte with 0x00 was flaky:
    # that byte is the top of S < 2**253, already 0x00 about one time in 17 (234 of 4,000).
    tampered = bytes([signature[0] ^ 0x01]) + signature[1:]
    assert tampered != signature
    assert not signatures.verify_signature(public, b"manifest", tampered)
    assert not signatures.verify_signature(
        signatures.new_signing_key().public_key(), b"manifest", signature
    )
    assert not signatures.verify_signature(b"short", b"manifest", signature)


def test_signing_keys_round_trip_through_raw_bytes_and_pem() -> None:
    key = signatures.new_signing_key()
    public = key.public_key()
    raw_pub = signatures.public_key_to_bytes(public)
    signature = signatures.sign(
        signatures.signing_key_from_bytes(signatures.signing_key_to_bytes(key)), b"x"
    )
    assert signatures.verify_signature(signatures.public_key_from_bytes(raw_pub), b"x", signature)
    assert signatures.verify_signature(raw_pub, b"x", signature)
    pem_pub = signatures.public_key_to_pem(public)
    assert signatures.public_key_to_bytes(signatures.public_key_from_pem(pem_pub)) == raw_pub
    pem = signatures.signing_key_to_pem(key)
    assert signatures.signing_key_to_bytes(signatures.signing_key_from_pem(pem)) == (
        signatures.signing_key_to_bytes(key)
    )


def test_an_encrypted_signing_key_pem_needs_its_passphrase() -> None:
    key = signatures.new_signing_key()
    pem = signatures.signing_key_to_pem(key, "export passphrase")
    assert b"ENCRYPTED" in pem
    loaded = signatures.signing_key_from_pem(pem, "export passphrase")
    assert signatures.signing_key_to_bytes(loaded) == signatures.signing_key_to_bytes(key)
    with pytest.raises(WrongPassphrase):
        signatures.signing_key_from_pem(pem, "another passphrase")


def test_fingerprints_are_stable_grouped_and_tell_key_types_apart() -> None:
    key = signatures.new_signing_key().public_key()
    fp = human_codes.fingerprint(key)
    assert re.fullmatch(rf"([{ALPHABET}]{{4}}-){{3}}[{ALPHABET}]{{4}}", fp)
    assert human_codes.fingerprint(signatures.public_key_to_bytes(key)) == fp
    assert human_codes.fingerprint(signatures.new_signing_key().public_key()) != fp
    raw = signatures.public_key_to_bytes(key)
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    assert human_codes.fingerprint(X25519PublicKey.from_public_bytes(raw)) != fp


def test_every_crypto_error_has_text_in_both_languages() -> None:
    from core.errors import BeiduiError
    from core.ratelimit import TooManyAttempts

    modules = (human_codes, instance_secret, key_wrap, passphrases, sealed_box, signatures)
    classes = {
        c
        for module in modules
        for c in vars(module).values()
        if isinstance(c, type) and issubclass(c, BeiduiError) and c is not BeiduiError
    } | {TooManyAttempts}
    params = {"expected": 10, "character": "O", "min_length": 8, "retry_after_s": 15}
    for cls in classes:
        assert cls.key.startswith("crypto."), cls
        for lang in ("zh", "en"):
            text = t(cls.key, lang, **params)
            assert text != cls.key, (cls, lang)
