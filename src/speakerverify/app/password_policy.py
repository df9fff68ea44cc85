"""How strong a new password must be: the length bounds plus zxcvbn's guessability estimate.

zxcvbn (Dropbox's estimator, the PyPI port) rather than hand-written rules: it knows common passwords,
dictionary words, keyboard walks, repeats, sequences and dates, which composition rules ("a digit and a
capital") miss (``password12`` passes them). Score 3 is "safely unguessable" against an online attack
that is throttled (about 10^8 guesses, zxcvbn's own scale), which is what the login throttles make it.
"""

from __future__ import annotations

from zxcvbn import zxcvbn

from .errors import WeakPassword

PASSWORD_MIN = 10
PASSWORD_MAX = 1024  # bounds the work one request can make argon2 do
MIN_SCORE = 3
# zxcvbn's matching grows faster than linearly with the length; its authors score a prefix of long inputs.
# 100 characters of a password that is not guessable are far beyond any attack.
SCORED_PREFIX = 100


def check_new_password(password: str, user_inputs: tuple[str, ...] = (), pointer: str = "#/password") -> None:
    """``WeakPassword`` (pointing at ``pointer``) unless ``password`` is long and hard enough to guess.
    ``user_inputs`` (email, alias) count as known to the attacker."""
    if len(password) < PASSWORD_MIN:
        raise WeakPassword(f"use at least {PASSWORD_MIN} characters.", pointer)
    if len(password) > PASSWORD_MAX:
        raise WeakPassword(f"use at most {PASSWORD_MAX} characters.", pointer)
    inputs = [part for value in user_inputs for part in (value, *value.replace("@", ".").split(".")) if part]
    result = zxcvbn(password[:SCORED_PREFIX], user_inputs=inputs)
    if int(result["score"]) >= MIN_SCORE:
        return
    feedback = result.get("feedback") or {}
    hints = [str(feedback.get("warning") or "")] + [str(s) for s in feedback.get("suggestions") or ()]
    why = " ".join(h.rstrip(".") + "." for h in hints if h) or "it resembles common passwords."
    raise WeakPassword(why, pointer)
