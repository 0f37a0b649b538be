"""Survey form tokens: what keeps another site from posting answers in a participant's name.

Each browser gets a random session id in a cookie (``HttpOnly``, ``SameSite=Strict``; over
https ``Secure`` with the ``__Host-`` prefix, so no other host or plain-http page can set it).
Each form carries ``<issued>.<HMAC-SHA256(server secret, purpose, session, issued)>``: the
purpose is the survey link's hash (or ``access`` for the access-code page), so a token made
for one link does not open another, and one cannot be made without the server's secret
(:func:`localcap.db.secrets.server_secret`, shared by every worker through the database).
A token is good for :data:`MAX_AGE_SECONDS`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

COOKIE = "localcap_survey_csrf"
SECURE_COOKIE = "__Host-localcap_survey_csrf"
MAX_AGE_SECONDS = 24 * 3600
ACCESS_PAGE = "access"


def cookie_name(secure: bool) -> str:
    return SECURE_COOKIE if secure else COOKIE


_SESSION = re.compile(r"[A-Za-z0-9_-]{43}")


def new_session() -> str:
    return secrets.token_urlsafe(32)


def well_formed_session(session: str) -> bool:
    """Whether a cookie's session id could be one :func:`new_session` made (anything else
    is replaced, never echoed back in a Set-Cookie)."""
    return bool(_SESSION.fullmatch(session))


def _mac(secret: bytes, session: str, purpose: str, issued: int) -> str:
    message = f"{purpose}\x00{session}\x00{issued}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign(secret: bytes, session: str, purpose: str, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    return f"{issued}.{_mac(secret, session, purpose, issued)}"


def valid(secret: bytes, session: str, purpose: str, token: str, now: float | None = None) -> bool:
    """Whether a posted token was signed for this session and purpose, and is recent."""
    issued_text, _, mac = token.partition(".")
    if not session or not issued_text.isdigit() or len(issued_text) > 12:
        return False
    issued = int(issued_text)
    age = (time.time() if now is None else now) - issued
    if not -60 <= age <= MAX_AGE_SECONDS:
        return False
    expected = _mac(secret, session, purpose, issued)
    return hmac.compare_digest(expected.encode(), mac.encode("utf-8", "replace"))
