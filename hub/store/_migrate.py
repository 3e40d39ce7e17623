"""Programmatic ``alembic upgrade head`` for the store, independent of the working directory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from hub.errors import HubError, StoreError
from hub.store._db import create_store_engine, reason, unreachable
from hub.store._url import normalize_url, redact_url

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where a migration runs, not with the store: every `hub` command and
# runtime process imports the store, and Alembic takes a quarter of a second to import.

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Serialises concurrent migrations of one PostgreSQL database (an arbitrary, fixed key).
_PG_LOCK_KEY = 0x6875625F6D6967


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations; ``url`` goes in its attributes."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.attributes["url"] = normalize_url(url)
    return cfg


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (``alembic upgrade head``).

    Running it on an up-to-date database does nothing. Raises StoreError when the database
    cannot be reached or a migration fails.
    """
    engine = create_store_engine(normalize_url(url))
    try:
        migrate_engine(engine)
    finally:
        engine.dispose()


def migrate_engine(engine: Engine) -> None:
    try:
        conn = engine.connect()
    except SQLAlchemyError as exc:
        raise unreachable(engine.url, exc) from exc
    try:
        with conn:
            _upgrade(conn)
    except HubError:
        raise
    except (SQLAlchemyError, OSError) as exc:
        # Another process may have migrated the database concurrently: fine if it is at head.
        if _at_head(engine):
            return
        raise StoreError(
            f"cannot migrate the database at {redact_url(engine.url)}: {reason(exc, engine.url)}",
            details={"url": redact_url(engine.url)},
        ) from exc


def _upgrade(conn: Connection) -> None:
    from alembic import command

    head = head_revision()
    if current_revision(conn) == head:
        conn.rollback()
        return
    conn.rollback()
    locked = conn.dialect.name == "postgresql"
    if locked:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
        conn.commit()
    try:
        cfg = alembic_config(engine_url_string(conn))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        if conn.in_transaction():
            conn.commit()
    finally:
        if locked:
            if conn.in_transaction():
                conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
            conn.commit()


def engine_url_string(conn: Connection) -> str:
    return conn.engine.url.render_as_string(hide_password=False)


def _at_head(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            return current_revision(conn) == head_revision()
    except SQLAlchemyError:
        return False
