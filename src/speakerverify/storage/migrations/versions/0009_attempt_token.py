"""``verification_attempts.token_jti``: the session an attempt was answered in (export needs a recent accept).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: earlier attempts belong to no known session, so they never unlock an export.
    op.add_column("verification_attempts", sa.Column("token_jti", sa.String(64), nullable=True))
    op.create_index("ix_verification_attempts_token_jti", "verification_attempts", ["token_jti"])


def downgrade() -> None:
    op.drop_index("ix_verification_attempts_token_jti", table_name="verification_attempts")
    op.drop_column("verification_attempts", "token_jti")
