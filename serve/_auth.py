"""Bearer-token auth: every route but health needs ``Authorization: Bearer <token>``.

The one exception is the webhook route (``POST /hooks/{workflow}/{trigger}``, serve.routes.hooks):
it depends on :func:`token_status` instead, which never refuses, and hands the TriggerActor
whether the token was valid; without it the call must carry the trigger's signature. The
exemption is a property of that one route, not of a path prefix: every other route is mounted
with :func:`require_token` as a dependency, so no path trick reaches them without a token.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.auth import token_matches
from serve._errors import ApiError
from serve.console._session import COOKIE, CSRF_HEADER, SAFE_METHODS, csrf_ok, verify

bearer = HTTPBearer(auto_error=False, description="The token `hub up` printed (HUB_HOME/api.token)")


async def require_token(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> str:
    """The caller's identity for the audit log; 401 without a valid token.

    The web console's signed-in browser sends no token: its session cookie stands for it
    (serve.console._session), and a change (any method but GET/HEAD/OPTIONS) must also carry
    the session's CSRF token, else 403."""
    if credentials is None and COOKIE in request.cookies:
        return _console_caller(request)
    if credentials is None:
        raise ApiError(
            401,
            "unauthorized",
            "missing bearer token: send 'Authorization: Bearer <token>' "
            "(the token is in HUB_HOME/api.token)",
        )
    digest: str = request.app.state.config.token_sha256
    if credentials.scheme.lower() != "bearer" or not token_matches(credentials.credentials, digest):
        raise ApiError(401, "unauthorized", "invalid bearer token")
    client = request.client.host if request.client else "unknown"
    request.state.actor = f"token@{client}"  # the audit middleware names the caller with it
    return str(request.state.actor)


async def token_status(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> bool:
    """Whether the call carries the valid API token (the webhook route only: it never refuses;
    a call without the token must be signed). With the token, the audit names the caller."""
    digest: str = request.app.state.config.token_sha256
    if credentials is None or credentials.scheme.lower() != "bearer":
        return False
    if not token_matches(credentials.credentials, digest):
        return False
    client = request.client.host if request.client else "unknown"
    request.state.actor = f"token@{client}"
    return True


def _console_caller(request: Request) -> str:
    session = verify(request.app.state.config.token_sha256, request.cookies.get(COOKIE))
    if session is None:
        raise ApiError(401, "unauthorized", "the console session has expired: sign in again")
    changes = request.method not in SAFE_METHODS
    if changes and not csrf_ok(session, request.headers.get(CSRF_HEADER)):
        raise ApiError(
            403,
            "csrf_failed",
            "a change from a console session must carry its CSRF token in the X-CSRF-Token "
            "header (GET /ui/session gives it)",
        )
    client = request.client.host if request.client else "unknown"
    request.state.actor = f"console@{client}"
    return str(request.state.actor)
