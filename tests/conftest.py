"""Shared fixtures: one storage contract suite, run on SQLite and on PostgreSQL.

PostgreSQL runs when TEST_DATABASE_URL is set (CI sets it). Without it those tests skip with
a reason; with BEIDUI_REQUIRE_POSTGRES=1 (CI) a database that cannot be reached fails them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text

from core.config import Settings
from core.db import Database
from core.instance import Instance, open_instance

# Property tests: no wall-clock deadline or "too slow" health check (speed lives in benchmarks;
# a busy 2-core CI box made them flaky), and in CI a fixed seed per test so a red run repeats.
settings.register_profile(
    "beidui", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("beidui-ci", parent=settings.get_profile("beidui"), derandomize=True)
settings.load_profile("beidui-ci" if os.environ.get("CI") else "beidui")

PG_URL = os.environ.get("TEST_DATABASE_URL")
REQUIRE_PG = os.environ.get("BEIDUI_REQUIRE_POSTGRES") == "1"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _pg_reachable(url: str) -> str | None:
    try:
        eng = create_engine(url)
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:  # pragma: no cover - depends on the machine
        return f"{type(exc).__name__}: {exc}"


_PG_PROBLEM: str | None = _pg_reachable(PG_URL) if PG_URL else "TEST_DATABASE_URL is not set"


def require_postgres() -> str:
    """The PostgreSQL URL, or skip (fail in CI) with the reason."""
    if _PG_PROBLEM is None and PG_URL:
        return PG_URL
    if REQUIRE_PG:
        pytest.fail(f"PostgreSQL is required here but unusable: {_PG_PROBLEM}")
    pytest.skip(f"PostgreSQL tests skipped: {_PG_PROBLEM}")


class PgSchema:
    """A throw-away schema in the test database, so tests never see each other's rows."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.name = "t_" + secrets.token_hex(6)
        self._admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.name}"'))

    def engine_kwargs(self) -> dict[str, object]:
        return {"connect_args": {"options": f"-csearch_path={self.name}"}}

    def drop(self) -> None:
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.name}" CASCADE'))
        self._admin.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class DbFactory:
    """Makes `Database`s on one store of the backend under test (several may share it)."""

    def __init__(self, url: str, extra: dict[str, object]) -> None:
        self.url = url
        self.extra = extra
        self.made: list[Database] = []

    def __call__(self, migrate_schema: bool = True) -> Database:
        db = Database.connect(self.url, migrate_schema=migrate_schema, **self.extra)
        self.made.append(db)
        return db


@pytest.fixture
def db_factory(backend: str, tmp_path: Path) -> Iterator[DbFactory]:
    """Opens databases on a fresh store: a temp SQLite file, or a temp PostgreSQL schema."""
    schema: PgSchema | None = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'beidui.db'}"
        extra: dict[str, object] = {}
    else:
        url = require_postgres()
        schema = PgSchema(url)
        extra = schema.engine_kwargs()

    factory = DbFactory(url, extra)
    yield factory
    for made in factory.made:
        made.dispose()
    if schema is not None:
        schema.drop()


@pytest.fixture
def db(db_factory: DbFactory) -> Database:
    return db_factory()


@pytest.fixture
def instance(db: Database, tmp_path: Path) -> Instance:
    settings = Settings(
        database_url=str(db.engine.url), data_dir=tmp_path, admin_password="admin-pass-123"
    )
    return Instance(db=db, secret_key=secrets.token_bytes(32), settings=settings)


@pytest.fixture
def sqlite_instance(tmp_path: Path) -> Iterator[Instance]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        data_dir=tmp_path,
        admin_password="admin-pass-123",
    )
    inst = open_instance(settings)
    yield inst
    inst.db.dispose()
