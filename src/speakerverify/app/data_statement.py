"""The data statement users agree to at registration, served at ``GET /api/v1/data-statement``.

Change ``VERSION`` whenever the text changes in substance: each user row records the version
they agreed to. The text must stay true of this code; tests check the claims that can be checked.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings

VERSION = "2026-12-5"


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        n, unit = seconds // 3600, "hour"
    elif seconds % 60 == 0:
        n, unit = seconds // 60, "minute"
    else:
        n, unit = seconds, "second"
    return f"{n} {unit}{'s' if n != 1 else ''}"


def _rights(settings: Settings) -> tuple[str, str, str]:
    """Access and erasure: what the export holds, and the voice verification it needs."""
    recent = _duration(settings.user_limits.export_verification_seconds)
    return (
        "your-rights",
        "Access and erasure",
        "GET /api/v1/me/stored says, at any time, what is stored about you: how many rows of each "
        "kind and their oldest and newest dates, without the values. GET /api/v1/me/export returns "
        "everything stored about you as JSON, including your voice features as numbers and the scores "
        "of your verification attempts (the password hash is withheld). Because voice features could "
        "help someone who has stolen your password pass the voice check, the export is given only to a "
        f"session that passed a voice verification within the last {recent}. DELETE /api/v1/me erases "
        "your account and all data listed above from the database immediately and permanently; it "
        "cannot be undone.",
    )


def _retention(settings: Settings) -> str:
    """What is deleted before the account is: old attempts and old answers' replay fingerprints."""
    limits = settings.user_limits
    days = limits.attempt_retention_days
    attempts = (
        f"Verification attempts and the challenges they answered are deleted once they are more than {days} days "
        "old, when you next ask for a challenge. "
        if days > 0
        else "Verification attempts and their challenges are kept until you erase your account. "
    )
    keep = limits.replay_answers_per_digit
    answers = (
        f"Of the replay fingerprints (a smoothed summary of each answer's frames, used to recognise a recording "
        f"sent again), the newest {keep} of each digit among accepted answers and the newest {keep} among the "
        f"others are kept; older ones are deleted when a digit holds more than {2 * keep} in all. "
        if keep > 0
        else "The replay fingerprints of your answers (a smoothed summary of each answer's frames, used to "
        "recognise a recording sent again) are kept until you erase your account. "
    )
    return attempts + answers


def statement(settings: Settings) -> dict[str, Any]:
    hours = settings.token_ttl_seconds / 3600
    ttl = f"{hours:g} hour{'s' if hours != 1 else ''}"
    sections = [
        (
            "who",
            "Who keeps your data",
            "This is a self-hosted speakerverify service. Whoever operates this installation runs its "
            "database and can read everything listed below; the speakerverify authors do not receive "
            "any of it. Nothing is sent to third parties and nothing is published as open data.",
        ),
        (
            "what",
            "What is stored",
            "Your email address (lower-cased), an argon2id hash of your password (never the password), "
            "your public alias, optionally your gender and age group, the version of this statement you "
            "agreed to and when, and when your account was created. When you enrol or verify: the "
            "feature frames your browser computed from your voice (13 MFCC coefficients and one energy "
            "value per 10 ms frame, with the digit you were asked to say); the replay fingerprints of your "
            "answers (a smoothed summary of each answer's frames); the digit challenges issued to you; and for each "
            "verification attempt its time, score, threshold, decision and the identifier of the session "
            "it was made in (you are shown the decision and its reason; the scores are for the operator). "
            "Your speaker model (statistics of your enrolment frames) and the replay fingerprints of your "
            "enrolment takes are not stored: the service computes them from your stored frames when it needs "
            "them and holds them only in its memory, so deleting a take or your account leaves nothing of them "
            "in the database. When you log out, the "
            "identifier of that access token is kept until the token would have expired.",
        ),
        (
            "not-stored",
            "What is not stored",
            "Audio never leaves your browser and is never received. No browser fingerprint or device "
            "information is stored. Note that the feature frames are biometric data: they describe your "
            "voice, and a rough, robotic approximation of what was said can be reconstructed from them.",
        ),
        (
            "why",
            "Why",
            "The password authenticates you; the voice features and model exist only to check that a "
            "later attempt comes from the same speaker; challenges and attempts exist to stop replayed "
            "recordings and to let you see how your account was used. Gender and age group are optional "
            "and never used to verify you; they let the operator measure whether verification works "
            "equally well across groups. Your alias "
            "may be shown to other users of this service; do not use your real name.",
        ),
        (
            "how-long",
            "How long",
            "Until you erase your account, except: " + _retention(settings) + "Access tokens expire after "
            f"{ttl}; revoked token identifiers are deleted after that. The operator's own "
            "backups and server logs (the HTTP server logs request lines and client addresses, never "
            "request bodies) follow the operator's retention policy, not this service's.",
        ),
        _rights(settings),
    ]
    return {
        "version": VERSION,
        "sections": [{"id": key, "title": title, "text": text} for key, title, text in sections],
    }
