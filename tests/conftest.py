"""One embedded PostgreSQL per test process, handed to the app as DATABASE_URL (so the external
database path is the one under test).

The suite runs in parallel (pytest-xdist, see addopts in pyproject.toml): each worker process
(gw0, gw1, ...) starts its own cluster in its own temp dir (Unix socket only, so no ports to
share) and migrates it, and its tests run one at a time against it. A serial run
(`-p no:xdist` or `-n 0`) is one such process. Within a database, each test makes its own
organizations and media and only looks at, changes or runs what is its own (tests/jobs.py
`drain` runs only the given media's jobs), so tests don't see each other's rows."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from coreviz_studio.accounts import service as accounts
from coreviz_studio.app import create_app
from coreviz_studio.auth import service as auth
from coreviz_studio.config import Settings
from coreviz_studio.db.embedded import EmbeddedPostgres
from coreviz_studio.db.migrate import upgrade
from coreviz_studio.db.session import Database, open_database


def xdist_worker() -> str:
    """This process's xdist worker id (gw0, gw1, ...), or "main" in a serial run."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def private_tmpdir(prefix: str) -> Path:
    """A temp dir the database user can traverse (0711) when tests run as root; its name says
    which worker made it."""
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{xdist_worker()}-"))
    path.chmod(0o711)
    return path


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """With xdist disabled (`-p no:xdist`), accept and ignore the xdist options that addopts
    passes, so that such a run is simply serial."""
    if not pluginmanager.has_plugin("xdist"):
        group = parser.getgroup("xdist", "xdist disabled: these options are ignored")
        group._addoption("-n", "--numprocesses", dest="numprocesses", default=None)
        group.addoption("--dist", dest="dist", default="no")
        group.addoption("--no-loadscope-reorder", dest="loadscopereorder",
                        action="store_false", default=True)


def migrate_test_database(database: Database) -> None:
    """Give the test database its schema: the one place it is migrated."""
    upgrade(database.engine)


_SHARED_SCOPES = ("class", "module", "package")


def _shares_setup(item: pytest.Item) -> bool:
    """Whether the test uses a fixture set up once for its class, module or package."""
    info = getattr(item, "_fixtureinfo", None)
    return info is not None and any(
        defs and defs[-1].scope in _SHARED_SCOPES for defs in info.name2fixturedefs.values())


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """How a parallel run (`--dist loadgroup`) shares the tests out, in the order they are sent.

    - The tests of a file with a module-scoped (or class-scoped) fixture, the sign of an
      expensive setup (models loaded, media processed), stay together on one worker, so that
      setup is done once; any other test goes to whichever worker is free. (An explicit
      `@pytest.mark.xdist_group` is kept as it is.)
    - The tests that drive real server processes (`slow`) go first, then those groups, so the
      longest pieces of work start early instead of being the last ones left running.
    Otherwise the collection order is kept."""
    def file_of(item: pytest.Item) -> str:
        return item.nodeid.split("::", 1)[0]

    together = {file_of(item) for item in items if _shares_setup(item)}
    for item in items:
        if item.get_closest_marker("xdist_group") is None and file_of(item) in together:
            item.add_marker(pytest.mark.xdist_group(file_of(item)))

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("slow") is not None:
            return 0
        return 1 if item.get_closest_marker("xdist_group") is not None else 2

    items.sort(key=rank)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The libpq URL of this process's own embedded PostgreSQL (one per xdist worker)."""
    root = private_tmpdir("cvs-test-pg-")
    pg = EmbeddedPostgres(root)
    url = pg.acquire()
    os.environ["DATABASE_URL"] = url
    yield url
    os.environ.pop("DATABASE_URL", None)
    pg.release()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def settings(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # No in-process worker: tests run jobs when they mean to (tests/jobs.py `drain`).
    # tmp_path_factory is per xdist worker, so is the data dir.
    return Settings(database_url=pg_url, data_dir=tmp_path_factory.mktemp("data"), workers=0)


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[Database]:
    db = open_database(settings)
    migrate_test_database(db)
    yield db
    db.close()


@pytest.fixture(scope="session")
def client(settings: Settings, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database), raise_server_exceptions=False) as c:
        yield c


@dataclass
class Member:
    user_id: uuid.UUID
    org_id: uuid.UUID
    email: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.key}


def _member_factory(database: Database):  # type: ignore[no-untyped-def]
    def make(org: str | None = None, role: str | None = None) -> Member:
        email = f"u-{uuid.uuid4().hex[:10]}@example.org"
        with database.sessions() as s:
            new = accounts.enroll(s, email, "Test User", org or f"org-{uuid.uuid4().hex[:8]}",
                                  role=role)
            s.commit()
        return Member(new.user.id, new.organization.id, email, new.api_key)

    return make


@pytest.fixture
def make_member(database: Database):  # type: ignore[no-untyped-def]
    """make_member(org=None, role=None) -> a new user (in a new org unless `org` is given)."""
    return _member_factory(database)


@pytest.fixture(scope="module")
def make_member_module(database: Database):  # type: ignore[no-untyped-def]
    """make_member for module-scoped fixtures (work shared by a module's tests)."""
    return _member_factory(database)


@pytest.fixture
def make_session_token(database: Database):  # type: ignore[no-untyped-def]
    def make(member: Member, ttl: timedelta = timedelta(hours=1)) -> str:
        with database.sessions() as s:
            _, token = auth.create_session(s, member.user_id, member.org_id, ttl)
            s.commit()
        return token

    return make
