"""Workshop backups: an archive restores into another instance (SQLite ↔ PostgreSQL), whole or
not at all, reveals to the same results with the same passphrase, and recalls nothing about
a person that the database did not already hold.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import secrets
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core import note_moderation, note_summary, note_themes, notes, results
from core.backup.archive import (
    DOCUMENT_NAME,
    MANIFEST_NAME,
    ArchiveInvalid,
    InstanceSecretMismatch,
    WorkshopCodeTaken,
    WorkshopNumberTaken,
    read_archive,
)
from core.backup.dump import export_archive
from core.backup.restore import import_archive
from core.ballot_values import CardNotFound
from core.cards import card_counts, issue_cards
from core.casting import BallotState, ballot_status, receipt_when_stored, submit_ballot
from core.closing import close_voting
from core.console import move_to
from core.console_access import open_console, unlock_console
from core.db import Database
from core.domain import Stage, StagePosition
from core.instance import Admin
from core.live_key import live_keypair, unlock_live_results
from core.reveal import reveal
from core.templates import available_templates
from core.workshops import create_workshop, get_workshop
from tests.conftest import PgSchema, require_postgres
from tests.integration.test_ballots import assert_has_texts, row_counts

PASS = "correct horse battery"
ROOT = Path(__file__).resolve().parents[2]
NOTES = {0: ["同伴支持很有用", "培训太短", "需要更多实践", "导师很耐心", "资料太多"]}


# --- stores ------------------------------------------------------------------------------------


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Callable[[str], Database]]:
    """Opens fresh, migrated stores of either backend; all are closed and dropped afterwards."""
    with ExitStack() as stack:
        n = 0

        def open_store(backend: str) -> Database:
            nonlocal n
            n += 1
            if backend == "sqlite":
                db = Database.connect(f"sqlite:///{tmp_path / f'store{n}.db'}")
            else:
                schema = PgSchema(require_postgres())
                stack.callback(schema.drop)
                db = Database.connect(schema.base_url, **schema.engine_kwargs())  # type: ignore[arg-type]
            stack.callback(db.dispose)
            return db

        yield open_store


@dataclass
class Source:
    db: Database
    key: bytes
    code: str
    grant: str
    unused_cards: list[str]
    receipts: list[str]


def run_source(
    db: Database, *, stage: Stage, is_live_results: bool = False, ballots: int = 12
) -> Source:
    """A workshop with notes, a theme, a summary, cards and ballots, stopped at `stage`."""
    key = secrets.token_bytes(32)
    tpl = available_templates()["default"]
    code = create_workshop(
        Admin.trusted(db), tpl, "备份工作坊", PASS, anonymity_k=3, is_live_results=is_live_results
    )
    grant = unlock_console(db, key, code, PASS).token
    auth = open_console(db, key, code, grant)
    move_to(auth, StagePosition(Stage.QUESTIONS, 0))
    for text in NOTES[0]:
        notes.post_note(db, code, text, 0)
    note_moderation.flush_pending(auth, 0)
    wall = {n.text: n.id for n in notes.wall(db, code, 0, include_hidden=True)}
    theme = note_themes.create_theme(auth, 0, "支持")
    note_themes.assign_note(auth, wall[NOTES[0][0]], theme)
    notes.add_dot(db, code, wall[NOTES[0][1]])
    note_moderation.hide_note(auth, wall[NOTES[0][4]], True)
    note_summary.set_summary_points(auth, 0, ["同伴很重要"])
    move_to(auth, StagePosition(Stage.VOTING))
    cards = issue_cards(auth, ballots + 4)
    methods = [m.key for m in tpl.methods]
    roles = [r.key for r in tpl.roles]
    tickets = []
    for i, card in enumerate(cards[:ballots]):
        ranking = methods[i % len(methods) :] + methods[: i % len(methods)]
        role = roles[i % len(roles)] if i % 3 else None
        tickets.append(submit_ballot(db, key, code, card, ranking[: 1 + i % 5], role))
    if is_live_results:
        unlock_live_results(auth, PASS)
        results.refresh_live_results(db, key, code)
    if stage in (Stage.CLOSED, Stage.REVEALED):
        close_voting(auth)
    # While voting, a remainder below k stays queued (unwritten): only stored ballots count.
    statuses = [ballot_status(t.id) for t in tickets]
    receipts = [s.receipt for s in statuses if s.state is BallotState.STORED and s.receipt]
    if stage == Stage.REVEALED:
        reveal(auth, PASS)
    return Source(db, key, code, grant, cards[ballots:], receipts)


def finish(db: Database, key: bytes, code: str) -> None:
    """Close (if still voting) and reveal with the facilitator's passphrase."""
    grant = unlock_console(db, key, code, PASS).token
    if get_workshop(db, code).stage == Stage.VOTING:
        close_voting(open_console(db, key, code, grant))
    reveal(open_console(db, key, code, grant), PASS)


def wall_state(db: Database, code: str) -> Any:
    return (
        sorted(
            (n.text, n.dots, n.theme_name, n.is_hidden)
            for n in notes.wall(db, code, 0, include_hidden=True)
        ),
        [(t.name, t.note_count, t.dots) for t in note_themes.themes(db, code, 0)],
        note_summary.summary_points(db, code, 0),
    )


def document(archive: bytes) -> dict[str, Any]:
    return read_archive(archive)


def rezip(archive: bytes, change: Callable[[dict[str, Any]], None], *, fix_manifest: bool) -> bytes:
    """The archive with its document edited; the manifest recomputed only if asked."""
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        manifest = json.loads(zf.read(MANIFEST_NAME))
        body = json.loads(zf.read(DOCUMENT_NAME))
    change(body)
    doc = json.dumps(body).encode()
    if fix_manifest:
        manifest["files"][DOCUMENT_NAME] = {
            "sha256": hashlib.sha256(doc).hexdigest(),
            "bytes": len(doc),
        }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(MANIFEST_NAME, json.dumps(manifest))
        zf.writestr(DOCUMENT_NAME, doc)
    return out.getvalue()


DIRECTIONS = [
    pytest.param("sqlite", "sqlite", id="sqlite->sqlite"),
    pytest.param("sqlite", "postgresql", id="sqlite->pg", marks=pytest.mark.postgres),
    pytest.param("postgresql", "sqlite", id="pg->sqlite", marks=pytest.mark.postgres),
]


# --- restoring ---------------------------------------------------------------------------------


@pytest.mark.parametrize("source_backend,target_backend", DIRECTIONS)
@pytest.mark.parametrize("stage", [Stage.VOTING, Stage.CLOSED])
def test_a_restored_workshop_reveals_to_the_same_results_with_the_same_passphrase(
    stores: Callable[[str], Database], source_backend: str, target_backend: str, stage: Stage
) -> None:
    # 1. a workshop mid-voting (or closed) in the source instance
    src = run_source(stores(source_backend), stage=stage)
    archive = export_archive(src.db, src.code, secret_key=src.key)
    # 2. restored into a fresh instance: the same secret while voting (cards must still
    #    verify), another secret once closed (cards no longer matter)
    target = stores(target_backend)
    target_key = src.key if stage == Stage.VOTING else secrets.token_bytes(32)
    assert import_archive(target, archive, secret_key=target_key) == src.code
    assert get_workshop(target, src.code).stage == stage
    assert wall_state(target, src.code) == wall_state(src.db, src.code)
    assert card_counts(target, src.code) == card_counts(src.db, src.code)
    assert results.ballot_count(target, src.code) == len(src.receipts)
    assert all(results.verify_receipt(target, src.code, r) for r in src.receipts)
    # 3. both reveal with the facilitator's passphrase: identical results
    finish(src.db, src.key, src.code)
    finish(target, target_key, src.code)
    assert results.opened_rankings(target, src.code) == results.opened_rankings(src.db, src.code)
    assert results.published_results(target, src.code) == results.published_results(
        src.db, src.code
    )
    assert results.receipts(target, src.code) == sorted(src.receipts)
    # 4. the target keeps working: a new workshop gets a number of its own
    other = create_workshop(Admin.trusted(target), available_templates()["default"], "下一个", PASS)
    assert get_workshop(target, other).id != get_workshop(target, src.code).id


def test_voting_goes_on_in_the_restored_workshop_when_the_secret_is_shared(
    stores: Callable[[str], Database],
) -> None:
    src = run_source(stores("sqlite"), stage=Stage.VOTING)
    archive = export_archive(src.db, src.code, secret_key=src.key)
    target = stores("sqlite")
    import_archive(target, archive, secret_key=src.key)
    methods = get_workshop(target, src.code).method_keys
    for card in src.unused_cards:
        submit_ballot(target, src.key, src.code, card, methods[:3], None)
    # Close on the target so the last ballots below k are written too.
    close_voting(unlock_console(target, src.key, src.code, PASS))
    assert card_counts(target, src.code).unused == 0
    assert results.ballot_count(target, src.code) == len(src.receipts) + len(src.unused_cards)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_an_archive_taken_while_ballots_are_cast_is_one_consistent_snapshot(
    stores: Callable[[str], Database], backend: str
) -> None:
    # A guard more than a proof: the window between two SELECTs is short, and this test did
    # not catch the READ COMMITTED version in practice; the snapshot is argued in export_archive.
    db = stores(backend)
    src = run_source(db, stage=Stage.VOTING, ballots=2)
    grant = unlock_console(db, src.key, src.code, PASS).token
    cards = issue_cards(open_console(db, src.key, src.code, grant), 400)
    methods = get_workshop(db, src.code).method_keys
    stop = threading.Event()

    def cast_all() -> None:
        for card in cards:
            if stop.is_set():
                return
            submit_ballot(db, src.key, src.code, card, methods[:2], None)

    caster = threading.Thread(target=cast_all)
    caster.start()
    try:
        exports = 0
        while caster.is_alive() or exports == 0:
            exports += 1
            body = document(export_archive(db, src.code, secret_key=src.key))
            spent = sum(1 for c in body["cards"] if c["is_spent"])
            assert spent == len(body["sealed_ballots"])
    finally:
        stop.set()
        caster.join(60)


def test_unused_cards_from_another_secret_are_refused_unless_voided_and_then_never_verify(
    stores: Callable[[str], Database],
) -> None:
    src = run_source(stores("sqlite"), stage=Stage.VOTING)
    archive = export_archive(src.db, src.code, secret_key=src.key)
    target = stores("sqlite")
    other_key = secrets.token_bytes(32)
    before = row_counts(target)
    with pytest.raises(InstanceSecretMismatch) as refused:
        import_archive(target, archive, secret_key=other_key)
    assert refused.value.params["unused"] == len(src.unused_cards)
    assert_has_texts(refused.value)
    assert row_counts(target) == before  # nothing imported
    # An archive exported without the secret cannot prove anything either.
    with pytest.raises(InstanceSecretMismatch):
        import_archive(target, export_archive(src.db, src.code), secret_key=src.key)

    import_archive(target, archive, secret_key=other_key, void_unused_cards=True)
    counts = card_counts(target, src.code)
    methods = get_workshop(target, src.code).method_keys
    assert (counts.spent, counts.void, counts.unused) == (
        len(src.receipts),
        len(src.unused_cards),
        0,
    )
    with pytest.raises(CardNotFound):
        receipt_when_stored(
            submit_ballot(target, other_key, src.code, src.unused_cards[0], methods[:1], None)
        )
    # New cards issued here work, and the old ballots still reveal with the passphrase.
    grant = unlock_console(target, other_key, src.code, PASS).token
    fresh = issue_cards(open_console(target, other_key, src.code, grant), 1)
    submit_ballot(target, other_key, src.code, fresh[0], methods[:2], None)
    finish(target, other_key, src.code)
    assert len(results.opened_rankings(target, src.code)) == len(src.receipts) + 1


def test_an_existing_code_is_refused_with_a_localized_error_and_nothing_changes(
    stores: Callable[[str], Database],
) -> None:
    src = run_source(stores("sqlite"), stage=Stage.CLOSED, ballots=4)
    archive = export_archive(src.db, src.code, secret_key=src.key)
    target = stores("sqlite")
    import_archive(target, archive, secret_key=src.key)
    before = row_counts(target)
    with pytest.raises(WorkshopCodeTaken) as refused:
        import_archive(target, archive, secret_key=src.key)
    assert refused.value.params["code"] == src.code
    assert_has_texts(refused.value)
    assert row_counts(target) == before


def test_sealed_ballots_keep_their_workshop_number_or_the_import_is_refused(
    stores: Callable[[str], Database],
) -> None:
    # The ciphertexts are bound to (number, code); the target already uses number 1.
    src = run_source(stores("sqlite"), stage=Stage.CLOSED, ballots=4)
    target = stores("sqlite")
    create_workshop(Admin.trusted(target), available_templates()["default"], "已有", PASS)
    before = row_counts(target)
    with pytest.raises(WorkshopNumberTaken) as refused:
        import_archive(target, export_archive(src.db, src.code), secret_key=src.key)
    assert_has_texts(refused.value)
    assert row_counts(target) == before
    # Once revealed nothing sealed is left, so the workshop may take another number.
    finish(src.db, src.key, src.code)
    import_archive(target, export_archive(src.db, src.code), secret_key=src.key)
    assert get_workshop(target, src.code).id != get_workshop(src.db, src.code).id
    assert results.opened_rankings(target, src.code) == results.opened_rankings(src.db, src.code)
    assert results.published_results(target, src.code) == results.published_results(
        src.db, src.code
    )


@pytest.mark.parametrize(
    "damage",
    [
        "not a zip",
        "document changed, manifest not",
        "extra file",
        "unknown version",
    ],
)
def test_a_damaged_archive_is_refused_before_anything_is_written(
    stores: Callable[[str], Database], damage: str
) -> None:
    src = run_source(stores("sqlite"), stage=Stage.CLOSED, ballots=4)
    archive = export_archive(src.db, src.code, secret_key=src.key)
    if damage == "not a zip":
        bad = archive[: len(archive) // 2]
    elif damage == "document changed, manifest not":
        bad = rezip(archive, lambda b: b["workshop"].update(name="篡改"), fix_manifest=False)
    elif damage == "extra file":
        out = io.BytesIO(archive)
        with zipfile.ZipFile(out, "a") as zf:
            zf.writestr("extra.txt", "x")
        bad = out.getvalue()
    else:
        bad = rezip(archive, lambda b: b.update(version=99), fix_manifest=True)
    target = stores("sqlite")
    before = row_counts(target)
    with pytest.raises(ArchiveInvalid) as refused:
        import_archive(target, bad, secret_key=src.key)
    assert_has_texts(refused.value)
    assert row_counts(target) == before


def test_an_import_that_fails_half_way_leaves_no_row_behind(
    stores: Callable[[str], Database],
) -> None:
    # A valid manifest over a document whose LAST note points at a theme that does not exist:
    # the workshop, cards and ballots were already flushed when the error is found.
    src = run_source(stores("sqlite"), stage=Stage.CLOSED, ballots=4)
    archive = rezip(
        export_archive(src.db, src.code, secret_key=src.key),
        lambda b: b["notes"][-1].update(theme=99),
        fix_manifest=True,
    )
    target = stores("sqlite")
    before = row_counts(target)
    with pytest.raises(ArchiveInvalid):
        import_archive(target, archive, secret_key=src.key)
    assert row_counts(target) == before


def test_a_ballot_swapped_for_another_ciphertext_is_refused(
    stores: Callable[[str], Database],
) -> None:
    src = run_source(stores("sqlite"), stage=Stage.CLOSED, ballots=4)

    def swap(body: dict[str, Any]) -> None:
        body["sealed_ballots"][0]["sealed"] = body["sealed_ballots"][1]["sealed"]

    archive = rezip(export_archive(src.db, src.code), swap, fix_manifest=True)
    with pytest.raises(ArchiveInvalid):
        import_archive(stores("sqlite"), archive, secret_key=src.key)


# --- what the archive holds ----------------------------------------------------------------------

ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, f"{path}.{k}")
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v, f"{path}[]")
    elif isinstance(node, str):
        yield path, node


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_the_archive_holds_nothing_per_person_beyond_the_database_no_time_no_order_no_live_key(
    stores: Callable[[str], Database], backend: str
) -> None:
    db = stores(backend)
    src = run_source(db, stage=Stage.VOTING, is_live_results=True)
    with db.engine.connect() as conn:
        live = conn.exec_driver_sql("SELECT box_private_key_live FROM workshop_secrets").scalar()
    assert live is None  # the unlocked live key is in server memory only (issue 10) ...
    keypair = live_keypair(db, get_workshop(db, src.code).id)
    assert keypair is not None
    archive = export_archive(db, src.code, secret_key=src.key)
    body = document(archive)
    # ... and never in the archive, in any encoding
    assert b"private_key_live" not in archive
    assert base64.b64encode(keypair.private_bytes()).decode() not in json.dumps(body)
    assert keypair.private_bytes() not in archive
    assert "box_private_key_live" not in body["secrets"]

    # No time but the workshop's two stage-level ones; zip entries carry a fixed date.
    timed = sorted(path for path, value in _strings(body) if ISO_TIME.match(value))
    assert timed == [".workshop.created_at", ".workshop.stage_changed_at"]
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert [i.filename for i in zf.infolist()] == [MANIFEST_NAME, DOCUMENT_NAME]

    # Participant rows: exactly the columns the database has, sorted by their random keys.
    fields = {
        "cards": ({"digest", "is_spent", "is_void"}, "digest"),
        "sealed_ballots": ({"id", "sealed", "receipt"}, "id"),
        "opened_ballots": ({"id", "ranking", "role"}, "id"),
        "notes": ({"id", "question", "text", "dots", "is_hidden", "theme", "is_published"}, "id"),
    }
    for table, (columns, key) in fields.items():
        rows = body[table]
        assert all(set(r) == columns for r in rows), table
        assert [r[key] for r in rows] == sorted(r[key] for r in rows), table
    assert len(body["cards"]) == 16 and len(body["sealed_ballots"]) == 12
    with db.engine.connect() as conn:
        stored = {r[0] for r in conn.exec_driver_sql("SELECT receipt FROM sealed_ballots")}
    assert {b["receipt"] for b in body["sealed_ballots"]} == stored
    # No other integer ids (question, theme, summary point rows are referenced by position).
    assert body["workshop"]["id"] == get_workshop(db, src.code).id
    for table in ("questions", "methods", "roles", "themes", "summary_points"):
        assert all("id" not in r for r in body[table]), table

    # The same rows give the same bytes: nothing about when or in what order they were read.
    assert export_archive(db, src.code, secret_key=src.key) == archive


def test_the_archive_order_does_not_follow_the_casting_order(
    stores: Callable[[str], Database],
) -> None:
    db = stores("sqlite")
    src = run_source(db, stage=Stage.VOTING, ballots=20)
    listed = [b["receipt"] for b in document(export_archive(db, src.code))["sealed_ballots"]]
    assert sorted(listed) == sorted(src.receipts)
    assert listed != src.receipts  # 1 / 20! chance of a false failure


def test_the_command_line_exports_owner_only_and_imports(tmp_path: Path) -> None:
    src_dir, dst_dir = tmp_path / "a", tmp_path / "b"
    key = secrets.token_hex(32)
    src_env = {"BEIDUI_DATA_DIR": str(src_dir), "BEIDUI_SECRET_KEY": key, "BEIDUI_LANG": "en"}
    src_db = Database.connect(f"sqlite:///{src_dir / 'beidui.db'}")
    try:
        code = run_source(src_db, stage=Stage.CLOSED, ballots=3).code
    finally:
        src_db.dispose()
    out = tmp_path / "ws.zip"

    def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "core.backup", *args],
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", **env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = cli(src_env, "export", code, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert code in done.stdout
    assert out.stat().st_mode & 0o777 == 0o600
    dst_env = {**src_env, "BEIDUI_DATA_DIR": str(dst_dir)}
    done = cli(dst_env, "import", str(out))
    assert done.returncode == 0, done.stderr
    done = cli(dst_env, "import", str(out))
    assert done.returncode == 1
    assert code in done.stderr and "already exists" in done.stderr
