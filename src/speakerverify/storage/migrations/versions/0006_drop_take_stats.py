"""Drop ``utterances.stats``: never written (a take's statistics are recomputed from its frames).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ALTER TABLE (SQLite >= 3.35 drops columns in place): batch mode would copy and drop the
    # table, and with foreign keys on, dropping it would cascade to every take's replay fingerprint.
    op.drop_column("utterances", "stats")


def downgrade() -> None:
    op.add_column("utterances", sa.Column("stats", sa.LargeBinary(), nullable=True))
