"""Deployment calibration: per-user normalisation, pooled thresholds, and the model's ready flag.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("speaker_models") as batch:
        batch.add_column(sa.Column("ready", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_index(op.f("ix_speaker_models_ready"), ["ready"])
    op.create_table(
        "calibrations",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("ubm_id", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("k", sa.SmallInteger(), nullable=False),
        sa.Column("cohort_key", sa.String(length=64), nullable=False),
        sa.Column("n_cohort_users", sa.Integer(), nullable=False),
        sa.Column("location", sa.Float(), nullable=False),
        sa.Column("impostor_scores", sa.LargeBinary(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_calibrations_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_calibrations")),
    )
    op.create_table(
        "deployment_thresholds",
        sa.Column("k", sa.SmallInteger(), nullable=False),
        sa.Column("ubm_id", sa.String(length=64), nullable=False),
        sa.Column("target_far", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("grand_location", sa.Float(), nullable=False),
        sa.Column("n_users", sa.Integer(), nullable=False),
        sa.Column("n_scores", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("k", name=op.f("pk_deployment_thresholds")),
    )


def downgrade() -> None:
    op.drop_table("deployment_thresholds")
    op.drop_table("calibrations")
    with op.batch_alter_table("speaker_models") as batch:
        batch.drop_index(op.f("ix_speaker_models_ready"))
        batch.drop_column("ready")
