"""Console sessions: the API token, exchanged once at sign-in for a signed session cookie.

The cookie is stateless, so every API replica can check it: ``v1.<expires>.<csrf>.<signature>``,
signed with HMAC-SHA256 under a key derived from the API token's digest (which only the replicas
hold). Rotating the token therefore ends every session. The cookie is HttpOnly and
SameSite=Strict; a request that changes something must also carry the session's CSRF token in
the ``X-CSRF-Token`` header (the console reads it from ``GET /ui/session``), so a page on another
origin can neither read the token nor forge a change.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

COOKIE = "hub_session"
CSRF_HEADER = "x-csrf-token"
TTL_S = 12 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_VERSION = "v1"


@dataclass(frozen=True)
class Session:
    csrf: str
    expires: int


def _key(token_sha256: str) -> bytes:
    return hmac.new(bytes.fromhex(token_sha256), b"runtime-hub console session", "sha256").digest()


def _sign(token_sha256: str, payload: str) -> str:
    return hmac.new(_key(token_sha256), payload.encode(), hashlib.sha256).hexdigest()


def issue(token_sha256: str, now: float | None = None, ttl_s: int = TTL_S) -> tuple[str, Session]:
    """A new session: the cookie's value and what it holds."""
    expires = int((time.time() if now is None else now) + ttl_s)
    session = Session(csrf=secrets.token_urlsafe(24), expires=expires)
    payload = f"{_VERSION}.{session.expires}.{session.csrf}"
    return f"{payload}.{_sign(token_sha256, payload)}", session


def verify(token_sha256: str, cookie: str | None, now: float | None = None) -> Session | None:
    """The session a cookie carries, or None when it is missing, forged, malformed or expired."""
    if not cookie or len(cookie) > 512:
        return None
    parts = cookie.split(".")
    if len(parts) != 4 or parts[0] != _VERSION or not parts[1].isdigit():
        return None
    payload = ".".join(parts[:3])
    if not hmac.compare_digest(_sign(token_sha256, payload), parts[3]):
        return None
    expires = int(parts[1])
    if expires <= (time.time() if now is None else now):
        return None
    return Session(csrf=parts[2], expires=expires)


def csrf_ok(session: Session, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(session.csrf, presented)
