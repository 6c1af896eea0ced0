"""The archive format: its names and limits, its errors, and reading a checked document.

Reading never touches a database: an archive is checked (manifest, JSON, field types) before
anything is written, so a damaged archive changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

from core.ballot_values import join_code
from core.domain import Stage, WorkshopCode
from core.errors import BeiduiError
from core.limits import MAX_DOCUMENT_BYTES

ARCHIVE_FORMAT: Final = "beidui-workshop-archive"
ARCHIVE_VERSION: Final = 1
DOCUMENT_NAME: Final = "workshop.json"
MANIFEST_NAME: Final = "manifest.json"
# A workshop of 100k ballots is ~250 MB of JSON; refuse anything that inflates further.
_INSTANCE_CHECK_LABEL: Final = b"beidui/backup/instance-check/v1"


class ArchiveInvalid(BeiduiError, key="backup.errors.invalid"):
    """Not a Beidui archive, damaged, or its manifest does not match (params: problem)."""


class WorkshopCodeTaken(BeiduiError, key="backup.errors.code_taken"):
    """This instance already has a workshop with the archive's join code (params: code)."""


class WorkshopNumberTaken(BeiduiError, key="backup.errors.number_taken"):
    """Sealed ballots are bound to the workshop's number, used here by another workshop."""


class InstanceSecretMismatch(BeiduiError, key="backup.errors.secret_mismatch"):
    """Unused cards would not verify under this instance's secret (params: unused)."""


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def unb64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ArchiveInvalid("binary field is not text", problem="field")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise ArchiveInvalid("binary field is not base64", problem="field") from None


def unhex(value: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ArchiveInvalid("binary field is not hex", problem="field") from None


def instance_check(secret_key: bytes) -> str:
    """A value that tells whether two instances share a secret without revealing it."""
    return hmac.new(secret_key, _INSTANCE_CHECK_LABEL, hashlib.sha256).hexdigest()


def dumps(document: Mapping[str, Any]) -> bytes:
    return json.dumps(
        document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), indent=None
    ).encode("utf-8")


def read_archive(data: bytes) -> dict[str, Any]:
    """The checked document of an archive, or `ArchiveInvalid` naming the problem."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        raise ArchiveInvalid("not a zip file", problem="zip") from None
    with zf:
        infos = {i.filename: i for i in zf.infolist()}
        if set(infos) != {MANIFEST_NAME, DOCUMENT_NAME}:
            raise ArchiveInvalid("unexpected files", problem="files")
        if any(i.file_size > MAX_DOCUMENT_BYTES for i in infos.values()):
            raise ArchiveInvalid("too large", problem="size")
        try:
            manifest = json.loads(zf.read(MANIFEST_NAME))
            document = zf.read(DOCUMENT_NAME)
        except (zipfile.BadZipFile, ValueError, OSError):
            raise ArchiveInvalid("damaged entry", problem="zip") from None
    if not _is_this_format(manifest):
        raise ArchiveInvalid("unknown format or version", problem="version")
    entry = (manifest.get("files") or {}).get(DOCUMENT_NAME)
    if (
        not isinstance(entry, dict)
        or entry.get("bytes") != len(document)
        or not hmac.compare_digest(
            str(entry.get("sha256", "")), hashlib.sha256(document).hexdigest()
        )
    ):
        raise ArchiveInvalid("manifest does not match", problem="manifest")
    try:
        body = json.loads(document.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ArchiveInvalid("document is not JSON", problem="document") from None
    if not _is_this_format(body):
        raise ArchiveInvalid("document format", problem="version")
    return cast(dict[str, Any], body)


def _is_this_format(header: Any) -> bool:
    # The manifest and the document each name the format and version they were written in.
    return (
        isinstance(header, dict)
        and header.get("format") == ARCHIVE_FORMAT
        and header.get("version") == ARCHIVE_VERSION
    )


def read_field(row: Any, name: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(row, dict) or name not in row:
        raise ArchiveInvalid(f"missing {name}", problem="field")
    value = row[name]
    # bool is an int in Python: an integer field must not accept true/false, and back.
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
        raise ArchiveInvalid(f"bad {name}", problem="field")
    return value


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def read_rows(body: Mapping[str, Any], name: str) -> list[Any]:
    rows = body.get(name)
    if not isinstance(rows, list):
        raise ArchiveInvalid(f"missing {name}", problem="field")
    return rows


@dataclass(frozen=True)
class ArchiveSummary:
    """What an archive holds, in numbers (for the CLI and for tests)."""

    code: WorkshopCode
    stage: Stage
    cards: int
    unused_cards: int
    sealed_ballots: int
    opened_ballots: int
    notes: int


def summarize(body: Mapping[str, Any]) -> ArchiveSummary:
    w = body.get("workshop")
    cards = read_rows(body, "cards")
    try:
        stage = Stage(read_field(w, "stage", str))
    except ValueError:
        raise ArchiveInvalid("unknown stage", problem="field") from None
    return ArchiveSummary(
        code=join_code(read_field(w, "code", str)),
        stage=stage,
        cards=len(cards),
        unused_cards=sum(
            1
            for c in cards
            if not read_field(c, "is_spent", bool) and not read_field(c, "is_void", bool)
        ),
        sealed_ballots=len(read_rows(body, "sealed_ballots")),
        opened_ballots=len(read_rows(body, "opened_ballots")),
        notes=len(read_rows(body, "notes")),
    )
