"""Bearer-token auth: every route but health needs ``Authorization: Bearer <token>``."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.auth import token_matches
from serve._errors import ApiError

bearer = HTTPBearer(auto_error=False, description="The token `hub up` printed (HUB_HOME/api.token)")


async def require_token(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> str:
    """The caller's identity for the audit log; 401 without a valid token."""
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
