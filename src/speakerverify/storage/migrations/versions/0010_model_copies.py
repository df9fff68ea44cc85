"""``speaker_models.copies_id``: which noisy copies of the takes a model's statistics include; the noisy
levels of calibrations (``calibrations.quality``, ``noisy_scores``; ``deployment_thresholds.levels``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: models stored before copies existed hold the takes alone; the service sees that their
    # copies_id is not its recipe's and rebuilds them from the stored takes on first use.
    op.add_column("speaker_models", sa.Column("copies_id", sa.String(64), nullable=True))
    # Nullable: a calibration without levels is stale and recomputed on the next challenge.
    op.add_column("calibrations", sa.Column("quality", sa.JSON(), nullable=True))
    op.add_column("calibrations", sa.Column("noisy_scores", sa.LargeBinary(), nullable=True))
    op.add_column("deployment_thresholds", sa.Column("levels", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("deployment_thresholds", "levels")
    op.drop_column("calibrations", "noisy_scores")
    op.drop_column("calibrations", "quality")
    op.drop_column("speaker_models", "copies_id")
