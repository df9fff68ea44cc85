"""Brute-force defences: verification lockout with exponential backoff, and login rate limits.

Verification: an answer is decided and recorded in one transaction that holds the user's lockout
row, so parallel answers are counted one after the other and none can slip past the limit; a reject
counts a failure, an accept clears them. At ``lockout_after`` consecutive failures the user's
challenges and verifications are refused (``Locked``) for ``lockout_seconds * 2**k``
(k = locks since the last accept). Login: failed attempts per account and per client address in a
fixed window; over the limit, refused before any password hashing. All counters live in the database.
"""

from __future__ import annotations

import math
import random
import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ..config import LoginLimits, VoicePolicy
from ..storage import lockouts
from ..storage.tables import VerificationLockout, utcnow
from .context import AppContext
from .errors import Locked, LoginRateLimited


def _retry_after(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


def _locked(until: datetime, now: datetime) -> Locked:
    return Locked(_retry_after(until, now))


def _impose(row: VerificationLockout, policy: VoicePolicy, now: datetime) -> None:
    seconds = min(policy.lockout_seconds * 2 ** min(row.level, 30), policy.lockout_max_seconds)
    row.locked_until = now + timedelta(seconds=seconds)
    row.level += 1
    row.failures = 0


def check_open(session: Session, policy: VoicePolicy, user_id: uuid.UUID) -> None:
    """``Locked`` while the user's verification is locked after repeated rejections (read-only, in the
    caller's transaction: before handing out a challenge, before scoring an answer)."""
    if policy.lockout_after <= 0:
        return
    row = lockouts.get_lockout(session, user_id)
    until = row.locked_until if row is not None else None
    now = utcnow()
    if until is not None and until > now:
        raise _locked(until, now)


def admit(session: Session, policy: VoicePolicy, user_id: uuid.UUID) -> Locked | None:
    """In the transaction that will record an answer: lock the user's lockout row (serialising the user's
    answers) and return the error to raise, after committing, if verification is locked."""
    row = lockouts.lockout_for_update(session, user_id)
    if policy.lockout_after <= 0:
        return None
    now = utcnow()
    if row.locked_until is not None and row.locked_until > now:
        return _locked(row.locked_until, now)
    if row.failures >= policy.lockout_after:  # a streak left at the limit (e.g. by a lower setting): lock now
        _impose(row, policy, now)
        assert row.locked_until is not None
        return _locked(row.locked_until, now)
    return None


def settle(session: Session, policy: VoicePolicy, user_id: uuid.UUID, accepted: bool) -> None:
    """After the decision, in the transaction that ``admit`` opened: clear the streak, or count a failure
    and lock at the limit."""
    if policy.lockout_after <= 0:
        return
    now = utcnow()
    row = lockouts.lockout_for_update(session, user_id, known=True)
    if accepted:
        row.failures, row.level, row.locked_until = 0, 0, None
    else:
        row.failures += 1
        if row.failures >= policy.lockout_after:
            _impose(row, policy, now)
    row.updated_at = now


# --- login rate limits ---------------------------------------------------------------------------


def login_keys(email: str, address: str | None) -> tuple[str, str]:
    return lockouts.rate_key("login-account", email), lockouts.rate_key("login-address", address or "unknown")


def before_login(ctx: AppContext, email: str, address: str | None) -> None:
    """Count a login attempt against the account and the address (refunded on success);
    LoginRateLimited over the limit."""
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
                raise LoginRateLimited(_retry_after(row.window_start + window, now))
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
