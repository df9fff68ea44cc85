"""Reliability and security: replay fingerprints, verification lockouts, login rate limits, token generation.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("token_generation", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "replay_fingerprints",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("utterance_id", _BIG_ID, nullable=True),
        sa.Column("challenge_id", sa.Uuid(), nullable=True),
        sa.Column("digit", sa.SmallInteger(), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_replay_fingerprints_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["utterance_id"],
            ["utterances.id"],
            name=op.f("fk_replay_fingerprints_utterance_id_utterances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replay_fingerprints")),
    )
    op.create_index(op.f("ix_replay_fingerprints_user_id"), "replay_fingerprints", ["user_id"])
    op.create_index(op.f("ix_replay_fingerprints_utterance_id"), "replay_fingerprints", ["utterance_id"])
    op.create_table(
        "verification_lockouts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_verification_lockouts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_verification_lockouts")),
    )
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
    )
    op.create_index(op.f("ix_rate_limits_window_start"), "rate_limits", ["window_start"])


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_limits_window_start"), table_name="rate_limits")
    op.drop_table("rate_limits")
    op.drop_table("verification_lockouts")
    op.drop_index(op.f("ix_replay_fingerprints_utterance_id"), table_name="replay_fingerprints")
    op.drop_index(op.f("ix_replay_fingerprints_user_id"), table_name="replay_fingerprints")
    op.drop_table("replay_fingerprints")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("token_generation")
