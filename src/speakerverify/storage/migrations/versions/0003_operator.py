"""Operator tools: consent to background-model training, deployment settings, imported legacy data.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("consent_model_training", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "deployment_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_deployment_settings")),
    )
    op.create_table(
        "legacy_accounts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("legacy_user_id", sa.String(length=64), nullable=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_legacy_accounts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_legacy_accounts")),
    )
    op.create_table(
        "legacy_takes",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("config_id", sa.String(length=32), nullable=False),
        sa.Column("digit", sa.SmallInteger(), nullable=True),
        sa.Column("recorded_at", sa.String(length=64), nullable=True),
        sa.Column("session", sa.String(length=128), nullable=True),
        sa.Column("n_frames", sa.Integer(), nullable=False),
        sa.Column("n_mfcc", sa.SmallInteger(), nullable=False),
        sa.Column("mfcc", sa.LargeBinary(), nullable=False),
        sa.Column("energy", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_legacy_takes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legacy_takes")),
        sa.UniqueConstraint("user_id", "fingerprint", name=op.f("uq_legacy_takes_user_id")),
    )
    op.create_index(op.f("ix_legacy_takes_user_id"), "legacy_takes", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_legacy_takes_user_id"), table_name="legacy_takes")
    op.drop_table("legacy_takes")
    op.drop_table("legacy_accounts")
    op.drop_table("deployment_settings")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("consent_model_training")
