"""Column shapes the migrations share. FROZEN HISTORY: what a migration built must stay what
it builds, so never edit or remove a helper here; add a new one (with a new name) instead.

It sits beside `versions/`, not in it, so Alembic never reads it as a revision.
"""

import sqlalchemy as sa


def cascade_fk(
    name: str, parent: str, *, primary_key: bool = False, index: bool = False
) -> sa.Column:  # type: ignore[type-arg]
    """An integer column `name` pointing at `parent.id`: its rows go when the parent goes."""
    return sa.Column(
        name,
        sa.Integer,
        sa.ForeignKey(f"{parent}.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
        index=index,
    )
