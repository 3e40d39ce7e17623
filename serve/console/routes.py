"""``/ui``: the console's files, and sign-in / sign-out (the session cookie)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from hub.auth import token_matches
from serve._errors import ApiError
from serve.console._session import COOKIE, CSRF_HEADER, TTL_S, csrf_ok, issue, verify

STATIC = Path(__file__).parent / "static"
PREFIX = "/ui"

# The console loads nothing from elsewhere; CodeMirror injects its own <style> elements.
CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(prefix=PREFIX, include_in_schema=False)


class SignIn(BaseModel):
    token: str = Field(min_length=1, max_length=512, description="The API token")


def _session_body(csrf: str, expires: int) -> dict[str, Any]:
    return {"signed_in": True, "csrf_token": csrf, "expires_at": expires}


@router.post("/session")
async def sign_in(request: Request, body: SignIn) -> Response:
    """Exchange the API token for a session cookie (HttpOnly, SameSite=Strict)."""
    digest: str = request.app.state.config.token_sha256
    if not token_matches(body.token.strip(), digest):
        raise ApiError(401, "unauthorized", "that is not this runtime's API token")
    value, session = issue(digest)
    response = JSONResponse(_session_body(session.csrf, session.expires))
    response.set_cookie(
        COOKIE,
        value,
        max_age=TTL_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    request.state.actor = f"console@{request.client.host if request.client else 'unknown'}"
    return response


@router.get("/session")
async def session_info(request: Request) -> dict[str, Any]:
    """Whether this browser is signed in, and its CSRF token for changes."""
    session = verify(request.app.state.config.token_sha256, request.cookies.get(COOKIE))
    if session is None:
        return {"signed_in": False}
    return _session_body(session.csrf, session.expires)


@router.delete("/session")
async def sign_out(request: Request) -> Response:
    session = verify(request.app.state.config.token_sha256, request.cookies.get(COOKIE))
    if session is not None and not csrf_ok(session, request.headers.get(CSRF_HEADER)):
        raise ApiError(403, "csrf_failed", "sign-out must carry the session's X-CSRF-Token")
    response = JSONResponse({"signed_in": False})
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


def _file(relative: str) -> Path | None:
    """A file of the built console, never outside it."""
    root = STATIC.resolve()
    candidate = (root / relative).resolve()
    if candidate.is_file() and candidate.is_relative_to(root):
        return candidate
    return None


@router.get("/assets/{name:path}")
async def asset(name: str) -> Response:
    found = _file(f"assets/{name}")
    if found is None:
        raise ApiError(404, "not_found", f"no console asset {name!r}")
    # Asset names carry a content hash: they never change.
    return FileResponse(found, headers={"Cache-Control": "public, max-age=31536000, immutable"})


@router.get("")
@router.get("/")
@router.get("/{page:path}")
async def page(page: str = "") -> Response:
    """Every console address answers with the app, which routes in the browser."""
    index = _file("index.html")
    if index is None:
        raise ApiError(
            503,
            "console_not_built",
            "the console's files are missing: build them with "
            "'npm ci && npm run build' in serve/console/web",
        )
    return FileResponse(index, headers=PAGE_HEADERS, media_type="text/html")
