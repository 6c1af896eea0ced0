"""The bundle verifier on hand-made bundles: it names what changed and never raises."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from core.crypto import signatures
from core.export_signing import (
    MANIFEST_NAME,
    PUBLIC_KEY_NAME,
    SIGNATURE_NAME,
    manifest_bytes,
    signing_fingerprint,
)
from core.verify import main, verify_bundle

FILES = {
    "rankings.csv": "\ufeffrank_1,rank_1_label\r\naction_research,行动研究\r\n".encode(),
    "results.json": b'{"format": "beidui-results/1"}\n',
    "report.pdf": bytes(range(256)) * 4,
}


def _bundle(path: Path, files: dict[str, bytes] = FILES) -> Ed25519PrivateKey:
    key = signatures.new_signing_key()
    path.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (path / name).write_bytes(content)
    manifest = manifest_bytes(files, "ABC123", signing_fingerprint(key))
    (path / MANIFEST_NAME).write_bytes(manifest)
    (path / SIGNATURE_NAME).write_bytes(signatures.sign(key, manifest))
    (path / PUBLIC_KEY_NAME).write_bytes(signatures.public_key_to_pem(key.public_key()))
    return key


def test_an_intact_bundle_is_valid_and_reports_its_fingerprint(tmp_path: Path) -> None:
    key = _bundle(tmp_path)
    result = verify_bundle(tmp_path)
    assert result.is_valid and result.problem is None and result.changed_file is None
    assert result.fingerprint == signing_fingerprint(key)


@pytest.mark.parametrize("name", sorted(FILES))
def test_one_flipped_byte_in_any_file_is_named(tmp_path: Path, name: str) -> None:
    _bundle(tmp_path)
    raw = bytearray((tmp_path / name).read_bytes())
    raw[0] ^= 0x80
    (tmp_path / name).write_bytes(bytes(raw))
    result = verify_bundle(tmp_path)
    assert (result.is_valid, result.changed_file) == (False, name)
    assert result.problem is not None and result.problem.key == "export.verify.changed_file"
    assert result.problem.params == {"file": name}


def test_a_file_of_the_same_length_but_other_content_is_named(tmp_path: Path) -> None:
    _bundle(tmp_path)
    (tmp_path / "results.json").write_bytes(b'{"format": "beidui-results/2"}\n')
    assert verify_bundle(tmp_path).changed_file == "results.json"


@pytest.mark.parametrize("name", sorted(FILES))
def test_a_missing_file_is_named(tmp_path: Path, name: str) -> None:
    _bundle(tmp_path)
    (tmp_path / name).unlink()
    result = verify_bundle(tmp_path)
    assert (result.is_valid, result.changed_file) == (False, name)
    assert result.problem is not None and result.problem.key == "export.verify.missing_file"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        (MANIFEST_NAME, "missing_manifest"),
        (SIGNATURE_NAME, "missing_signature"),
        (PUBLIC_KEY_NAME, "missing_public_key"),
    ],
)
def test_a_missing_envelope_file_is_a_named_problem(
    tmp_path: Path, name: str, problem: str
) -> None:
    _bundle(tmp_path)
    (tmp_path / name).unlink()
    result = verify_bundle(tmp_path)
    assert not result.is_valid
    assert result.problem is not None and result.problem.key == f"export.verify.{problem}"


def test_a_manifest_edited_to_match_changed_files_fails_on_the_signature(tmp_path: Path) -> None:
    _bundle(tmp_path)
    changed = dict(FILES, **{"rankings.csv": b"forged\r\n"})
    (tmp_path / "rankings.csv").write_bytes(changed["rankings.csv"])
    old = json.loads((tmp_path / MANIFEST_NAME).read_bytes())
    (tmp_path / MANIFEST_NAME).write_bytes(
        manifest_bytes(changed, "ABC123", old["signing_key_fingerprint"])
    )
    result = verify_bundle(tmp_path)
    assert not result.is_valid
    assert result.problem is not None and result.problem.key == "export.verify.bad_signature"


def test_a_bundle_re_signed_by_another_key_fails_when_the_fingerprint_is_given(
    tmp_path: Path,
) -> None:
    original = _bundle(tmp_path / "a")
    _bundle(tmp_path / "b")  # a whole bundle by someone else's key is internally consistent
    assert verify_bundle(tmp_path / "b").is_valid
    result = verify_bundle(tmp_path / "b", signing_fingerprint(original))
    assert not result.is_valid
    assert result.problem is not None and result.problem.key == "export.verify.wrong_key"
    assert verify_bundle(tmp_path / "a", signing_fingerprint(original).lower()).is_valid


def test_a_file_added_to_the_bundle_is_named(tmp_path: Path) -> None:
    _bundle(tmp_path)
    (tmp_path / "extra.csv").write_bytes(b"a,b\r\n")
    result = verify_bundle(tmp_path)
    assert (result.is_valid, result.changed_file) == (False, "extra.csv")


def test_a_manifest_naming_a_path_outside_the_bundle_is_refused(tmp_path: Path) -> None:
    key = signatures.new_signing_key()
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (tmp_path / "secret.txt").write_bytes(b"x")
    manifest = manifest_bytes({"../secret.txt": b"x"}, "ABC123", signing_fingerprint(key))
    (bundle / MANIFEST_NAME).write_bytes(manifest)
    (bundle / SIGNATURE_NAME).write_bytes(signatures.sign(key, manifest))
    (bundle / PUBLIC_KEY_NAME).write_bytes(signatures.public_key_to_pem(key.public_key()))
    result = verify_bundle(bundle)
    assert not result.is_valid
    assert result.problem is not None and result.problem.key == "export.verify.bad_manifest"


def test_a_folder_that_is_not_a_bundle_is_invalid_not_an_error(tmp_path: Path) -> None:
    assert not verify_bundle(tmp_path / "nowhere").is_valid
    assert not verify_bundle(tmp_path).is_valid


@settings(max_examples=40, deadline=None)
@given(
    manifest=st.binary(max_size=200),
    signature=st.binary(max_size=80),
    pem=st.binary(max_size=200),
)
def test_garbage_in_the_envelope_never_raises(
    tmp_path_factory: pytest.TempPathFactory, manifest: bytes, signature: bytes, pem: bytes
) -> None:
    path = tmp_path_factory.mktemp("garbage")
    _bundle(path)
    for name, content in ((MANIFEST_NAME, manifest), (SIGNATURE_NAME, signature)):
        (path / name).write_bytes(content)
    if pem:
        (path / PUBLIC_KEY_NAME).write_bytes(pem)
    result = verify_bundle(path)
    assert not result.is_valid and result.problem is not None


def test_the_command_exits_0_for_valid_and_1_naming_the_changed_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _bundle(tmp_path)
    assert main([str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("valid")
    with open(tmp_path / "report.pdf", "ab") as fh:
        fh.write(os.urandom(1))
    assert main([str(tmp_path), "--lang", "zh"]) == 1
    out = capsys.readouterr().out
    assert "report.pdf" in out and "文件被改动过" in out
