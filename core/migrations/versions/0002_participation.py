"""What participants produce: cards, sealed and opened ballots, notes, themes, summaries.

Participant rows are keyed by random ids and, on SQLite, stored WITHOUT ROWID so their
physical order does not follow the order they were written.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from core.migrations.shapes import cascade_fk

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _participant_rows(name: str, *columns: sa.schema.SchemaItem) -> None:
    """A table of what participants produce: random keys, and on SQLite WITHOUT ROWID."""
    op.create_table(name, *columns, sqlite_with_rowid=False)


def _random_key() -> sa.Column:  # type: ignore[type-arg]
    """The primary key of a ballot or note: a random id that says nothing of when it was written."""
    return sa.Column("id", sa.String(32), primary_key=True)


def upgrade() -> None:
    _participant_rows(
        "cards",
        sa.Column("digest", sa.LargeBinary(32), primary_key=True),
        cascade_fk("workshop_id", "workshops", index=True),
        sa.Column("is_spent", sa.Boolean, nullable=False),
        sa.Column("is_void", sa.Boolean, nullable=False),
    )
    _participant_rows(
        "sealed_ballots",
        _random_key(),
        cascade_fk("workshop_id", "workshops", index=True),
        sa.Column("sealed", sa.LargeBinary(1024), nullable=False),
        sa.Column("receipt", sa.String(32), nullable=False, index=True),
    )
    _participant_rows(
        "opened_ballots",
        _random_key(),
        cascade_fk("workshop_id", "workshops", index=True),
        sa.Column("ranking", sa.Text, nullable=False),
        sa.Column("role", sa.String(64), nullable=True),
    )
    op.create_table(
        "themes",
        sa.Column("id", sa.Integer, primary_key=True),
        cascade_fk("question_id", "questions", index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
    )
    _participant_rows(
        "notes",
        _random_key(),
        cascade_fk("question_id", "questions", index=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("dots", sa.Integer, nullable=False),
        sa.Column("is_hidden", sa.Boolean, nullable=False),
        sa.Column(
            "theme_id", sa.Integer, sa.ForeignKey("themes.id", ondelete="SET NULL"), nullable=True
        ),
    )
    op.create_table(
        "summary_points",
        sa.Column("id", sa.Integer, primary_key=True),
        cascade_fk("question_id", "questions", index=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_table(
        "result_publications",
        cascade_fk("workshop_id", "workshops", primary_key=True),
        sa.Column("ballots_counted", sa.Integer, nullable=False),
        sa.Column("tally_json", sa.Text, nullable=False),
    )


def downgrade() -> None:
    # Downgrading would destroy ballots and notes; refuse rather than lose user data.
    raise RuntimeError("0002 cannot be downgraded without losing ballots and notes")
