"""``utterances.suspect_digit``: a stored take whose content contradicts the user's other takes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: null is "consistent" (every earlier take); a digit is the one the take sounded like.
    op.add_column("utterances", sa.Column("suspect_digit", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("utterances", "suspect_digit")
