"""Indexes for the per-request queries: ready users by id (the calibration cohort query reads 20 index
entries, not every ready user) and a user's fingerprints by digit (an answer reads its prompted digits').

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
    op.create_index("ix_replay_fingerprints_user_id_digit", "replay_fingerprints", ["user_id", "digit"])
    op.drop_index("ix_replay_fingerprints_user_id", table_name="replay_fingerprints")


def downgrade() -> None:
    op.create_index("ix_replay_fingerprints_user_id", "replay_fingerprints", ["user_id"])
    op.drop_index("ix_replay_fingerprints_user_id_digit", table_name="replay_fingerprints")
    op.create_index("ix_speaker_models_ready", "speaker_models", ["ready"])
    op.drop_index("ix_speaker_models_ready_user_id", table_name="speaker_models")
