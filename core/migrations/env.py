"""Alembic environment: runs against the engine the app (or a test) hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine

from core.models import Base

config = context.config
engine: Engine | None = config.attributes.get("engine")
if engine is None:  # `alembic` command line: take the URL from the environment
    from core.config import settings_from_env

    engine = create_engine(settings_from_env().database_url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
