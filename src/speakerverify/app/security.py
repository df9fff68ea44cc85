"""Passwords (argon2id) and access tokens (JWT, HS256 only)."""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from ..config import Argon2Params

JWT_ALGORITHM = "HS256"  # pinned: tokens naming any other algorithm (including "none") are refused
JWT_ISSUER = "speakerverify"
_REQUIRED_CLAIMS = ["sub", "jti", "exp", "iat", "iss"]


class Passwords:
    """argon2id hashing with a constant-work path for unknown accounts."""

    def __init__(self, params: Argon2Params) -> None:
        # Each hash takes params.memory_kib of RAM; bound how many run at once so a burst of
        # logins queues instead of exhausting memory (the threadpool alone allows 40).
        self._slots = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))
        self._hasher = PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            type=Type.ID,
        )
        # Verifying against this when the email is unknown costs the same as a wrong password,
        # so response time does not tell which emails have accounts.
        self._dummy_hash = self._hasher.hash(uuid.uuid4().hex)

    def hash(self, password: str) -> str:
        with self._slots:
            return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True iff ``password`` matches; with ``stored_hash=None`` does the same work and says False."""
        try:
            with self._slots:
                ok = self._hasher.verify(stored_hash or self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return ok and stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other cost parameters than the configured ones."""
        return self._hasher.check_needs_rehash(stored_hash)


@dataclass(frozen=True)
class AccessToken:
    token: str
    user_id: uuid.UUID
    jti: str
    expires_at: datetime
    generation: int = 0  # the user's token generation when issued; a password change raises it


class InvalidToken(Exception):
    pass


def issue_token(
    secret: str, user_id: uuid.UUID, ttl_seconds: int, now: datetime | None = None, generation: int = 0
) -> AccessToken:
    now = now or datetime.now(UTC)
    expires = now + timedelta(seconds=ttl_seconds)
    jti = uuid.uuid4().hex
    claims = {"sub": str(user_id), "jti": jti, "iat": now, "exp": expires, "iss": JWT_ISSUER, "gen": generation}
    token = jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)
    return AccessToken(token, user_id, jti, expires.replace(microsecond=0), generation)


def decode_token(secret: str, token: str) -> AccessToken:
    """Verify signature, algorithm, issuer and expiry; raise ``InvalidToken`` with a client-safe reason."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            issuer=JWT_ISSUER,
            options={"require": _REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the access token has expired; log in again") from None
    except jwt.InvalidTokenError:
        raise InvalidToken("the access token is not valid") from None
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except ValueError:
        raise InvalidToken("the access token is not valid") from None
    jti = claims["jti"]
    if not isinstance(jti, str) or not 0 < len(jti) <= 64:
        raise InvalidToken("the access token is not valid")
    generation = claims.get("gen", 0)
    if type(generation) is not int or not 0 <= generation < 2**31:
        raise InvalidToken("the access token is not valid")
    return AccessToken(token, user_id, jti, datetime.fromtimestamp(int(claims["exp"]), UTC), generation)
