"""Domain errors: what a use case refuses, and why, in the terms of the domain.

The HTTP layer maps each class to one problem response (``http/problems.py``, one table); operator
commands print the message. ``str(error)`` is the sentence a person can act on.
"""

from __future__ import annotations

from .results import Progress


class DomainError(Exception):
    """Base of every refusal a use case raises; the message is for the person asking."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """A value that cannot be used (e.g. malformed features); ``pointer`` is a JSON pointer into the input."""

    def __init__(self, message: str, pointer: str | None = None, kind: str = "invalid-features") -> None:
        super().__init__(f"{pointer}: {message}" if pointer else message)
        self.reason = message
        self.pointer = pointer
        self.kind = kind


class WrongFeatureConfig(DomainError):
    def __init__(self, sent: str, expected: str) -> None:
        super().__init__(
            f"features were computed with {sent!r}; this service needs {expected!r} (GET /api/v1/feature-config)"
        )
        self.expected = expected


class NotFound(DomainError):
    """The thing asked for does not exist for this account."""


class AccountGone(DomainError):
    def __init__(self) -> None:
        super().__init__("This account no longer exists.")


class InvalidCredentials(DomainError):
    def __init__(self) -> None:
        super().__init__("The email or password is incorrect.")


class WrongPassword(DomainError):
    def __init__(self) -> None:
        super().__init__("The current password is incorrect.")


class AlreadyRegistered(DomainError):
    """The email or the alias is in use. Deliberately one answer for both: naming the field would confirm
    that an email has an account. (With a fresh random alias the answer still implies it; README
    "Registration" says what bounds that.)"""

    def __init__(self) -> None:
        super().__init__(
            "This email or alias cannot be registered. If you already have an account, log in; "
            "otherwise choose another alias."
        )


class DataStatementChanged(DomainError):
    def __init__(self, version: str) -> None:
        super().__init__(
            f"The data statement has changed (now version {version}); show the current one and ask for consent again."
        )


class NotReady(DomainError):
    """Verification or analysis before enrolment is complete."""

    def __init__(self, message: str, progress: Progress | None = None) -> None:
        super().__init__(message)
        self.progress = progress


class TakeRejected(DomainError):
    """An enrolment take refused for its quality; nothing is stored. ``reason`` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class NotSpeech(DomainError):
    """An answer whose frames no microphone could have produced: refused unscored (and counted)."""

    def __init__(self, pointers: list[str]) -> None:
        super().__init__(
            "These frames could not have come from speech recorded by a microphone; request a new challenge."
        )
        self.pointers = pointers


class ChallengeUnknown(NotFound):
    def __init__(self) -> None:
        super().__init__("No such challenge for this account.")


class ChallengeUsed(DomainError):
    def __init__(self) -> None:
        super().__init__("This challenge has already been answered; request a new one.")


class ChallengeExpired(DomainError):
    def __init__(self) -> None:
        super().__init__("This challenge has expired; request a new one.")


class SegmentCount(DomainError):
    def __init__(self, expected: int) -> None:
        super().__init__(f"The challenge prompts {expected} digits; send one segment for each, in order.")


class TooManyAttempts(DomainError):
    """Refused until ``retry_after`` seconds have passed."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Locked(TooManyAttempts):
    """Verification locked after repeated rejections."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many rejected verifications: verification is locked for {retry_after} more seconds.", retry_after
        )


class LoginRateLimited(TooManyAttempts):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed logins; try again in {retry_after} seconds.", retry_after)


class RegistrationRateLimited(TooManyAttempts):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many new accounts from this address; try again in {retry_after} seconds.", retry_after)


class WeakPassword(DomainError):
    """A password refused for its strength; ``pointer`` names the field (``#/password``, ``#/new_password``)."""

    def __init__(self, reason: str, pointer: str = "#/password") -> None:
        super().__init__(f"This password is too easy to guess: {reason}")
        self.reason = reason
        self.pointer = pointer


class RateLimited(TooManyAttempts):
    """A per-user limit on an action (challenges, analysis) reached; ``action`` says which."""

    def __init__(self, action: str, retry_after: int) -> None:
        super().__init__(f"Too many {action} requests: try again in {retry_after} seconds.", retry_after)
        self.action = action


class VoiceVerificationRequired(DomainError):
    """An action that needs the second factor: a voice verification accepted recently, in this session."""

    def __init__(self, seconds: int) -> None:
        minutes = max(1, seconds // 60)
        super().__init__(
            "Exporting your voice features needs a recent voice verification: pass one in this session "
            f"(it counts for {minutes} minute{'s' if minutes != 1 else ''}), then export again. "
            "GET /api/v1/me/stored says what is stored without it."
        )


# --- relying-party applications -----------------------------------------------------------------


class InvalidClient(DomainError):
    """HTTP Basic credentials of no application (unknown client_id or wrong secret: one answer)."""

    def __init__(self) -> None:
        super().__init__("Unknown client_id or wrong client_secret (HTTP Basic client_id:client_secret).")


class SessionInvalid(DomainError):
    """A session token that is unknown, expired, or whose application or subject was deleted."""

    def __init__(self, message: str = "The session token is not valid; ask the application for a new session.") -> None:
        super().__init__(message)


class WrongPurpose(DomainError):
    """An enrol session asked to verify, or a verify session asked to change enrolment."""

    def __init__(self, purpose: str) -> None:
        doing = "verify" if purpose == "enrol" else "change enrolment"
        super().__init__(f"This is a {purpose} session: it cannot {doing}.")
        self.purpose = purpose


class OriginNotAllowed(DomainError):
    def __init__(self, origin: str) -> None:
        super().__init__(f"The origin {origin!r} is not allowed for this application's sessions.")


class SubjectUnknown(NotFound):
    def __init__(self) -> None:
        super().__init__("This application has no such subject.")


class ResultUnknown(NotFound):
    def __init__(self) -> None:
        super().__init__("No such result for this application (unknown, expired, or already fetched).")


class ApplicationRateLimited(TooManyAttempts):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many sessions for this application; try again in {retry_after} seconds.", retry_after)
