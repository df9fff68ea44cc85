"""Ready users by id from one index: the calibration cohort query reads 20 entries, not every ready user.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_speaker_models_ready_user_id", "speaker_models", ["ready", "user_id"])
    op.drop_index("ix_speaker_models_ready", table_name="speaker_models")


def downgrade() -> None:
    op.create_index("ix_speaker_models_ready", "speaker_models", ["ready"])
    op.drop_index("ix_speaker_models_ready_user_id", table_name="speaker_models")
