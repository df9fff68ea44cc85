"""Replay templates (``models.replay`` v2) replace the 768-byte v1 fingerprints.

Take templates are rebuilt from the stored frames; answer segments left only a v1 fingerprint (their
frames are not kept), so those are dropped: replays of answers given before this upgrade are no longer
detected, replays of enrolment takes still are.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_fp = sa.table(
    "replay_fingerprints",
    sa.column("id", sa.Integer),
    sa.column("utterance_id", sa.Integer),
    sa.column("fingerprint", sa.LargeBinary),
)
_utt = sa.table(
    "utterances",
    sa.column("id", sa.Integer),
    sa.column("n_frames", sa.Integer),
    sa.column("n_mfcc", sa.SmallInteger),
    sa.column("mfcc", sa.LargeBinary),
    sa.column("energy", sa.LargeBinary),
)


def upgrade() -> None:
    # The template function as it is at this revision: later changes to it must come with a migration.
    from speakerverify.models import replay

    conn = op.get_bind()
    conn.execute(sa.delete(_fp).where(_fp.c.utterance_id.is_(None)))
    rows = conn.execute(
        sa.select(_fp.c.id, _utt.c.n_frames, _utt.c.n_mfcc, _utt.c.mfcc, _utt.c.energy).join(
            _utt, _utt.c.id == _fp.c.utterance_id
        )
    ).all()
    for fp_id, n_frames, n_mfcc, mfcc, energy in rows:
        frames = np.frombuffer(mfcc, dtype="<f4").reshape(n_frames, n_mfcc)
        blob = replay.encode(replay.template(frames, np.frombuffer(energy, dtype="<f4")))
        conn.execute(sa.update(_fp).where(_fp.c.id == fp_id).values(fingerprint=blob))


def downgrade() -> None:
    # v1 fingerprints cannot be rebuilt here; the previous code fingerprints takes that lack one on the fly.
    op.execute("DELETE FROM replay_fingerprints")
