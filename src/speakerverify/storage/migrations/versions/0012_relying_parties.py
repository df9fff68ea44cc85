"""Relying-party applications, their subjects, browser sessions, signed results and signing keys.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _applications() -> None:
    op.create_table(
        "rp_applications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("origins", sa.JSON(), nullable=False),
        sa.Column("sessions_created", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rp_applications")),
        sa.UniqueConstraint("client_id", name=op.f("uq_rp_applications_client_id")),
    )
    op.create_table(
        "rp_subjects",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("app_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        _fk("rp_subjects", "user_id", "users"),
        _fk("rp_subjects", "app_id", "rp_applications"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_rp_subjects")),
        sa.UniqueConstraint("app_id", "subject", name=op.f("uq_rp_subjects_app_id")),
    )


def _sessions_and_results() -> None:
    op.create_table(
        "rp_sessions",
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("app_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(8), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        _fk("rp_sessions", "app_id", "rp_applications"),
        _fk("rp_sessions", "user_id", "users"),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_rp_sessions")),
        sa.UniqueConstraint("id", name=op.f("uq_rp_sessions_id")),
    )
    for column in ("app_id", "user_id", "expires_at"):
        op.create_index(op.f(f"ix_rp_sessions_{column}"), "rp_sessions", [column])
    op.create_table(
        "rp_results",
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("app_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("attempt_id", _BIG_ID, nullable=True),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("fetched_at", _TS, nullable=True),
        _fk("rp_results", "app_id", "rp_applications"),
        _fk("rp_results", "user_id", "users"),
        _fk("rp_results", "attempt_id", "verification_attempts", "SET NULL"),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_rp_results")),
    )
    for column in ("app_id", "user_id", "expires_at"):
        op.create_index(op.f(f"ix_rp_results_{column}"), "rp_results", [column])


def upgrade() -> None:
    _applications()
    _sessions_and_results()
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("private_pem", sa.LargeBinary(), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("retires_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )


def downgrade() -> None:
    op.drop_table("signing_keys")
    for table in ("rp_results", "rp_sessions"):
        for column in ("expires_at", "user_id", "app_id"):
            op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
        op.drop_table(table)
    op.drop_table("rp_subjects")
    op.drop_table("rp_applications")
