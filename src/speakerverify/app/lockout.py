"""Brute-force defences: verification lockout with exponential backoff, and login rate limits.

Verification: an answer is decided and recorded in one transaction that holds the user's lockout
row, so parallel answers are counted one after the other and none can slip past the limit; a reject
counts a failure, an accept clears them. At ``lockout_after`` consecutive failures the user's
challenges and verifications are refused (``Locked``) for ``lockout_seconds * 2**k``
(k = locks since the last accept). Login: failures per (account, client address) earn that address a
growing wait, failures per address across accounts a fixed-window limit; both are checked before any
password hashing. Registration: accounts per client address in a fixed window. All counters live in
the database.
"""

from __future__ import annotations

import math
import random
import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ..config import LoginLimits, VoicePolicy
from ..storage import lockouts
from ..storage.tables import RateLimit, VerificationLockout, utcnow
from .context import AppContext
from .errors import Locked, LoginRateLimited, RegistrationRateLimited


def _retry_after(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


def _locked(until: datetime, now: datetime) -> Locked:
    return Locked(_retry_after(until, now))


def _impose(row: VerificationLockout | lockouts.LockoutState, policy: VoicePolicy, now: datetime) -> None:
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


_HELD = "speakerverify.lockout"  # session.info key: the counters ``admit`` locked in this transaction


def admit(session: Session, policy: VoicePolicy, user_id: uuid.UUID) -> Locked | None:
    """In the transaction that will record an answer: lock the user's lockout row (serialising the user's
    answers) and return the error to raise, after committing, if verification is locked."""
    state = lockouts.lock_lockout(session, user_id)
    session.info[_HELD, user_id] = state  # for settle(), in the same transaction
    if policy.lockout_after <= 0:
        return None
    now = utcnow()
    if state.locked_until is not None and state.locked_until > now:
        return _locked(state.locked_until, now)
    if state.failures >= policy.lockout_after:  # a streak left at the limit (e.g. by a lower setting): lock now
        _impose(state, policy, now)
        lockouts.save_lockout(session, user_id, state)
        assert state.locked_until is not None
        return _locked(state.locked_until, now)
    return None


def settle(session: Session, policy: VoicePolicy, user_id: uuid.UUID, accepted: bool) -> None:
    """After the decision, in the transaction that ``admit`` opened: clear the streak, or count a failure
    and lock at the limit."""
    if policy.lockout_after <= 0:
        return
    now = utcnow()
    held = session.info.get((_HELD, user_id))
    state = held if isinstance(held, lockouts.LockoutState) else lockouts.lock_lockout(session, user_id)
    if accepted:
        state.failures, state.level, state.locked_until = 0, 0, None
    else:
        state.failures += 1
        if state.failures >= policy.lockout_after:
            _impose(state, policy, now)
    lockouts.save_lockout(session, user_id, state)


# --- login throttles --------------------------------------------------------------------------------
# Counted per (account, client address): the attacker's failures slow the attacker's address only, so a
# stranger can never lock the owner out (the per-account limit this replaces could: ten wrong passwords
# from anywhere refused the right one). Attempts are counted before the password is checked and the
# count is cleared on success, so parallel guesses from one address cannot outrun the limit.


def login_keys(email: str, address: str | None) -> tuple[str, str]:
    """(pair key, address key). The pair key starts with the account's hash, so an operator can clear
    every counter of one account (``clear_login_counters``) without knowing the addresses."""
    where = address or "unknown"
    pair = lockouts.rate_key("login-account", email)[:32] + lockouts.rate_key("login-pair", f"{email}\n{where}")[:32]
    return pair, lockouts.rate_key("login-address", where)


def pair_delay(limits: LoginLimits, failures: int) -> int:
    """Seconds an address must wait after its last attempt at an account, having failed ``failures`` times."""
    beyond = failures - limits.per_account
    if limits.per_account <= 0 or beyond < 0:
        return 0
    return int(min(limits.delay_seconds * 2 ** min(beyond, 30), limits.window_seconds))


def _check_pair(session: Session, limits: LoginLimits, key: str, now: datetime) -> RateLimit:
    window = timedelta(seconds=limits.window_seconds)
    row = lockouts.rate_for_update(session, key, window, now)  # window_start: the pair's last attempt
    wait_until = row.window_start + timedelta(seconds=pair_delay(limits, row.count))
    if row.count >= limits.per_account and wait_until > now:
        raise LoginRateLimited(_retry_after(wait_until, now))
    return row


def before_login(ctx: AppContext, email: str, address: str | None) -> None:
    """Count a login attempt for (account, address) and for the address (refunded on success);
    ``LoginRateLimited`` while this address must wait. Runs before any password hashing."""
    limits: LoginLimits = ctx.settings.login_limits
    if limits.per_account <= 0 and limits.per_address <= 0:
        return
    window = timedelta(seconds=limits.window_seconds)
    pair_key, address_key = login_keys(email, address)
    now = utcnow()
    with ctx.db.write_session() as session:
        rows = []
        if limits.per_address > 0:
            row = lockouts.rate_for_update(session, address_key, window, now)
            if row.count >= limits.per_address:
                raise LoginRateLimited(_retry_after(row.window_start + window, now))
            rows.append(row)
        if limits.per_account > 0:
            pair = _check_pair(session, limits, pair_key, now)
            pair.window_start = now  # the pair's counter is forgotten a window after its last attempt
            rows.append(pair)
        for row in rows:
            row.count += 1
        if random.random() < 0.01:  # now and then, forget windows long over (the longest window of any counter)
            longest = max(limits.window_seconds, ctx.settings.registration_limits.window_seconds)
            lockouts.purge_rates(session, timedelta(seconds=longest), now)


def login_succeeded(ctx: AppContext, email: str, address: str | None) -> None:
    """A correct password: this address's failures at the account are forgiven, the attempt refunded."""
    limits = ctx.settings.login_limits
    if limits.per_account <= 0 and limits.per_address <= 0:
        return
    window = timedelta(seconds=limits.window_seconds)
    pair_key, address_key = login_keys(email, address)
    with ctx.db.write_session() as session:
        if limits.per_account > 0:
            lockouts.delete_rates(session, pair_key)
        if limits.per_address > 0:
            row = lockouts.rate_for_update(session, address_key, window)
            row.count = max(0, row.count - 1)


def clear_login_counters(session: Session, email: str) -> int:
    """Forget every (account, address) login counter of ``email`` (the operator's ``users unlock``)."""
    return lockouts.delete_rates(session, lockouts.rate_key("login-account", email)[:32], prefix=True)


def unlock(session: Session, user_id: uuid.UUID, email: str) -> int:
    """Lift the user's verification lock and login throttles; returns the login counters removed."""
    row = lockouts.get_lockout(session, user_id, for_update=True)
    if row is not None:
        row.failures, row.level, row.locked_until = 0, 0, None
    return clear_login_counters(session, email)


# --- registration ------------------------------------------------------------------------------------


def before_register(ctx: AppContext, address: str | None) -> None:
    """Count a registration from this address; ``RegistrationRateLimited`` over the limit (before hashing)."""
    limits = ctx.settings.registration_limits
    if limits.per_address <= 0:
        return
    window = timedelta(seconds=limits.window_seconds)
    now, key = utcnow(), lockouts.rate_key("register-address", address or "unknown")
    with ctx.db.write_session() as session:
        row = lockouts.rate_for_update(session, key, window, now)
        if row.count >= limits.per_address:
            raise RegistrationRateLimited(_retry_after(row.window_start + window, now))
        row.count += 1
