"""Console sessions: a facilitator's unlocked console survives a reload, and can be forged
by nobody who lacks the passphrase (issue 12; issue 10 item 6).

Before, the console grant was an HMAC over the workshop id and the passphrase hash under the
instance secret: values the database and the secret file both hold. Now unlocking stores only
HMAC(instance secret, random token) and an expiry; the token stays in the browser.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column(
            "workshop_id",
            sa.Integer,
            sa.ForeignKey("workshops.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    # Only logins are lost: every facilitator types the passphrase once more.
    op.drop_table("console_sessions")
