"""The API token: made by the first ``hub up``, kept in ``HUB_HOME/api.token`` (mode 0600).

Only its SHA-256 digest travels to the API replicas; a request's bearer token is hashed and
compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

TOKEN_FILE = "api.token"


def token_path(home: Path) -> Path:
    return home / TOKEN_FILE


def load_or_create_token(home: Path) -> tuple[str, bool]:
    """The runtime's API token, and whether it was made just now (print it once, then)."""
    path = token_path(home)
    if path.exists():
        return path.read_text().strip(), False
    token = "hub_" + secrets.token_urlsafe(32)
    # Created with 0600 from the start: never a moment where others may read it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token, True


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(presented: str, digest: str) -> bool:
    return hmac.compare_digest(token_digest(presented), digest)


__all__ = ["load_or_create_token", "token_digest", "token_matches", "token_path"]
