"""``calibrations.set_aside``: the cohort users a calibration left out as near-duplicates of its user.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows were computed with the mean location and no exclusions: drop them (they are derived
    # data, recomputed on each user's next challenge) rather than keep a calibration poisoning can move.
    op.execute("DELETE FROM calibrations")
    op.execute("DELETE FROM deployment_thresholds")
    op.add_column("calibrations", sa.Column("set_aside", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    op.drop_column("calibrations", "set_aside")
