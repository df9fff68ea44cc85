"""Speaker models and take replay templates derived from the stored takes, not stored.

``speaker_models.stats`` becomes nullable and is emptied (the row keeps the version every change to the
takes bumps, ``ready``, the UBM and the copies), and the replay fingerprints of takes are deleted (the
cache computes them from the takes, ``voice.runtime.VoiceRuntime.derive``); answers' fingerprints stay.
About 446 KB of 545 KB per ready user (BENCHMARKS.md "Storage derived from the takes").

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode copies speaker_models on SQLite: safe, no table refers to it (utterances would cascade).
    with op.batch_alter_table("speaker_models") as batch:
        batch.alter_column("stats", existing_type=sa.LargeBinary(), nullable=True)
    # The version stays: the derived model is the stored one (to float32 rounding), so calibrations
    # made against it stay current.
    op.execute("UPDATE speaker_models SET stats = NULL")
    op.execute("DELETE FROM replay_fingerprints WHERE utterance_id IS NOT NULL")


def downgrade() -> None:
    # The statistics cannot be put back here (they need the UBM): a downgraded database's models are
    # empty until ``speakerverify models rebuild`` of that version re-adapts them from the takes.
    op.execute(sa.text("UPDATE speaker_models SET stats = :empty WHERE stats IS NULL").bindparams(empty=b""))
    with op.batch_alter_table("speaker_models") as batch:
        batch.alter_column("stats", existing_type=sa.LargeBinary(), nullable=False)
