"""Workshops with their questions, methods, roles and key material.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from core.migrations.shapes import cascade_fk

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workshops",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(12), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("template_key", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("current_question", sa.Integer, nullable=False),
        sa.Column("ballot_size", sa.Integer, nullable=False),
        sa.Column("anonymity_k", sa.Integer, nullable=False),
        sa.Column("is_open_mode", sa.Boolean, nullable=False),
        sa.Column("is_live_results", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stage_changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "workshop_secrets",
        cascade_fk("workshop_id", "workshops", primary_key=True),
        sa.Column("passphrase_hash", sa.String(300), nullable=False),
        sa.Column("card_salt", sa.LargeBinary(32), nullable=False),
        sa.Column("box_public_key", sa.LargeBinary(64), nullable=False),
        sa.Column("box_private_key_wrapped", sa.LargeBinary(512), nullable=False),
        sa.Column("box_private_key_live", sa.LargeBinary(512), nullable=True),
    )
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer, primary_key=True),
        cascade_fk("workshop_id", "workshops"),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("text_zh", sa.Text, nullable=False),
        sa.Column("text_en", sa.Text, nullable=False),
        sa.UniqueConstraint("workshop_id", "position"),
    )
    for table, text_len in (("methods", 200), ("roles", 200)):
        columns: list[sa.schema.SchemaItem] = [
            sa.Column("id", sa.Integer, primary_key=True),
            cascade_fk("workshop_id", "workshops"),
            sa.Column("key", sa.String(64), nullable=False),
            sa.Column("position", sa.Integer, nullable=False),
            sa.Column("label_zh", sa.String(text_len), nullable=False),
            sa.Column("label_en", sa.String(text_len), nullable=False),
        ]
        if table == "methods":
            columns += [
                sa.Column("description_zh", sa.Text, nullable=False),
                sa.Column("description_en", sa.Text, nullable=False),
            ]
        op.create_table(table, *columns, sa.UniqueConstraint("workshop_id", "key"))


def downgrade() -> None:
    for table in ("roles", "methods", "questions", "workshop_secrets", "workshops"):
        op.drop_table(table)
