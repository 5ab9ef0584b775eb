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
from typing import TYPE_CHECKING

import psycopg
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from coreviz_studio.accounts import service as accounts
from coreviz_studio.app import create_app
from coreviz_studio.auth import secrets
from coreviz_studio.auth import service as auth
from coreviz_studio.config import Settings
from coreviz_studio.db.embedded import EmbeddedPostgres
from coreviz_studio.db.migrate import upgrade
from coreviz_studio.db.session import Database, open_database
from tests.browser import (  # noqa: F401  (fixtures of the browser tests)
    browser,
    chromium_executable,
    fresh_sign_in_limits,
    studio,
    studio_page,
)

if TYPE_CHECKING:
    from tests.s3_server import MotoServer  # boto3 is imported only by tests that use S3


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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The order in which a parallel run hands out its tests, and which stay together
    (tests/xdist_schedule.py): the longest work first, so that it is not what is left running
    at the end. First the `slow` tests (real server, worker and CLI processes), then the files
    with module- or class-scoped fixtures (expensive setups, run once on one worker), then the
    rest; otherwise the collection order is kept."""
    from tests import xdist_schedule

    def file_of(item: pytest.Item) -> str:
        return xdist_schedule.file_of(item.nodeid)

    together = {file_of(item) for item in items if _shares_setup(item)}
    items.sort(key=lambda item: 0 if item.get_closest_marker("slow") is not None
               else 1 if file_of(item) in together else 2)
    xdist_schedule.report(together)


def pytest_configure(config: pytest.Config) -> None:
    if _parallel(config):  # the controller: where workers say which files stay together
        from tests import xdist_schedule

        base = Path(tempfile.mkdtemp(prefix="cvs-test-schedule-")) / "together"
        os.environ[xdist_schedule.ENV] = str(base)  # the workers inherit it
        config.stash[_SCHEDULE] = base


def pytest_unconfigure(config: pytest.Config) -> None:
    if (base := config.stash.get(_SCHEDULE, None)) is not None:
        shutil.rmtree(base.parent, ignore_errors=True)


_SCHEDULE = pytest.StashKey[Path]()


def _parallel(config: pytest.Config) -> bool:
    """The controller of a `--dist loadfile` run (not a worker, not a serial run)."""
    return (config.pluginmanager.has_plugin("xdist") and not hasattr(config, "workerinput")
            and bool(config.getoption("numprocesses", None))
            and config.getoption("dist", "no") == "loadfile")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # type: ignore[no-untyped-def]
    if config.getoption("dist", "no") == "loadfile":
        from tests.xdist_schedule import TogetherOrAlone

        return TogetherOrAlone(config, log)
    return None


CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """argon2 at its real cost takes 0.2 s of both cores here per password set or checked, and
    the suite does that hundreds of times. In-process tests hash at argon2's lowest cost: the
    same code and format, and a hash's cost travels in the hash. Server processes always use
    the real cost; tests/test_auth.py checks it (with `real_password_hashing`)."""
    real = secrets.PASSWORD_HASHER
    secrets.PASSWORD_HASHER = CHEAP_HASHER
    yield
    secrets.PASSWORD_HASHER = real


@pytest.fixture
def real_password_hashing() -> Iterator[PasswordHasher]:
    cheap = secrets.PASSWORD_HASHER
    secrets.PASSWORD_HASHER = PasswordHasher()
    yield secrets.PASSWORD_HASHER
    secrets.PASSWORD_HASHER = cheap


def _throwaway(url: str) -> None:
    """This cluster is deleted after the run: don't wait for the disk on every commit.
    (Crash safety is tested on clusters of their own: tests/test_server_process.py.)"""
    with psycopg.connect(url, autocommit=True) as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(f"ALTER SYSTEM SET {setting} = off")
        conn.execute("SELECT pg_reload_conf()")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The libpq URL of this process's own embedded PostgreSQL (one per xdist worker)."""
    root = private_tmpdir("cvs-test-pg-")
    pg = EmbeddedPostgres(root)
    url = pg.acquire()
    if os.environ.get("CVS_TEST_DURABLE") != "1":
        _throwaway(url)
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
def shared_client(settings: Settings, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def client(shared_client: TestClient) -> Iterator[TestClient]:
    """The session's app (starting one is not free), but no test sees the cookies another
    was given (a sign-in's session cookie would make the next test signed in). Module-scoped
    fixtures take `shared_client`."""
    shared_client.cookies.clear()
    yield shared_client
    shared_client.cookies.clear()


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


PASSWORD = "correct horse battery"


@pytest.fixture
def person(make_member, database):  # type: ignore[no-untyped-def]
    """A member who signs in with PASSWORD."""
    member = make_member()
    with database.sessions() as s:
        accounts.set_password(s, member.email, PASSWORD)
        s.commit()
    return member


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """A moto_server of this test process (tests/s3_server.py), stopped at the end."""
    from tests import s3_server as moto

    server = moto.start(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.stop()
