"""Where the store lives: database URLs from the environment, normalised and redacted."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from hub.errors import StoreError

DEFAULT_HOME = "~/.runtime-hub"


def database_url_from_env(home: Path | None = None) -> str:
    """The database URL to use: ``HUB_DATABASE_URL`` if set, else ``sqlite:///<home>/hub.db``.

    ``home`` defaults to ``HUB_HOME`` (itself defaulting to ``~/.runtime-hub``); the directory is
    created when missing. PostgreSQL URLs are rewritten to use the psycopg 3 driver.
    """
    url = os.environ.get("HUB_DATABASE_URL", "").strip()
    if url:
        return normalize_url(url)
    if home is None:
        home = Path(os.environ.get("HUB_HOME") or DEFAULT_HOME)
    home = home.expanduser()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the hub home directory {home}: {exc.strerror}") from exc
    return f"sqlite:///{home.resolve() / 'hub.db'}"


def normalize_url(url: str) -> str:
    """Rewrite ``postgresql://`` (and ``postgres://``) URLs to the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith("postgres+psycopg://"):
        return "postgresql+psycopg://" + url[len("postgres+psycopg://") :]
    return url


def parse_url(url: str) -> URL:
    try:
        return make_url(normalize_url(url))
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL {redact_url(url)!r}") from exc


def redact_url(url: str | URL) -> str:
    """The URL as users may see it: no password, no driver name (``postgresql://host/db``)."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except ArgumentError:
        # Not parseable: drop anything that looks like credentials.
        text = str(url)
        scheme, sep, rest = text.partition("://")
        if sep and "@" in rest:
            return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
        return text
    # URL.set() ignores None, so drop the password with the tuple's _replace().
    parsed = parsed.set(drivername=parsed.get_backend_name())._replace(password=None)
    return parsed.render_as_string(hide_password=False)


def password_of(url: str | URL) -> str | None:
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except ArgumentError:
        return None
    pw = parsed.password
    return str(pw) if pw else None
