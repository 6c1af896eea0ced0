"""Upgrading keeps every row; the migrations build exactly the schema the models declare."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from core.db import current_revision, migrate
from core.models import Base
from core.workshops import get_workshop
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
