"""``speakerverify ubm train | list`` and ``models rebuild``: keeping the background model fit.

* ``ubm train`` fits a new UBM (from a corpus, or from the deployment's own enrolment takes of
  users who consented to it), stores it in the ``ubms`` table and stages it; nothing changes yet.
* ``models rebuild`` re-adapts every speaker model from its stored takes against the staged UBM
  (or ``--ubm ID``, e.g. the previous one, to roll back), then switches: the new models and the
  ``active_ubm`` setting are written in one transaction, so readers see all old or all new.
  Service processes read the active UBM at start: restart them after a rebuild (a process still
  on the old UBM would rebuild each model it touches back to the old UBM).
  ``SPEAKERVERIFY_UBM_FILE``, when set, overrides the database's choice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from ..config import Settings
from ..features import DEFAULT_CONFIG, DEFAULT_POST, AudioError, extract, postprocess, read_audio
from ..models.speaker import N_DIGITS
from ..models.ubm import UBM, train_ubm
from ..storage import deployment, speaker_models, ubms, utterances
from ..storage.tables import SpeakerModelRow, User, Utterance
from ..voice.runtime import VoiceRuntime
from .common import OperatorError, open_database, progress

MIN_FRAMES_PER_COMPONENT = 10


def _corpus_features(corpus: Path) -> tuple[list[np.ndarray], int, str]:
    if not corpus.is_dir():
        raise OperatorError(f"{corpus}: no such corpus folder")
    files = sorted(p for p in corpus.rglob("*") if p.suffix.lower() in (".wav", ".flac"))
    if not files:
        raise OperatorError(f"{corpus}: no .wav or .flac files")
    feats = []
    for path in progress(files, "features", len(files), "file"):
        try:
            mfcc, energy = extract(read_audio(path))
        except AudioError as exc:
            raise OperatorError(f"{path}: {exc}") from None
        feats.append(postprocess(mfcc, energy))
    # FSDD-style names carry the speaker; other layouts count folders.
    speakers = {p.name.split("_")[1] if p.name.count("_") == 2 else str(p.parent) for p in files}
    return feats, len(speakers), f"corpus {corpus.name}"


def _database_features(settings: Settings) -> tuple[list[np.ndarray], int, str]:
    with open_database(settings) as db, db.read_session() as session:
        consenting = list(session.scalars(select(User.id).where(User.consent_model_training.is_(True))))
        if not consenting:
            raise OperatorError("no user has consented to background-model training; nothing to train on")
        rows = session.scalars(
            select(Utterance)
            .where(Utterance.user_id.in_(consenting), Utterance.config_id == DEFAULT_CONFIG.config_id)
            .order_by(Utterance.id)
        )
        feats, speakers = [], set()
        for row in progress(rows, "features", None, "take"):
            mfcc, energy = utterances.utterance_arrays(row)
            feats.append(postprocess(mfcc, energy))
            speakers.add(row.user_id)
    return feats, len(speakers), "the deployment's consenting users"


def train(settings: Settings, corpus: Path | None, from_database: bool, components: int = 256, seed: int = 0) -> UBM:
    if components < 2 or components & (components - 1):
        raise OperatorError(f"--components must be a power of two (>= 2), got {components}")
    if (corpus is None) == (not from_database):
        raise OperatorError("give exactly one of --corpus DIR and --from-database")
    feats, n_speakers, source = _database_features(settings) if from_database else _corpus_features(corpus)  # type: ignore[arg-type]
    n_frames = sum(len(f) for f in feats)
    if n_frames < MIN_FRAMES_PER_COMPONENT * components:
        raise OperatorError(
            f"{n_frames} frames from {source} are too few for {components} components "
            f"(at least {MIN_FRAMES_PER_COMPONENT * components}); use fewer --components"
        )
    from tqdm import tqdm

    bar = tqdm(desc="EM", unit="iter", leave=False)

    def report(c: int, _i: int, ll: float) -> None:
        bar.set_postfix(components=c, loglik=f"{ll:.3f}")
        bar.update()

    gmm = train_ubm(feats, components, seed=seed, on_iteration=report)
    bar.close()
    digest = hashlib.sha256(gmm.means.tobytes() + gmm.variances.tobytes() + gmm.weights.tobytes()).hexdigest()
    kind = "deployment" if from_database else "corpus"
    meta: dict[str, Any] = {
        "format_version": 1,
        "ubm_id": f"{kind}-{components}-{digest[:16]}",
        "config_id": DEFAULT_CONFIG.config_id,
        "post_id": DEFAULT_POST.post_id,
        "n_components": components,
        "seed": seed,
        "corpus": source,
        "n_speakers": n_speakers,
        "n_utterances": len(feats),
        "n_frames": n_frames,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    ubm = UBM(gmm, meta)
    with open_database(settings) as db, db.write_session() as session:
        ubms.put_ubm(session, ubm)
        deployment.put_setting(session, deployment.STAGED_UBM, ubm.ubm_id)
    return ubm


def list_ubms(settings: Settings) -> list[dict[str, Any]]:
    with open_database(settings) as db, db.read_session() as session:
        active = deployment.get_setting(session, deployment.ACTIVE_UBM)
        staged = deployment.get_setting(session, deployment.STAGED_UBM)
        in_use: dict[str, int] = {}
        for ubm_id in session.scalars(select(SpeakerModelRow.ubm_id)):
            in_use[ubm_id] = in_use.get(ubm_id, 0) + 1
        return [
            {
                "ubm_id": row.id,
                "components": row.n_components,
                "created_at": row.created_at.isoformat(timespec="seconds"),
                "source": row.meta.get("corpus", ""),
                "models": in_use.get(row.id, 0),
                "state": "active" if row.id == active else "staged" if row.id == staged else "",
            }
            for row in ubms.list_ubms(session)
        ]


def rebuild(settings: Settings, ubm_id: str | None = None) -> tuple[str, int]:
    """Move every model row to ``ubm_id`` (default: the staged UBM) and switch; (UBM id, models). Models are
    derived from the takes, so nothing is re-adapted here: each worker derives them against it when next used."""
    with open_database(settings) as db:
        with db.read_session() as session:
            target_id = (
                ubm_id
                or deployment.get_setting(session, deployment.STAGED_UBM)
                or deployment.get_setting(session, deployment.ACTIVE_UBM)
            )
            if not target_id:
                raise OperatorError("no UBM staged: run `speakerverify ubm train` first, or give --ubm ID")
            ubm = ubms.get_ubm(session, str(target_id))
            if ubm is None:
                raise OperatorError(f"no stored UBM {target_id!r} (see `speakerverify ubm list`)")
            owners = sorted(
                set(session.scalars(select(SpeakerModelRow.user_id)))
                | set(session.scalars(select(Utterance.user_id).where(Utterance.config_id == DEFAULT_CONFIG.config_id)))
            )
        try:
            rt = VoiceRuntime(ubm)
        except ValueError as exc:
            raise OperatorError(str(exc)) from None
        required = settings.voice.takes_per_digit
        # Models are derived from the takes (nothing to re-adapt here): each row follows the new UBM and
        # copies with a bumped version, and every worker derives the model again on its next read.
        with db.write_session() as session:
            ubms.put_ubm(session, ubm)
            for user_id in owners:
                if session.get(User, user_id) is None:
                    continue  # erased meanwhile
                rows = [r for r in utterances.list_utterances(session, user_id) if r.config_id == rt.config.config_id]
                held = np.bincount([r.digit for r in rows if r.suspect_digit is None], minlength=N_DIGITS)
                ready = bool(np.all(held >= required))
                speaker_models.touch_model(session, user_id, ubm.ubm_id, ready, rt.recipes.copies_id, rebase=True)
                for row in rows:
                    row.stats_ubm_id = ubm.ubm_id
            deployment.put_setting(session, deployment.ACTIVE_UBM, ubm.ubm_id)
            deployment.delete_setting(session, deployment.STAGED_UBM)
    return ubm.ubm_id, len(owners)
