"""Service configuration, read once from the environment (``SPEAKERVERIFY_*``).

Every tunable number of the service lives here, so it has exactly one definition.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

ENV_PREFIX = "SPEAKERVERIFY_"
DEFAULT_DATA_DIR = "./speakerverify-data"
SECRET_FILE = "secret_key"
SQLITE_FILE = "speakerverify.sqlite3"
MIN_SECRET_BYTES = 32  # HS256 keys shorter than the hash output weaken it (RFC 7518 section 3.2)


class SettingsError(ValueError):
    """Configuration the service refuses to start with; the message says what to fix."""


@dataclass(frozen=True)
class Argon2Params:
    """argon2id cost. Defaults: RFC 9106's second recommended option (t=3, 64 MiB, p=4)."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 4


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    secret_key: str = field(repr=False)
    token_ttl_seconds: int = 3600
    max_body_bytes: int = 1024 * 1024
    cors_origins: tuple[str, ...] = ()
    argon2: Argon2Params = Argon2Params()

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(ENV_PREFIX + name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{ENV_PREFIX}{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{ENV_PREFIX}{name} must be at least {minimum}, got {value}")
    return value


def check_secret(secret: str, source: str) -> str:
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise SettingsError(
            f"the secret key from {source} is {len(secret.encode())} bytes; at least {MIN_SECRET_BYTES} are required "
            '(generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))")'
        )
    return secret


def load_or_create_secret(data_dir: Path) -> str:
    """The key kept in ``data_dir/secret_key`` (mode 0600), generated on first use.

    ``O_EXCL`` makes concurrent first starts agree on one key: the loser reads the winner's file.
    """
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48) + "\n")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SettingsError(f"{path} is readable by other users (mode {mode:04o}); run: chmod 600 {path}")
    secret = path.read_text().strip()
    if not secret:  # a concurrent creator has not finished writing yet; its key is what we want
        import time

        time.sleep(0.2)
        secret = path.read_text().strip()
    return check_secret(secret, str(path))


def settings_from_env(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from ``SPEAKERVERIFY_*`` variables; keyword overrides (from the CLI) win.

    Variables: DATA_DIR, DATABASE_URL, SECRET_KEY, TOKEN_TTL_SECONDS, MAX_BODY_BYTES,
    CORS_ORIGINS (comma-separated origins).
    """
    env = os.environ if env is None else env
    data_dir = Path(str(overrides.pop("data_dir", None) or env.get(ENV_PREFIX + "DATA_DIR") or DEFAULT_DATA_DIR))
    data_dir = data_dir.expanduser().resolve()
    database_url = str(overrides.pop("database_url", None) or env.get(ENV_PREFIX + "DATABASE_URL") or "")
    if not database_url:
        data_dir.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{data_dir / SQLITE_FILE}"
    env_secret = env.get(ENV_PREFIX + "SECRET_KEY")
    if env_secret:
        secret = check_secret(env_secret, ENV_PREFIX + "SECRET_KEY")
    else:
        secret = load_or_create_secret(data_dir)
    origins = tuple(o.strip().rstrip("/") for o in env.get(ENV_PREFIX + "CORS_ORIGINS", "").split(",") if o.strip())
    if "*" in origins:
        raise SettingsError(f"{ENV_PREFIX}CORS_ORIGINS must list origins explicitly; '*' is not allowed")
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key=secret,
        token_ttl_seconds=_int(env, "TOKEN_TTL_SECONDS", 3600, 60),
        max_body_bytes=_int(env, "MAX_BODY_BYTES", 1024 * 1024, 1024),
        cors_origins=origins,
    )
    return settings.with_(**overrides) if overrides else settings
