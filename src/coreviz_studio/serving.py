"""`serve` in several processes (COREVIZ_WEB_PROCESSES, docs/serving.md).

One process: uvicorn runs the app in the `serve` process itself (cli.py). Several: the `serve`
process is uvicorn's supervisor. It has opened (and migrated) the database first, started the
embedded PostgreSQL if there is one, and holds it until the end; it also runs the processing
workers (COREVIZ_WORKERS), so that they run once, not once per process. Each web process is
spawned by uvicorn, rebuilds the same settings from the environment (`child_app`), joins the same
PostgreSQL (a holder of the embedded one, like a `worker` command) and serves requests on the
socket the supervisor bound. SIGTERM or Ctrl-C: uvicorn stops the web processes, then the
supervisor stops its workers and releases the database (the last holder stops PostgreSQL).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from typing import TYPE_CHECKING

from coreviz_studio.config import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from coreviz_studio.db.session import Database

log = logging.getLogger(__name__)

AUTO_MAX = 4  # `auto` never starts more web processes than this
_SETTINGS_ENV = "COREVIZ_SERVE_CHILD_SETTINGS"  # the supervisor's settings, for its children


def web_processes(settings: Settings) -> int:
    """How many web processes `serve` runs: the setting, or for 0 one per core up to AUTO_MAX."""
    if settings.web_processes > 0:
        return settings.web_processes
    return max(1, min(os.cpu_count() or 1, AUTO_MAX))


def connections_per_process(pool_size: int) -> int:
    """The most database connections one process may open: the application role's pool
    (pool_size + as many again in overflow) and the owner's (2 + pool_size overflow)."""
    return 2 * pool_size + 2 + pool_size


def check_connections(processes: int, settings: Settings, max_connections: int) -> str | None:
    """A warning when the web processes together may open more connections than PostgreSQL
    takes (it keeps 3 for superusers; workers need theirs too), else None."""
    needed = processes * connections_per_process(settings.db_pool_size)
    room = max_connections - 3
    if needed <= room:
        return None
    return (f"{processes} web processes x {connections_per_process(settings.db_pool_size)} "
            f"connections (COREVIZ_DB_POOL_SIZE={settings.db_pool_size}) = {needed} may exceed "
            f"PostgreSQL's max_connections={max_connections}; lower COREVIZ_DB_POOL_SIZE or "
            "COREVIZ_WEB_PROCESSES (docs/serving.md)")


def child_app() -> FastAPI:
    """uvicorn's factory in each web process: the supervisor's settings, no processing workers
    (the supervisor runs them); the app opens the database itself and closes it at shutdown."""
    from coreviz_studio import logs
    from coreviz_studio.app import create_app

    values = json.loads(os.environ[_SETTINGS_ENV])
    settings = Settings(**values)
    logs.setup(settings.log_level)
    return create_app(settings, serving=True)


def _child_settings(settings: Settings) -> str:
    values = settings.model_dump(mode="json", exclude={"database_url"})
    values["workers"] = 0
    if settings.database_url:  # its field is read through its alias
        values["COREVIZ_DATABASE_URL"] = settings.database_url
    return json.dumps(values)


class _Workers:
    """The processing workers, on an event loop of their own in a thread of the supervisor."""

    def __init__(self, db: Database, settings: Settings) -> None:
        from coreviz_studio.pipeline.process import Pipeline
        from coreviz_studio.storage.factory import build_store

        self._pipe = Pipeline(db, build_store(settings), settings)
        self._count = settings.workers
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._loop.run_until_complete,
                                        args=(self._main(),), name="processing", daemon=True)

    async def _main(self) -> None:
        from coreviz_studio.app import start_workers, stop_workers

        tasks = start_workers(self._pipe, self._count)
        await self._stop.wait()
        await stop_workers(tasks)

    def start(self) -> None:
        if self._count:
            self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(30)


def run(settings: Settings, db: Database, processes: int) -> None:
    """Serve with `processes` web processes (2 or more) until SIGTERM or Ctrl-C."""
    import uvicorn
    from sqlalchemy import text

    with db.engine.connect() as conn:
        max_connections = int(conn.execute(text("SHOW max_connections")).scalar_one())
    if warning := check_connections(processes, settings, max_connections):
        log.warning(warning)
    db.watch(settings.db_watchdog_seconds)  # the children watch too; the first to see it wins
    os.environ[_SETTINGS_ENV] = _child_settings(settings)
    workers = _Workers(db, settings)
    try:
        workers.start()
        uvicorn.run(f"{__name__}:child_app", factory=True, workers=processes,
                    host=settings.host, port=settings.port, log_level=settings.log_level,
                    proxy_headers=False)
    finally:
        workers.stop()
        db.close()
