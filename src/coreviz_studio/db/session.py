"""Engines and sessions, and the one place that decides which PostgreSQL we talk to."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from coreviz_studio.config import Settings
from coreviz_studio.db.embedded import EmbeddedPostgres

log = logging.getLogger(__name__)


def sqlalchemy_url(url: str) -> URL:
    """A libpq URL (postgresql://...) as SQLAlchemy's psycopg 3 URL."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


@dataclass
class Database:
    """An open database: the libpq URL, an engine and a session factory."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    embedded: EmbeddedPostgres | None = field(default=None)

    def close(self) -> None:
        self.engine.dispose()
        if self.embedded is not None:
            self.embedded.release()


def open_database(settings: Settings) -> Database:
    """Connect to DATABASE_URL, or start (or join) the embedded PostgreSQL of the data dir."""
    embedded = None
    if settings.database_url:
        url = settings.database_url
    else:
        embedded = EmbeddedPostgres(settings.data_dir, settings.embedded_pg_user)
        url = embedded.acquire()
    engine = create_engine(
        sqlalchemy_url(url), pool_size=settings.db_pool_size, max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
    )
    return Database(url, engine, sessionmaker(engine, expire_on_commit=False), embedded)


_UNDO = "coreviz_undo"


def on_rollback(session: Session, action: Callable[[], None]) -> None:
    """Run `action` if this session's transaction does not commit (a blob written for a row
    that never lands must not stay behind)."""
    session.info.setdefault(_UNDO, []).append(action)


def committed(session: Session) -> None:
    """The transaction committed: forget its undo actions."""
    session.info.pop(_UNDO, None)


def rolled_back(session: Session) -> None:
    """The transaction rolled back: run its undo actions, newest first."""
    for action in reversed(session.info.pop(_UNDO, [])):
        try:
            action()
        except Exception:
            log.exception("undo after rollback failed")
