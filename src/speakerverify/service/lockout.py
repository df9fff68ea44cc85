"""Brute-force defences: verification lockout with exponential backoff, and login rate limits.

Verification: every answer is counted as a failure when its scoring starts (so parallel answers
cannot slip past the limit) and cleared by an accept. At ``lockout_after`` consecutive failures the
user's challenges and verifications get 429 with ``Retry-After`` for ``lockout_seconds * 2**k``
(k = locks since the last accept). Login: failed attempts per account and per client address in a
fixed window; over the limit, 429 before any password hashing. All counters live in the database.
"""

from __future__ import annotations

import math
import random
import uuid
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from ..models import replay as replay_maths
from ..storage import lockouts
from ..storage.tables import VerificationLockout, utcnow
from . import replay
from .context import AppContext
from .problems import ProblemError
from .settings import LoginLimits, VoicePolicy

# An attempt still counted as in flight after this long has died with its worker: it counts as a failure.
STALE_ATTEMPT_SECONDS = 120


def _retry_after(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


def too_many(retry_after: int, detail: str, slug: str = "locked-out") -> ProblemError:
    return ProblemError(
        429,
        detail,
        slug=slug,
        title="Too many attempts",
        headers={"Retry-After": str(retry_after)},
        extra={"retry_after": retry_after},
    )


def _locked(until: datetime, now: datetime) -> ProblemError:
    wait = _retry_after(until, now)
    return too_many(wait, f"Too many rejected verifications: verification is locked for {wait} more seconds.")


def _impose(row: VerificationLockout, policy: VoicePolicy, now: datetime) -> None:
    seconds = min(policy.lockout_seconds * 2 ** min(row.level, 30), policy.lockout_max_seconds)
    row.locked_until = now + timedelta(seconds=seconds)
    row.level += 1
    row.failures = 0


def check_open(ctx: AppContext, user_id: uuid.UUID) -> None:
    """429 while the user's verification is locked (checked before handing out a challenge)."""
    if ctx.settings.voice.lockout_after <= 0:
        return
    with ctx.db.read_session() as session:
        row = lockouts.get_lockout(session, user_id)
        until = row.locked_until if row is not None else None
    now = utcnow()
    if until is not None and until > now:
        raise _locked(until, now)


def begin_attempt(
    ctx: AppContext,
    user_id: uuid.UUID,
    challenge_id: uuid.UUID,
    digits: list[int],
    arrays: list[tuple[np.ndarray, np.ndarray]],
) -> list[bool]:
    """Before scoring: refuse (429) a locked user, count the attempt, check and record replays.

    Returns, per segment, whether it is a replay of something already seen for the user.
    """
    policy = ctx.settings.voice
    refusal: ProblemError | None = None
    distances: list[float] = []
    with ctx.db.write_session() as session:
        if policy.lockout_after > 0:
            refusal = _charge(session, policy, user_id)
        if refusal is None:
            distances = replay.check_and_record(session, user_id, challenge_id, digits, arrays)
    if refusal is not None:  # raised after the commit: a lock imposed here must be kept
        raise refusal
    return [d < replay_maths.REPLAY_THRESHOLD for d in distances]


def _charge(session: Session, policy: VoicePolicy, user_id: uuid.UUID) -> ProblemError | None:
    now = utcnow()
    row = lockouts.lockout_for_update(session, user_id)
    if row.locked_until is not None and row.locked_until > now:
        return _locked(row.locked_until, now)
    if row.failures >= policy.lockout_after:
        # The earlier attempts of this streak are still being scored, or their worker died.
        if row.updated_at is not None and row.updated_at > now - timedelta(seconds=STALE_ATTEMPT_SECONDS):
            return too_many(1, "Other answers of yours are still being scored; try again in a moment.")
        _impose(row, policy, now)
        assert row.locked_until is not None
        return _locked(row.locked_until, now)
    row.failures += 1
    row.updated_at = now
    return None


def settle(session: Session, policy: VoicePolicy, user_id: uuid.UUID, accepted: bool) -> None:
    """After the decision, in the transaction that records the attempt: clear or lock."""
    if policy.lockout_after <= 0:
        return
    now = utcnow()
    row = lockouts.lockout_for_update(session, user_id)
    if accepted:
        row.failures, row.level, row.locked_until = 0, 0, None
    elif row.failures >= policy.lockout_after:
        _impose(row, policy, now)
    row.updated_at = now


# --- login rate limits ---------------------------------------------------------------------------


def login_keys(email: str, address: str | None) -> tuple[str, str]:
    return lockouts.rate_key("login-account", email), lockouts.rate_key("login-address", address or "unknown")


def before_login(ctx: AppContext, email: str, address: str | None) -> None:
    """Count a login attempt against the account and the address (refunded on success); 429 over the limit."""
    limits: LoginLimits = ctx.settings.login_limits
    if limits.per_account <= 0 and limits.per_address <= 0:
        return
    window = timedelta(seconds=limits.window_seconds)
    account_key, address_key = login_keys(email, address)
    now = utcnow()
    with ctx.db.write_session() as session:
        rows = []
        for key, limit in ((account_key, limits.per_account), (address_key, limits.per_address)):
            if limit <= 0:
                continue
            row = lockouts.rate_for_update(session, key, window, now)
            if row.count >= limit:
                wait = _retry_after(row.window_start + window, now)
                raise too_many(wait, f"Too many failed logins; try again in {wait} seconds.", slug="login-rate-limited")
            rows.append(row)
        for row in rows:
            row.count += 1
        if random.random() < 0.01:  # now and then, forget windows long over
            lockouts.purge_rates(session, window, now)


def login_succeeded(ctx: AppContext, email: str, address: str | None) -> None:
    """A correct password: the account's failures are forgiven and this attempt is refunded to the address."""
    limits = ctx.settings.login_limits
    if limits.per_account <= 0 and limits.per_address <= 0:
        return
    window = timedelta(seconds=limits.window_seconds)
    account_key, address_key = login_keys(email, address)
    with ctx.db.write_session() as session:
        if limits.per_account > 0:
            lockouts.rate_for_update(session, account_key, window).count = 0
        if limits.per_address > 0:
            row = lockouts.rate_for_update(session, address_key, window)
            row.count = max(0, row.count - 1)
