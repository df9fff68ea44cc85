"""Initial schema: users, revoked tokens, UBMs, utterances, speaker models, challenges, verifications.

Revision ID: 0001
Revises: -
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ubms",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("config_id", sa.String(length=32), nullable=False),
        sa.Column("post_id", sa.String(length=64), nullable=False),
        sa.Column("n_components", sa.Integer(), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("arrays", sa.LargeBinary(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ubms")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("alias", sa.String(length=32), nullable=False),
        sa.Column("alias_key", sa.String(length=32), nullable=False),
        sa.Column("gender", sa.String(length=32), nullable=True),
        sa.Column("age_group", sa.String(length=32), nullable=True),
        sa.Column("data_statement_version", sa.String(length=32), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("alias_key", name=op.f("uq_users_alias_key")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "challenges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("digits", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_challenges_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenges")),
    )
    op.create_index(op.f("ix_challenges_user_id"), "challenges", ["user_id"], unique=False)
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_revoked_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_tokens")),
    )
    op.create_index(op.f("ix_revoked_tokens_expires_at"), "revoked_tokens", ["expires_at"], unique=False)
    op.create_index(op.f("ix_revoked_tokens_user_id"), "revoked_tokens", ["user_id"], unique=False)
    op.create_table(
        "speaker_models",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("ubm_id", sa.String(length=64), nullable=False),
        sa.Column("stats", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ubm_id"], ["ubms.id"], name=op.f("fk_speaker_models_ubm_id_ubms")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_speaker_models_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_speaker_models")),
    )
    op.create_table(
        "utterances",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("digit", sa.SmallInteger(), nullable=False),
        sa.Column("config_id", sa.String(length=32), nullable=False),
        sa.Column("n_frames", sa.Integer(), nullable=False),
        sa.Column("n_mfcc", sa.SmallInteger(), nullable=False),
        sa.Column("mfcc", sa.LargeBinary(), nullable=False),
        sa.Column("energy", sa.LargeBinary(), nullable=False),
        sa.Column("stats_ubm_id", sa.String(length=64), nullable=True),
        sa.Column("stats", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("digit BETWEEN 0 AND 9", name=op.f("ck_utterances_digit_range")),
        sa.CheckConstraint("n_frames > 0", name=op.f("ck_utterances_n_frames_positive")),
        sa.ForeignKeyConstraint(["stats_ubm_id"], ["ubms.id"], name=op.f("fk_utterances_stats_ubm_id_ubms")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_utterances_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_utterances")),
    )
    op.create_index("ix_utterances_user_id_digit", "utterances", ["user_id", "digit"], unique=False)
    op.create_table(
        "verification_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("challenge_id", sa.Uuid(), nullable=True),
        sa.Column("ubm_id", sa.String(length=64), nullable=True),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("n_frames", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_verification_attempts_challenge_id_challenges"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["ubm_id"], ["ubms.id"], name=op.f("fk_verification_attempts_ubm_id_ubms")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_verification_attempts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_attempts")),
    )
    op.create_index(op.f("ix_verification_attempts_user_id"), "verification_attempts", ["user_id"], unique=False)


def downgrade() -> None:
    # Dropping a table drops its indexes; children before parents for the foreign keys.
    for table in (
        "verification_attempts",
        "utterances",
        "speaker_models",
        "revoked_tokens",
        "challenges",
        "users",
        "ubms",
    ):
        op.drop_table(table)
