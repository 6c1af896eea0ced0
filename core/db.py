"""Engines, sessions and migrations for SQLite (default) and PostgreSQL.

One engine per process (the app holds it in `st.cache_resource`); services open their own
`with session_factory.begin()` transaction. Migrations are Alembic's, applied on start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

SessionFactory = sessionmaker[Session]


def _prepare_sqlite_file(database: str) -> None:
    """Create the database file owner-only before SQLite does (it would use the umask)."""
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys, a busy timeout and 0600 files."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _prepare_sqlite_file(parsed.database or "")
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=kwargs.pop("pool_size", 20),
            max_overflow=kwargs.pop("max_overflow", 20),
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Autocommit off in the driver's sense is handled by SQLAlchemy; we only set
            # durability and integrity pragmas here.
            # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit
            # transactions cannot take the write lock up front).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # Deleted rows (e.g. ballots rewritten by the mix) are zeroed, not left on pages.
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers take the write lock at BEGIN so concurrent writers queue on busy_timeout
            # instead of failing with "database is locked" when a read transaction upgrades.
            # Readers (see `make_read_session_factory`) take no lock at all under WAL.
            if conn.get_execution_options().get("beidui_read_only"):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=kwargs.pop("pool_size", 10),
        max_overflow=kwargs.pop("max_overflow", 20),
        **kwargs,
    )


def make_session_factory(engine: Engine) -> SessionFactory:
    """Sessions for services that write (on SQLite they take the write lock at BEGIN)."""
    return sessionmaker(engine, expire_on_commit=False)


def make_read_session_factory(engine: Engine) -> SessionFactory:
    """Sessions for services that only read (projector, results): no write lock on SQLite."""
    return sessionmaker(engine.execution_options(beidui_read_only=True), expire_on_commit=False)


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (default: the newest). Never drops user data."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        rev: str | None = MigrationContext.configure(conn).get_current_revision()
        return rev


class Database:
    """One engine and its two session factories; made once per process and passed to services."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.write = make_session_factory(engine)
        self.read = make_read_session_factory(engine)

    @classmethod
    def connect(cls, url: str, *, migrate_schema: bool = True, **kwargs: Any) -> Database:
        engine = make_engine(url, **kwargs)
        if migrate_schema:
            migrate(engine)
        return cls(engine)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.engine.dispose()


def checkpoint_wal(db: Database) -> None:
    """SQLite: checkpoint the WAL with TRUNCATE, so the -wal file no longer holds page
    versions in commit order (PostgreSQL: nothing to do here). Raises what SQLite raises."""
    if not db.is_sqlite:
        return
    raw = db.engine.raw_connection()
    try:
        # The driver connection is in autocommit mode (isolation_level None, see
        # make_engine), so the checkpoint runs outside any transaction.
        raw.driver_connection.execute(  # type: ignore[union-attr]
            "PRAGMA wal_checkpoint(TRUNCATE)"
        ).fetchall()
    finally:
        raw.close()
