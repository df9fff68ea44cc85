"""Signed verification results: ES256 keys, the JWKS, rotation, and signing.

Keys live in the database (every worker and every host signs with the same key and publishes the same
JWKS), private keys as PKCS#8 PEM encrypted with a key derived from the service's secret key, so a copy
of the database alone cannot sign results. A key is generated on first start; ``speakerverify keys rotate``
adds a new one and keeps the old one published for the lifetime of a result token, so results signed
just before the rotation still verify.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from datetime import timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from ..config import Settings
from ..storage import rp
from ..storage.db import Database
from ..storage.tables import SigningKey, utcnow

ALGORITHM = "ES256"
log = logging.getLogger("speakerverify.signing")
_loaded: dict[str, ec.EllipticCurvePrivateKey] = {}  # kid -> decrypted key: decrypting costs a KDF run


def _kek(secret_key: str) -> bytes:
    """The password the private keys are encrypted with: bound to this purpose, not the JWT HMAC key itself."""
    return hashlib.sha256(b"speakerverify result-signing keys\x00" + secret_key.encode()).hexdigest().encode()


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (the required members, sorted, no whitespace), base64url: the ``kid``."""
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def _new_key(secret_key: str) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    kid = _thumbprint(jwk)
    jwk.update(kid=kid, use="sig", alg=ALGORITHM)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(_kek(secret_key)),
    )
    return SigningKey(kid=kid, algorithm=ALGORITHM, private_pem=pem, public_jwk=jwk, created_at=utcnow())


def ensure_key(db: Database, settings: Settings) -> str:
    """The active key's kid, generating the first key if there is none, and rotating when the active key
    was encrypted under another secret key (the service's secret was changed): it could not sign."""
    with db.read_session() as session:
        key = rp.active_key(session)
    if key is not None:
        try:
            _private(key, settings.secret_key)
        except ValueError:  # wrong password: a key of the previous secret
            log.warning("the result-signing key %s was encrypted with another secret key; rotating", key.kid)
            return rotate(db, settings)[0]
        return key.kid
    with db.write_session() as session:
        # Two workers starting together may both add one: both are published, the newer signs. Harmless.
        new = _new_key(settings.secret_key)
        rp.add_key(session, new)
        return new.kid


def rotate(db: Database, settings: Settings) -> tuple[str, int]:
    """Add a key that signs from now on; retire the others after a result token's lifetime.
    Returns the new kid and how many keys were scheduled for retirement."""
    now = utcnow()
    new = _new_key(settings.secret_key)
    with db.write_session() as session:
        rp.add_key(session, new)
        retire_at = now + timedelta(seconds=settings.relying_parties.result_ttl_seconds)
        retired = rp.retire_keys(session, new.kid, retire_at, now)
    return new.kid, retired


def jwks(db: Database) -> dict[str, Any]:
    """``{"keys": [...]}``: the public keys results may be signed with (RFC 7517)."""
    with db.read_session() as session:
        return {"keys": [dict(k.public_jwk) for k in rp.published_keys(session, utcnow())]}


def _private(key: SigningKey, secret_key: str) -> ec.EllipticCurvePrivateKey:
    cached = _loaded.get(key.kid)
    if cached is None:
        loaded = serialization.load_pem_private_key(key.private_pem, password=_kek(secret_key))
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        _loaded[key.kid] = cached = loaded
    return cached


def sign(db: Database, settings: Settings, claims: dict[str, Any]) -> str:
    """A compact JWS of ``claims`` with the active key (``kid`` in the header)."""
    with db.read_session() as session:
        key = rp.active_key(session)
    if key is None:
        ensure_key(db, settings)
        with db.read_session() as session:
            key = rp.active_key(session)
    assert key is not None
    return jwt.encode(claims, _private(key, settings.secret_key), algorithm=ALGORITHM, headers={"kid": key.kid})
