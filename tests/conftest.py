"""One embedded PostgreSQL per test session, handed to the app as DATABASE_URL (so the external
database path is the one under test); each test makes its own organizations, so tests don't
see each other's rows."""

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


def private_tmpdir(prefix: str) -> Path:
    """A temp dir the database user can traverse (0711) when tests run as root."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o711)
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
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
    # No in-process worker: tests run jobs when they mean to (tests/pipeline_helpers.py).
    return Settings(database_url=pg_url, data_dir=tmp_path_factory.mktemp("data"), workers=0)


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[Database]:
    db = open_database(settings)
    upgrade(db.engine)
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
