"""Workshops round-trip through storage on every backend; the console is passphrase-gated."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import inspect

from core.console import move_to
from core.console_access import open_console, unlock_console
from core.crypto import key_wrap, passphrases, sealed_box
from core.db import Database, current_revision
from core.domain import Stage, StagePosition, StageTransitionRefused
from core.instance import Admin, Instance
from core.templates import available_templates
from core.workshops import (
    InvalidSetting,
    NotAuthorized,
    WorkshopNotFound,
    create_workshop,
    get_workshop,
    list_workshops,
)

PASS = "correct horse battery"


def test_a_workshop_created_from_the_default_template_reads_back_every_field(db: Database) -> None:
    tpl = available_templates()["default"]
    code = create_workshop(
        Admin.trusted(db),
        tpl,
        "年会 2024",
        PASS,
        ballot_size=4,
        anonymity_k=6,
        is_live_results=True,
    )
    w = get_workshop(db, code.lower())  # typed on a phone: case does not matter
    assert (w.code, w.name, w.template_key, w.stage) == (code, "年会 2024", "default", Stage.DRAFT)
    assert (w.ballot_size, w.anonymity_k, w.is_open_mode, w.is_live_results) == (4, 6, False, True)
    assert [q.text for q in w.questions] == list(tpl.questions)
    assert [q.position for q in w.questions] == [0, 1, 2, 3]
    assert [(m.key, m.label, m.description) for m in w.methods] == [
        (m.key, m.label, m.description) for m in tpl.methods
    ]
    assert [(r.key, r.label) for r in w.roles] == [(r.key, r.label) for r in tpl.roles]
    assert [x.code for x in list_workshops(db)] == [code]


def test_key_material_is_stored_only_hashed_or_encrypted(db: Database) -> None:
    code = create_workshop(Admin.trusted(db), available_templates()["default"], "W", PASS)
    with db.engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT * FROM workshop_secrets").mappings().one()
    dumped = repr(dict(row)).encode()
    assert PASS.encode() not in dumped
    assert row["passphrase_hash"].startswith("$scrypt$")
    # The wrapped private key opens with the passphrase and only with it.
    key = key_wrap.unwrap_private_key(bytes(row["box_private_key_wrapped"]), PASS)
    assert sealed_box.BoxKeypair(key).public_bytes == bytes(row["box_public_key"])
    with pytest.raises(passphrases.WrongPassphrase):
        key_wrap.unwrap_private_key(bytes(row["box_private_key_wrapped"]), PASS + "x")
    assert code


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"ballot_size": 0}, "ballot_size"),
        ({"ballot_size": 9}, "ballot_size"),
        ({"anonymity_k": 2}, "anonymity_k"),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_stored(
    db: Database, kwargs: dict[str, int], setting: str
) -> None:
    with pytest.raises(InvalidSetting) as info:
        create_workshop(Admin.trusted(db), available_templates()["default"], "W", PASS, **kwargs)
    assert info.value.params["setting"] == setting
    assert list_workshops(db) == []


def test_a_weak_passphrase_is_refused(db: Database) -> None:
    with pytest.raises(passphrases.WeakPassphrase):
        create_workshop(Admin.trusted(db), available_templates()["default"], "W", "short")
    assert list_workshops(db) == []


def test_the_console_moves_forward_only_with_the_passphrase(instance: Instance) -> None:
    db, key = instance.db, instance.secret_key
    code = create_workshop(Admin.trusted(db), available_templates()["default"], "W", PASS)
    with pytest.raises(passphrases.WrongPassphrase):
        unlock_console(db, key, code, "wrong passphrase!")
    with pytest.raises(NotAuthorized):
        move_to(open_console(db, key, code, "forged-grant"), StagePosition(Stage.QUESTIONS, 0))
    grant = unlock_console(db, key, code, PASS).token
    for q in range(4):
        assert (
            move_to(
                open_console(db, key, code, grant), StagePosition(Stage.QUESTIONS, q)
            ).current_question
            == q
        )
    assert (
        move_to(open_console(db, key, code, grant), StagePosition(Stage.VOTING)).stage
        == Stage.VOTING
    )
    with pytest.raises(StageTransitionRefused):
        move_to(open_console(db, key, code, grant), StagePosition(Stage.QUESTIONS, 0))
    assert get_workshop(db, code).stage == Stage.VOTING


def test_an_unknown_workshop_code_is_a_clear_error(db: Database) -> None:
    with pytest.raises(WorkshopNotFound):
        get_workshop(db, "ZZZZZZ")


def test_participant_tables_have_no_time_or_person_columns(db: Database) -> None:
    insp = inspect(db.engine)
    for table in ("cards", "sealed_ballots", "opened_ballots", "notes"):
        names = {c["name"] for c in insp.get_columns(table)}
        assert not {
            n
            for n in names
            if n.endswith("_at") or n in {"session", "ip", "device", "voter", "card", "created"}
        }


def test_the_schema_is_migrated_to_the_newest_revision(db: Database) -> None:
    assert current_revision(db.engine) is not None


def test_the_sqlite_database_file_is_readable_only_by_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "x.db"
    db = Database.connect(f"sqlite:///{path}")
    db.dispose()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
