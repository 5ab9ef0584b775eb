"""Engines and sessions, and the one place that decides which PostgreSQL we talk to."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from coreviz_studio.config import Settings
from coreviz_studio.db.embedded import EmbeddedPostgres
from coreviz_studio.db.rls import APP_ROLE

log = logging.getLogger(__name__)


def sqlalchemy_url(url: str) -> URL:
    """A libpq URL (postgresql://...) as SQLAlchemy's psycopg 3 URL."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


@dataclass
class Database:
    """An open database.

    Two roles: `engine` and `system_sessions` are the login role's (the tables' owner: migrations,
    operator commands, the job queue's own tables); `sessions` run as the application role
    `coreviz_app`, under row-level security (db/rls.py), and are what requests and jobs use.
    The application role exists once migrations ran, so its engine is made on first use."""

    url: str
    engine: Engine
    system_sessions: sessionmaker[Session]
    embedded: EmbeddedPostgres | None = field(default=None)
    pool_size: int = 10
    _app_engine: Engine | None = field(default=None, repr=False)
    _app_sessions: sessionmaker[Session] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _watchdog: tuple[threading.Event, threading.Thread] | None = field(default=None, repr=False)

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Sessions as the application role: they see only the organization they are scoped to
        (db/rls.py scope_session), and no library rows before that."""
        if self._app_sessions is None:
            with self._lock:
                if self._app_sessions is None:
                    self._app_engine = _app_engine(self.url, self.embedded is not None,
                                                   self.pool_size)
                    self._app_sessions = sessionmaker(self._app_engine, expire_on_commit=False)
        return self._app_sessions

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
        if self._app_engine is not None:
            self._app_engine.dispose()
        self.engine.dispose()
        if self.embedded is not None:
            self.embedded.release()


def _app_engine(url: str, embedded: bool, pool_size: int) -> Engine:
    """An engine whose connections are the application role. The embedded database (trust
    auth on a private socket) lets it log in as itself; an external one is joined as the
    login role, which then switches to the application role on every new connection."""
    parsed = sqlalchemy_url(url)
    if embedded:
        parsed = parsed.set(username=APP_ROLE, password=None)
    engine = create_engine(parsed, pool_size=pool_size, max_overflow=pool_size,
                           pool_pre_ping=True)
    if not embedded:
        @event.listens_for(engine, "connect")
        def _become_app_role(dbapi_connection: Any, _record: Any) -> None:
            with dbapi_connection.cursor() as cur:
                cur.execute(f"SET ROLE {APP_ROLE}")
            dbapi_connection.commit()
    return engine


def _watch(embedded: EmbeddedPostgres, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        try:
            started = time.monotonic()
            if embedded.revive():
                log.warning("the embedded PostgreSQL runs again (started in %.1f s)",
                            time.monotonic() - started)
        except Exception:  # e.g. it failed to start: try again next round
            log.exception("could not restart the embedded PostgreSQL")


# The owner's pool: migrations, operator commands, the queue's tables and blob lookups. The
# Studio's grid asks for thumbnails six at a time (a browser's connections to one server), and a
# connection beyond those kept is opened and closed per request (a PostgreSQL backend each). At
# most COREVIZ_DB_POOL_SIZE + 2 in all, as when it kept 2.
OWNER_POOL_KEPT = 6


def open_database(settings: Settings) -> Database:
    """Connect to DATABASE_URL, or start (or join) the embedded PostgreSQL of the data dir."""
    embedded = None
    if settings.database_url:
        url = settings.database_url
    else:
        embedded = EmbeddedPostgres(settings.data_dir, settings.embedded_pg_user,
                                    settings.embedded_pg_shared_buffers)
        url = embedded.acquire()
    most = settings.db_pool_size + 2  # serving.connections_per_process counts on it
    kept = min(OWNER_POOL_KEPT, most)
    engine = create_engine(sqlalchemy_url(url), pool_size=kept, max_overflow=most - kept,
                           pool_pre_ping=True)
    return Database(url, engine, sessionmaker(engine, expire_on_commit=False), embedded,
                    settings.db_pool_size)


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
