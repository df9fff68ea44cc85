"""The relational schema. Alembic migrations in ``migrations/`` must reproduce exactly this.

Design notes:

* Every row that belongs to a user references ``users.id`` with ``ON DELETE CASCADE``, so
  erasing the user row erases all of their data in one statement, on both databases.
* Arrays are never pickled: utterance features are raw little-endian float32 blobs; speaker
  statistics and UBMs are npz + JSON written by ``speakerverify.models.io`` (no object arrays).
* ``speaker_models.version`` is SQLAlchemy's optimistic version counter: an UPDATE that raced
  another writer matches no row and fails instead of overwriting it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names, so later migrations can alter them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")

EMAIL_MAX = 254  # RFC 5321 path limit
ALIAS_MAX = 32


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out. SQLite has no time zones and hands back naive values,
    which would not compare with aware ones; PostgreSQL keeps ``timestamptz``."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))
    alias: Mapped[str] = mapped_column(String(ALIAS_MAX))  # as the user typed it, shown publicly
    alias_key: Mapped[str] = mapped_column(String(ALIAS_MAX), unique=True)  # lower-cased: "Ann" and "ann" collide
    gender: Mapped[str | None] = mapped_column(String(32))
    age_group: Mapped[str | None] = mapped_column(String(32))
    data_statement_version: Mapped[str] = mapped_column(String(32))
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The user agreed that their takes may train the deployment's own background model
    # (`speakerverify ubm train --from-database`); off unless given explicitly.
    consent_model_training: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Part of every access token ("gen"); raised by a password change, which so revokes every older token.
    token_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class RevokedToken(Base):
    """A logged-out access token; rows are useless (and purged) once the token has expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Ubm(Base):
    """A universal background model, stored so every worker scores against the same one."""

    __tablename__ = "ubms"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # UBM.ubm_id
    config_id: Mapped[str] = mapped_column(String(32))
    post_id: Mapped[str] = mapped_column(String(64))
    n_components: Mapped[int] = mapped_column(Integer)
    dim: Mapped[int] = mapped_column(Integer)
    arrays: Mapped[bytes] = mapped_column(LargeBinary)  # npz from models.io.save_gmm
    meta: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Utterance(Base):
    """One enrolment take exactly as the browser sent it (Meyda frames, before post-processing)."""

    __tablename__ = "utterances"
    __table_args__ = (
        CheckConstraint("digit BETWEEN 0 AND 9", name="digit_range"),
        CheckConstraint("n_frames > 0", name="n_frames_positive"),
        Index("ix_utterances_user_id_digit", "user_id", "digit"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    digit: Mapped[int] = mapped_column(SmallInteger)
    config_id: Mapped[str] = mapped_column(String(32))  # features.config.FeatureConfig.config_id
    n_frames: Mapped[int] = mapped_column(Integer)
    n_mfcc: Mapped[int] = mapped_column(SmallInteger)
    mfcc: Mapped[bytes] = mapped_column(LargeBinary)  # (n_frames, n_mfcc) float32 little-endian, C order
    energy: Mapped[bytes] = mapped_column(LargeBinary)  # (n_frames,) float32 little-endian
    # The UBM this take was added to the speaker model under: its statistics are recomputed from the
    # frames when needed (deterministic), so deleting a take is a subtraction rather than a refit.
    stats_ubm_id: Mapped[str | None] = mapped_column(ForeignKey("ubms.id"))
    # Set when the take sounds like this other digit to the user's other takes (app.enrolment): such a
    # take is kept for the user to see and re-record, but left out of the model and the progress.
    suspect_digit: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SpeakerModelRow(Base):
    """A user's speaker model against one UBM, as a version: the model itself is derived from the user's
    takes (``voice.runtime``), and every change to the takes bumps ``version`` so cached ones go stale."""

    __tablename__ = "speaker_models"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    ubm_id: Mapped[str] = mapped_column(ForeignKey("ubms.id"))
    # NULL since 0013 (derived, not stored); before, storage.speaker_models.encode_model's statistics.
    stats: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # models.noisy_copies.CopyRecipe.copies_id the statistics were built with; NULL: before copies existed.
    copies_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Denormalised from the take counts so "who is ready" is an indexed lookup, not a scan of utterances;
    # indexed with user_id so that the first N ready users by id (the calibration cohort) are N entries.
    ready: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declared shape
    __table_args__ = (Index("ix_speaker_models_ready_user_id", "ready", "user_id"),)


class Challenge(Base):
    """A prompted digit sequence: single use (``used_at``), expiring, bound to one user."""

    __tablename__ = "challenges"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digits: Mapped[str] = mapped_column(String(16))  # e.g. "40917"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class VerificationAttempt(Base):
    __tablename__ = "verification_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    challenge_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("challenges.id", ondelete="SET NULL"))
    ubm_id: Mapped[str | None] = mapped_column(ForeignKey("ubms.id"))
    model_version: Mapped[int | None] = mapped_column(Integer)  # speaker_models.version scored against
    n_frames: Mapped[int] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    decision: Mapped[str] = mapped_column(String(16))  # accept | reject
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The access token (its jti) the answer came with: an accept makes that session two-factor for a while.
    token_jti: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Calibration(Base):
    """One user's normalisation against impostor trials built from other ready users' takes.

    Valid while the user's model version, the UBM, the trial length and the cohort are those
    recorded here (``cohort_key`` hashes the cohort's user ids).
    """

    __tablename__ = "calibrations"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    ubm_id: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[int] = mapped_column(Integer)
    k: Mapped[int] = mapped_column(SmallInteger)
    cohort_key: Mapped[str] = mapped_column(String(64))
    n_cohort_users: Mapped[int] = mapped_column(Integer)
    location: Mapped[float] = mapped_column(Float)  # mean of the user's raw impostor scores
    impostor_scores: Mapped[bytes] = mapped_column(LargeBinary)  # raw (unnormalised), float32 little-endian
    # Cohort users left out as near-duplicates of this user (ids as strings), for the operator's report.
    set_aside: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The cohort degraded to noise levels: {"clean_snr": dB, "snr": [L], "locations": [L]} and the raw
    # scores (L, n) float32 little-endian; NULL for calibrations from before the levels (then stale).
    quality: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    noisy_scores: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeploymentThreshold(Base):
    """The decision threshold on normalised scores, pooled over users, for one trial length."""

    __tablename__ = "deployment_thresholds"

    k: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    ubm_id: Mapped[str] = mapped_column(String(64))
    target_far: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    grand_location: Mapped[float] = mapped_column(Float)  # mean of the pooled users' locations (for shrinkage)
    n_users: Mapped[int] = mapped_column(Integer)  # ready users when computed
    n_scores: Mapped[int] = mapped_column(Integer)
    # {"clean_snr": dB, "levels": [[measured SNR dB, threshold, grand location], ...]}; NULL before levels.
    levels: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeploymentSetting(Base):
    """Deployment-wide operator settings, e.g. ``active_ubm`` (the UBM every model is adapted from)."""

    __tablename__ = "deployment_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LegacyAccount(Base):
    """What an imported 2020-demo account carried besides its logs (``gmmPickleStore`` is never kept)."""

    __tablename__ = "legacy_accounts"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    legacy_user_id: Mapped[str | None] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)  # alias, demographic, thresholds, sessionLog, ...
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LegacyTake(Base):
    """One trainLog / scoreLog entry of the 2020 demo: Meyda frames at the browser's native rate.

    Kept apart from ``utterances`` (whose takes feed 8 kHz models and enrolment progress): these
    features were computed with other settings and can never be mixed into a model.
    """

    __tablename__ = "legacy_takes"
    __table_args__ = (UniqueConstraint("user_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16))  # trainLog | scoreLog
    position: Mapped[int] = mapped_column(Integer)  # index in the original log
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the entry: a second import skips it
    config_id: Mapped[str] = mapped_column(String(32))  # always a legacy id, never an 8 kHz FeatureConfig
    digit: Mapped[int | None] = mapped_column(SmallInteger)
    recorded_at: Mapped[str | None] = mapped_column(String(64))  # the original timestamp, as text
    session: Mapped[str | None] = mapped_column(String(128))
    n_frames: Mapped[int] = mapped_column(Integer)
    n_mfcc: Mapped[int] = mapped_column(SmallInteger)
    mfcc: Mapped[bytes] = mapped_column(LargeBinary)  # (n_frames, n_mfcc) float32 little-endian
    energy: Mapped[bytes] = mapped_column(LargeBinary)  # (n_frames,) float32 little-endian


# --- reliability and security (migration 0004) ---------------------------------------------------


class ReplayFingerprint(Base):
    """A compact summary (models.replay) of an enrolment take or of one verification segment.

    Verification segments close to any of a user's fingerprints are replays. Take fingerprints go
    with their take (``ON DELETE CASCADE``); segment fingerprints carry the challenge they answered.
    """

    __tablename__ = "replay_fingerprints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    utterance_id: Mapped[int | None] = mapped_column(ForeignKey("utterances.id", ondelete="CASCADE"), index=True)
    challenge_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    digit: Mapped[int] = mapped_column(SmallInteger)
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary)  # models.replay.encode: a version byte + float16 rows
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # An answer reads the fingerprints of its prompted digits only (service/replay.py).
    __table_args__ = (Index("ix_replay_fingerprints_user_id_digit", "user_id", "digit"),)


class VerificationLockout(Base):
    """Consecutive rejected verifications of one user and the lock they earned (shared by every worker)."""

    __tablename__ = "verification_lockouts"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # counted when scoring starts, cleared by an accept
    level: Mapped[int] = mapped_column(Integer, default=0)  # locks so far: the next lasts base * 2**level
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RateLimit(Base):
    """A fixed-window counter (login attempts per account or per client address); keys are hashed."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of "scope:value"
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


# --- relying-party applications (migration 0012) -------------------------------------------------


class RpApplication(Base):
    """An application that uses the service as a second factor. Only a hash of its secret is kept."""

    __tablename__ = "rp_applications"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # sha256 of a 256-bit random secret: no password-strength hashing is needed for a secret nobody chose.
    secret_sha256: Mapped[str] = mapped_column(String(64))
    origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    sessions_created: Mapped[int] = mapped_column(Integer, default=0)  # for `apps stats`
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RpSubject(Base):
    """An application's user, backed by a users row without email or password of its own (so every
    enrolment and verification use case works on it unchanged). Erasing the users row erases this."""

    __tablename__ = "rp_subjects"
    __table_args__ = (UniqueConstraint("app_id", "subject"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    app_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rp_applications.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(128))  # the application's own user id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RpSession(Base):
    """A short-lived browser session for one subject and one purpose; the token is kept as its sha256."""

    __tablename__ = "rp_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)  # recorded with the attempts it answered
    app_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rp_applications.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(8))  # enrol | verify
    nonce: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class RpResult(Base):
    """A signed verification result, fetchable once by its application (``fetched_at``)."""

    __tablename__ = "rp_results"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    app_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rp_applications.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("verification_attempts.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(128))
    nonce: Mapped[str] = mapped_column(String(128))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    token: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SigningKey(Base):
    """A result-signing key pair. The private key is PKCS#8 PEM encrypted with a key derived from the
    service's secret key (SPEAKERVERIFY_SECRET_KEY or data_dir/secret_key); a retired key stays in the
    JWKS until ``retires_at`` so results signed just before a rotation still verify."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    private_pem: Mapped[bytes] = mapped_column(LargeBinary)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
