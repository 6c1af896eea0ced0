"""Notes wait in a batch before the wall shows them: `notes.is_published`.

A new note stays unpublished until enough notes are waiting for its question (the workshop's
anonymity k), so nobody watching the projector can tie a note to the person who just typed.
Notes written before this revision were already on the wall, so they are marked published.
The server default is false so that any insert which forgets the column hides the note
rather than exposing it on its own.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch copy) keeps the SQLite table WITHOUT ROWID as it is.
    op.add_column(
        "notes",
        sa.Column("is_published", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.execute(sa.text("UPDATE notes SET is_published = :yes").bindparams(yes=True))


def downgrade() -> None:
    # Dropping the flag loses no note; every note simply becomes visible at once again.
    with op.batch_alter_table("notes") as batch:
        batch.drop_column("is_published")
