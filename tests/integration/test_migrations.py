"""Upgrading keeps every row; the migrations build exactly the schema the models declare."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from core.console import move_to
from core.console_access import unlock_console
from core.db import current_revision, migrate
from core.domain import Stage, StagePosition
from core.instance import Admin
from core.models import Base
from core.templates import available_templates
from core.workshops import create_workshop, get_workshop
from tests.conftest import DbFactory


def test_upgrading_an_old_database_keeps_its_workshops(db_factory: DbFactory) -> None:
    old = db_factory(migrate_schema=False)
    migrate(old.engine, "0001")
    assert current_revision(old.engine) == "0001"
    now = datetime(2024, 11, 16, 9, 0, tzinfo=UTC)
    with old.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO workshops (id, code, name, template_key, stage, current_question,"
                " ballot_size, anonymity_k, is_open_mode, is_live_results, created_at,"
                " stage_changed_at) VALUES (7, 'ABCDEF', '旧工作坊', 'default', 'questions', 2,"
                " 5, 5, false, false, :now, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO questions (workshop_id, position, text_zh, text_en)"
                " VALUES (7, 0, '问题', 'Question')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO methods (workshop_id, key, position, label_zh, label_en,"
                " description_zh, description_en) VALUES (7, 'm1', 0, '手法', 'Method', '', '')"
            )
        )
    migrate(old.engine)  # to head
    assert current_revision(old.engine) != "0001"
    w = get_workshop(old, "ABCDEF")
    assert (w.name, w.stage.value, w.current_question) == ("旧工作坊", "questions", 2)
    assert [q.text.zh for q in w.questions] == ["问题"]
    assert [m.key for m in w.methods] == ["m1"]


def test_the_migrations_match_the_models(db_factory: DbFactory) -> None:
    db = db_factory()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # Index naming differs harmlessly between autogenerate and hand-written migrations on
    # some backends; tables and columns must match exactly.
    structural = [
        d for d in diff if not (isinstance(d, tuple) and d[0] in ("add_index", "remove_index"))
    ]
    assert structural == []


def test_the_stage_column_keeps_the_plain_stage_names_it_always_held(
    db_factory: DbFactory,
) -> None:
    # The ORM reads and writes a `Stage`; the column stays the VARCHAR of migration 0001 and
    # holds the same strings, so older databases and backups need no migration.
    db, key = db_factory(), secrets.token_bytes(32)
    code = create_workshop(
        Admin.trusted(db), available_templates()["default"], "W", "correct horse battery"
    )
    unlocked = unlock_console(db, key, code, "correct horse battery")
    move_to(unlocked, StagePosition(Stage.QUESTIONS, 1))
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT stage FROM workshops WHERE code = :c"), {"c": code})
        assert stored.scalar_one() == "questions"
    assert get_workshop(db, code).stage is Stage.QUESTIONS


def test_a_stage_the_code_does_not_know_is_refused_never_read_as_another(
    db_factory: DbFactory,
) -> None:
    db = db_factory()
    code = create_workshop(
        Admin.trusted(db), available_templates()["default"], "W", "correct horse battery"
    )
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE workshops SET stage = 'paused' WHERE code = :c"), {"c": code})
    with pytest.raises(ValueError, match="paused"):
        get_workshop(db, code)
