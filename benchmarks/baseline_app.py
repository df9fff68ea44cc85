"""The 2020 design, reproduced only as a baseline for the performance benchmark (not part of the product).

Enrolment stores the take in a circular log of the user's last 60 takes (as the original's train
log) and refits a 5-component full-covariance GaussianMixture on them (SeedBaseline); scoring loads
and deserialises the model from the database on every request. Storage is SQLite; models are npz
arrays (the original pickled them: the deserialisation cost is of the same kind, without the
code-execution hazard).

    SPEAKERVERIFY_BASELINE_DB=/tmp/base.sqlite3 uvicorn --factory baseline_app:create_app
"""

from __future__ import annotations

import base64
import io
import os
import sqlite3
import threading

import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel
from sklearn.mixture import GaussianMixture

from speakerverify.models.baseline import SeedBaseline, baseline_frames, split_train_test


class Take(BaseModel):
    digit: int
    mfcc_b64: str
    energy_b64: str


class Attempt(BaseModel):
    segments: list[Take]


def _arrays(take: Take) -> tuple[np.ndarray, np.ndarray]:
    energy = np.frombuffer(base64.b64decode(take.energy_b64), "<f4")
    mfcc = np.frombuffer(base64.b64decode(take.mfcc_b64), "<f4").reshape(len(energy), 13)
    return mfcc, energy


LOG_TAKES = 60


def create_app() -> FastAPI:
    path = os.environ["SPEAKERVERIFY_BASELINE_DB"]
    lock = threading.Lock()
    db = sqlite3.connect(path, check_same_thread=False)
    db.execute("CREATE TABLE IF NOT EXISTS takes (user TEXT, digit INT, mfcc BLOB, energy BLOB)")
    db.execute("CREATE TABLE IF NOT EXISTS models (user TEXT PRIMARY KEY, npz BLOB)")
    db.commit()
    app = FastAPI()

    @app.post("/train/{user}")
    def train(user: str, take: Take) -> dict[str, float]:
        mfcc, energy = _arrays(take)
        with lock:
            db.execute("INSERT INTO takes VALUES (?, ?, ?, ?)", (user, take.digit, mfcc.tobytes(), energy.tobytes()))
            db.execute(  # the original's train log is circular: its last 60 takes
                "DELETE FROM takes WHERE user = ? AND rowid NOT IN "
                "(SELECT rowid FROM takes WHERE user = ? ORDER BY rowid DESC LIMIT ?)",
                (user, user, LOG_TAKES),
            )
            rows = db.execute("SELECT digit, mfcc, energy FROM takes WHERE user = ? ORDER BY rowid", (user,)).fetchall()
        utts = []
        for digit, m, e in rows:
            en = np.frombuffer(e, "<f4")
            utts.append((digit, baseline_frames(np.frombuffer(m, "<f4").reshape(len(en), 13), en)))
        _train, test = split_train_test([d for d, _ in utts])
        if not test:  # the original fitted once a held-out take existed
            return {"takes": len(utts)}
        model = SeedBaseline.fit(utts)
        buf = io.BytesIO()
        g = model.gmm
        np.savez(
            buf,
            weights=g.weights_,
            means=g.means_,
            covariances=g.covariances_,
            precisions_cholesky=g.precisions_cholesky_,
            threshold=np.array([model.threshold]),
        )
        with lock:
            db.execute("INSERT OR REPLACE INTO models VALUES (?, ?)", (user, buf.getvalue()))
            db.commit()
        return {"takes": len(utts), "threshold": model.threshold}

    @app.post("/score/{user}")
    def score(user: str, attempt: Attempt) -> dict[str, float]:
        with lock:
            blob = db.execute("SELECT npz FROM models WHERE user = ?", (user,)).fetchone()[0]
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            g = GaussianMixture(n_components=5, covariance_type="full")
            g.weights_, g.means_, g.covariances_ = z["weights"], z["means"], z["covariances"]
            g.precisions_cholesky_ = z["precisions_cholesky"]
            threshold = float(z["threshold"][0])
        frames = np.concatenate([baseline_frames(*_arrays(s)) for s in attempt.segments])
        return {"match_percent": float(100 * np.mean(g.score_samples(frames) > threshold))}

    return app
