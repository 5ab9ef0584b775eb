"""Engines and sessions, and the one place that decides which PostgreSQL we talk to."""

from __future__ import annotations

import logging
import threading
import time
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
    _watchdog: tuple[threading.Event, threading.Thread] | None = field(default=None, repr=False)

    def watch(self, every: float) -> None:
        """Restart the embedded PostgreSQL whenever it dies (a thread checking `every`
        seconds), until close(). Meanwhile requests fail with 503; afterwards the pool's
        pre-ping replaces the broken connections. Nothing to watch for DATABASE_URL."""
        if self.embedded is None or self._watchdog is not None:
            return
        stop = threading.Event()
        thread = threading.Thread(target=_watch, args=(self.embedded, stop, every),
                                  name="postgres-watchdog", daemon=True)
        self._watchdog = (stop, thread)
        thread.start()

    def close(self) -> None:
        if self._watchdog is not None:  # first, so that it can't start what release stops
            self._watchdog[0].set()
            self._watchdog[1].join(30)
        self.engine.dispose()
        if self.embedded is not None:
            self.embedded.release()


def _watch(embedded: EmbeddedPostgres, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        try:
            started = time.monotonic()
            if embedded.revive():
                log.warning("the embedded PostgreSQL runs again (started in %.1f s)",
                            time.monotonic() - started)
        except Exception:  # e.g. it failed to start: try again next round
            log.exception("could not restart the embedded PostgreSQL")


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
