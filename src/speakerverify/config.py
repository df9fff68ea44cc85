"""Service configuration, read once from the environment (``SPEAKERVERIFY_*``).

Every tunable number of the service lives here, so it has exactly one definition.
"""

from __future__ import annotations

import ipaddress
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
class VoicePolicy:
    """Enrolment, challenge and decision numbers (BENCHMARKS.md has the measurements behind them)."""

    takes_per_digit: int = 6  # ready at this many takes of every digit (the original trained on 60 digits)
    min_frames: int = 10  # raw Meyda frames per utterance or segment
    max_frames: int = 1000  # 10 s at a 10 ms hop
    min_speech_frames: int = 8  # frames within the post-processing dynamic range; FSDD's shortest take has 10
    quiet_dbfs: float = -55.0  # loudest frame below this (relative to a full-scale sine) is "too quiet"
    # A take is refused (new) or flagged (stored) when its digit trails the best other digit of the user's
    # own takes by more than this (mean LLR), checked from one take of every digit on (app.enrolment).
    enrol_content_margin: float = 0.8
    enrol_flag_margin: float = 0.8  # the same for a stored take at the re-check (0.5 flagged genuine last-round takes)
    # ... and once every digit model it is checked against holds this many of the user's other takes, the
    # tighter margin below (``flag_margin``): the check sharpens with the takes (benchmarks/enrol_margins.py,
    # development takes, clean models, 4 other takes a digit: 96.3% of wrong digits below -0.8, 98.1% below
    # -0.6, at 0.14% / 0.42% of genuine takes; with 1 other take -0.6 would flag 1.5% of genuine takes).
    enrol_settled_takes: int = 4
    enrol_settled_flag_margin: float = 0.6
    # Before a new take is refused for sounding like digit e, e's takes that sound more like the new take's
    # digit than like e's other takes by this much are flagged, if the new take then passes (app.enrolment;
    # development takes, 20% wrong: 0.4 refused 65% of wrong digits at submission, 0 56% and 0.8 69%, all
    # three 96.5% refused or flagged by the end; genuine refused 0.3 / 0.3 / 0.8%). The same margin when e's
    # takes are checked together (models.digits.leave_set_out: agreeing wrong takes).
    enrol_poison_margin: float = 0.4
    content_margin: float = 0.6  # same for verification segments: stricter, every segment must pass
    challenge_digits: int = 5
    challenge_ttl_seconds: int = 60
    target_far: float = 0.01
    # Used until there are enough other ready users to calibrate on: a raw mean-LLR threshold above every
    # impostor score seen on FSDD (12,000 5-digit trials of takes 25-49, every speaker against every other
    # model: highest 1.63) and above the 1%-FAR points of the development takes (1.1-1.3), so it errs
    # towards rejecting; quieter or atypical voices (FSDD's theo, yweweler) are often rejected until the
    # deployment has enough users to calibrate on.
    provisional_threshold: float = 1.7
    # The pooled deployment threshold (on normalised scores) is kept within this range: FSDD's clean
    # deployment sits at ~0.8, and a threshold outside it means the cohort is not a population of honest
    # impostors (sybils, copies of someone's recordings). The top is the provisional threshold itself.
    threshold_range: tuple[float, float] = (0.4, 1.7)
    min_cohort_users: int = 5
    max_cohort_users: int = 20
    cohort_trials_per_user: int = 40
    max_threshold_users: int = 50  # users pooled for the deployment threshold
    # Brute force: after this many consecutive rejected verifications (0: never) the user's challenges and
    # verifications are refused (429) for lockout_seconds * 2**(locks so far), at most lockout_max_seconds.
    lockout_after: int = 5
    lockout_seconds: int = 60
    lockout_max_seconds: int = 24 * 3600

    def flag_margin(self, evidence: int) -> float:
        """The re-check's margin for a stored take whose digit models hold ``evidence`` other takes each
        (the fewest of the ten, the take itself left out): tighter once the check has settled."""
        return self.enrol_settled_flag_margin if evidence >= self.enrol_settled_takes else self.enrol_flag_margin


@dataclass(frozen=True)
class LoginLimits:
    """Login throttles, each off at 0. Counters are per (account, client address), so a stranger's failures
    never slow the owner down at another address, plus one per client address across accounts.

    After ``per_account`` failures for one account from one address, each further attempt from that address
    waits ``delay_seconds * 2**(failures beyond)``, at most ``window_seconds``; a pair's counter is forgotten
    ``window_seconds`` after its last failure. ``per_address`` failures from one address in a fixed window
    of ``window_seconds`` refuse that address for any account until the window ends.
    """

    per_account: int = 5  # per account *from one address* (the name is kept from the per-account limit)
    per_address: int = 100
    window_seconds: int = 900
    delay_seconds: int = 1


@dataclass(frozen=True)
class RegistrationLimits:
    """New accounts per client address in a fixed window (``per_address`` 0: unlimited)."""

    per_address: int = 20
    window_seconds: int = 3600


@dataclass(frozen=True)
class ServerLimits:
    """What ``speakerverify serve`` tells uvicorn (``http/server.py``); a request timeout of 0 disables it."""

    trusted_proxies: tuple[str, ...] = ()  # addresses/networks whose X-Forwarded-For is believed
    max_header_bytes: int = 16 * 1024  # the whole request head; larger gets 400 and a closed connection
    request_timeout_seconds: int = 30  # a request (head and body) must arrive within this of the connection
    keepalive_seconds: int = 5  # an idle kept-alive connection is closed after this


@dataclass(frozen=True)
class UserLimits:
    """Per-user limits on actions that cost the server work or could serve as an oracle (0: unlimited).

    Challenges: each one costs a row and, on the first of a model, a calibration. Analysis: the intrusion
    test and the benchmark score against every other ready user, and even their aggregate counts say
    something about how close a voice is to others'. Export: raw features leave the service only for a
    session that passed a voice verification at most ``export_verification_seconds`` ago.
    """

    challenges_per_hour: int = 60
    analysis_per_hour: int = 6
    export_verification_seconds: int = 600
    # One challenge creation in this many also deletes the user's expired, unanswered challenges: cheap,
    # and enough to keep the table from growing with abandoned prompts.
    purge_every: int = 20
    # Retention. Answer fingerprints: the newest this many per digit are kept (older answers of the user are
    # no longer recognised as replays; the enrolment takes always are), so the replay check costs the same
    # after a year; 0 keeps all. Attempts (and their answered challenges): kept this many days; 0 forever.
    replay_answers_per_digit: int = 50
    attempt_retention_days: int = 400


@dataclass(frozen=True)
class RelyingParties:
    """Applications using the service as a second factor (``speakerverify apps``).

    ``issuer`` is the ``iss`` of signed results: the service's public URL, which applications check.
    Browser sessions live ``session_ttl_seconds``; a signed result ``result_ttl_seconds`` (at most 120),
    which is also how long a rotated-out signing key stays in the JWKS. ``sessions_per_minute`` per
    application (0 disables it).
    """

    issuer: str = "http://localhost:8000"
    session_ttl_seconds: int = 600
    result_ttl_seconds: int = 120
    sessions_per_minute: int = 120


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    secret_key: str = field(repr=False)
    token_ttl_seconds: int = 3600
    max_body_bytes: int = 1024 * 1024
    cors_origins: tuple[str, ...] = ()
    argon2: Argon2Params = Argon2Params()
    voice: VoicePolicy = VoicePolicy()
    login_limits: LoginLimits = LoginLimits()
    registration_limits: RegistrationLimits = RegistrationLimits()
    server: ServerLimits = ServerLimits()
    user_limits: UserLimits = UserLimits()
    relying_parties: RelyingParties = RelyingParties()
    ubm_file: Path | None = None  # None: the UBM shipped in the package
    # One line per challenge and answer in the server's log: where its time went (app/timing.py).
    timing_log: bool = False
    # Calibration recomputations run in a child process (app/background.py: the service's own threads
    # never wait for the GIL behind them); False runs them on the background thread of the process itself.
    calibration_process: bool = False

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


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(ENV_PREFIX + name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{ENV_PREFIX}{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{ENV_PREFIX}{name} must be between {low} and {high}, got {value}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(ENV_PREFIX + name) or "").strip().lower()
    if raw == "":
        return default
    if raw not in ("0", "1", "true", "false", "yes", "no", "on", "off"):
        raise SettingsError(f"{ENV_PREFIX}{name} must be 0 or 1, got {raw!r}")
    return raw in ("1", "true", "yes", "on")


def voice_from_env(env: Mapping[str, str]) -> VoicePolicy:
    digits = _int(env, "CHALLENGE_DIGITS", VoicePolicy.challenge_digits, 3)
    if digits > 8:
        raise SettingsError(f"{ENV_PREFIX}CHALLENGE_DIGITS must be 3-8, got {digits}")
    ttl = _int(env, "CHALLENGE_TTL_SECONDS", VoicePolicy.challenge_ttl_seconds, 5)
    if ttl > 60:
        raise SettingsError(f"{ENV_PREFIX}CHALLENGE_TTL_SECONDS must be at most 60, got {ttl}")
    return VoicePolicy(
        challenge_digits=digits,
        challenge_ttl_seconds=ttl,
        target_far=_float(env, "TARGET_FAR", VoicePolicy.target_far, 0.0001, 0.5),
        takes_per_digit=_int(env, "TAKES_PER_DIGIT", VoicePolicy.takes_per_digit, 3),
        lockout_after=_int(env, "LOCKOUT_AFTER", VoicePolicy.lockout_after, 0),
        lockout_seconds=_int(env, "LOCKOUT_SECONDS", VoicePolicy.lockout_seconds, 1),
    )


def login_limits_from_env(env: Mapping[str, str]) -> LoginLimits:
    return LoginLimits(
        per_account=_int(env, "LOGIN_MAX_FAILURES", LoginLimits.per_account, 0),
        per_address=_int(env, "LOGIN_MAX_FAILURES_PER_ADDRESS", LoginLimits.per_address, 0),
        window_seconds=_int(env, "LOGIN_WINDOW_SECONDS", LoginLimits.window_seconds, 1),
        delay_seconds=_int(env, "LOGIN_DELAY_SECONDS", LoginLimits.delay_seconds, 1),
    )


def registration_limits_from_env(env: Mapping[str, str]) -> RegistrationLimits:
    return RegistrationLimits(
        per_address=_int(env, "REGISTER_MAX_PER_ADDRESS", RegistrationLimits.per_address, 0),
        window_seconds=_int(env, "REGISTER_WINDOW_SECONDS", RegistrationLimits.window_seconds, 1),
    )


def server_limits_from_env(env: Mapping[str, str]) -> ServerLimits:
    raw = env.get(ENV_PREFIX + "TRUSTED_PROXIES", "")
    proxies = tuple(p.strip() for p in raw.split(",") if p.strip())
    if "*" in proxies:  # trusting every peer lets any client choose its own address
        raise SettingsError(f"{ENV_PREFIX}TRUSTED_PROXIES must list proxy addresses explicitly; '*' is not allowed")
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise SettingsError(f"{ENV_PREFIX}TRUSTED_PROXIES: {proxy!r} is not an IP address or network") from None
    return ServerLimits(
        trusted_proxies=proxies,
        max_header_bytes=_int(env, "MAX_HEADER_BYTES", ServerLimits.max_header_bytes, 1024),
        request_timeout_seconds=_int(env, "REQUEST_TIMEOUT_SECONDS", ServerLimits.request_timeout_seconds, 0),
        keepalive_seconds=_int(env, "KEEPALIVE_SECONDS", ServerLimits.keepalive_seconds, 1),
    )


def user_limits_from_env(env: Mapping[str, str]) -> UserLimits:
    return UserLimits(
        challenges_per_hour=_int(env, "CHALLENGES_PER_HOUR", UserLimits.challenges_per_hour, 0),
        analysis_per_hour=_int(env, "ANALYSIS_PER_HOUR", UserLimits.analysis_per_hour, 0),
        export_verification_seconds=_int(
            env, "EXPORT_VERIFICATION_SECONDS", UserLimits.export_verification_seconds, 10
        ),
        replay_answers_per_digit=_int(env, "REPLAY_ANSWERS_PER_DIGIT", UserLimits.replay_answers_per_digit, 0),
        attempt_retention_days=_int(env, "ATTEMPT_RETENTION_DAYS", UserLimits.attempt_retention_days, 0),
    )


def relying_parties_from_env(env: Mapping[str, str]) -> RelyingParties:
    issuer = (env.get(ENV_PREFIX + "PUBLIC_URL") or RelyingParties.issuer).strip().rstrip("/")
    if not issuer.startswith(("https://", "http://")):
        raise SettingsError(f"{ENV_PREFIX}PUBLIC_URL must be an http(s) URL, got {issuer!r}")
    result_ttl = _int(env, "RP_RESULT_TTL_SECONDS", RelyingParties.result_ttl_seconds, 10)
    if result_ttl > 120:
        raise SettingsError(f"{ENV_PREFIX}RP_RESULT_TTL_SECONDS must be at most 120, got {result_ttl}")
    return RelyingParties(
        issuer=issuer,
        session_ttl_seconds=_int(env, "RP_SESSION_TTL_SECONDS", RelyingParties.session_ttl_seconds, 10),
        result_ttl_seconds=result_ttl,
        sessions_per_minute=_int(env, "RP_SESSIONS_PER_MINUTE", RelyingParties.sessions_per_minute, 0),
    )


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


def _existing_deployment(data_dir: Path, database_url: str, env: Mapping[str, str]) -> str:
    """The secret of a deployment that must already exist (``create=False``); nothing is created.

    Without a key file or SPEAKERVERIFY_SECRET_KEY the key is an ephemeral one: callers that refuse
    to create a deployment (operator commands) issue no tokens.
    """
    if not database_url and not (data_dir / SQLITE_FILE).is_file():
        raise SettingsError(
            f"no speakerverify deployment at {data_dir} ({data_dir / SQLITE_FILE} does not exist): run this "
            f"where `speakerverify serve` runs, or set {ENV_PREFIX}DATA_DIR or --database-url "
            "(`speakerverify db upgrade` creates a new database)"
        )
    env_secret = env.get(ENV_PREFIX + "SECRET_KEY")
    if env_secret:
        return check_secret(env_secret, ENV_PREFIX + "SECRET_KEY")
    if (data_dir / SECRET_FILE).is_file():
        return load_or_create_secret(data_dir)
    return secrets.token_urlsafe(48)


def settings_from_env(env: Mapping[str, str] | None = None, *, create: bool = True, **overrides: object) -> Settings:
    """Settings from ``SPEAKERVERIFY_*`` variables; keyword overrides (from the CLI) win.

    ``create=False`` (operator commands): refuse a data directory without a database instead of
    creating a new empty deployment there, and write no key file.

    Variables: DATA_DIR, DATABASE_URL, SECRET_KEY, TOKEN_TTL_SECONDS, MAX_BODY_BYTES,
    CORS_ORIGINS (comma-separated origins), CHALLENGE_DIGITS (3-8), CHALLENGE_TTL_SECONDS (<= 60),
    TARGET_FAR, TAKES_PER_DIGIT, UBM_FILE (an .npz written by models.io.save_gmm), LOCKOUT_AFTER (0 disables),
    LOCKOUT_SECONDS, LOGIN_MAX_FAILURES, LOGIN_MAX_FAILURES_PER_ADDRESS (0 disables), LOGIN_WINDOW_SECONDS,
    LOGIN_DELAY_SECONDS, REGISTER_MAX_PER_ADDRESS (0 disables), REGISTER_WINDOW_SECONDS, TRUSTED_PROXIES
    (comma-separated), MAX_HEADER_BYTES, REQUEST_TIMEOUT_SECONDS (0 disables it), KEEPALIVE_SECONDS,
    CHALLENGES_PER_HOUR, ANALYSIS_PER_HOUR (0 disables), EXPORT_VERIFICATION_SECONDS,
    REPLAY_ANSWERS_PER_DIGIT (0 keeps all), ATTEMPT_RETENTION_DAYS (0 keeps forever), PUBLIC_URL (the
    ``iss`` of signed results), RP_SESSION_TTL_SECONDS, RP_RESULT_TTL_SECONDS (<= 120),
    RP_SESSIONS_PER_MINUTE (0 disables), TIMING_LOG (1: a timing line per challenge and answer in the
    server's log), CALIBRATION_PROCESS (1, the default: calibrations recomputed in a child process; 0: on a
    thread of the serving process).
    """
    env = os.environ if env is None else env
    data_dir = Path(str(overrides.pop("data_dir", None) or env.get(ENV_PREFIX + "DATA_DIR") or DEFAULT_DATA_DIR))
    data_dir = data_dir.expanduser().resolve()
    database_url = str(overrides.pop("database_url", None) or env.get(ENV_PREFIX + "DATABASE_URL") or "")
    if not create:
        secret = _existing_deployment(data_dir, database_url, env)
    if not database_url:
        if create:
            data_dir.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{data_dir / SQLITE_FILE}"
    if create:
        env_secret = env.get(ENV_PREFIX + "SECRET_KEY")
        secret = check_secret(env_secret, ENV_PREFIX + "SECRET_KEY") if env_secret else load_or_create_secret(data_dir)
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
        voice=voice_from_env(env),
        login_limits=login_limits_from_env(env),
        registration_limits=registration_limits_from_env(env),
        server=server_limits_from_env(env),
        user_limits=user_limits_from_env(env),
        relying_parties=relying_parties_from_env(env),
        ubm_file=Path(env[ENV_PREFIX + "UBM_FILE"]) if env.get(ENV_PREFIX + "UBM_FILE") else None,
        timing_log=_flag(env, "TIMING_LOG", False),
        calibration_process=_flag(env, "CALIBRATION_PROCESS", True),
    )
    return settings.with_(**overrides) if overrides else settings
