"""An external PostgreSQL whose login role owns the schema but is no superuser (a managed
database): request sessions still see one organization only, and system work (which item holds
a blob, the sweep's check) sees every organization's rows (migration 0009)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from coreviz_studio.blobs import refs
from coreviz_studio.config import Settings
from coreviz_studio.db.migrate import upgrade
from coreviz_studio.db.rls import APP_ROLE, scope_session
from coreviz_studio.db.session import Database, open_database


@pytest.fixture
def owner_database(pg_url: str, database: Database, tmp_path: Path) -> Iterator[Database]:
    """A database owned by a new NOSUPERUSER NOBYPASSRLS login, migrated by it. What a DBA does
    first is done as the superuser: the extensions, and letting the owner hand out the app role
    (the app role is cluster-wide and exists already, made by the test database's migration)."""
    suffix = uuid.uuid4().hex[:8]
    owner, name = f"cvs_owner_{suffix}", f"cvs_ext_{suffix}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {owner} LOGIN NOSUPERUSER NOBYPASSRLS CREATEROLE")
        conn.execute(f"CREATE DATABASE {name} OWNER {owner}")
        conn.execute(f"GRANT {APP_ROLE} TO {owner} WITH ADMIN OPTION")
    base = make_url(pg_url)
    superuser_url = base.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(superuser_url.replace("postgresql+psycopg", "postgresql"),
                         autocommit=True) as conn:
        for extension in ("vector", "ltree", "pg_trgm"):
            conn.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
    url = base.set(username=owner, database=name).render_as_string(hide_password=False)
    db = open_database(Settings(data_dir=tmp_path / "data", database_url=url, workers=0))
    upgrade(db.engine)
    yield db
    db.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
        conn.execute(f"REVOKE {APP_ROLE} FROM {owner} CASCADE")  # with what it granted on
        conn.execute(f"DROP ROLE {owner}")


def test_system_work_sees_every_row_and_requests_see_their_own(owner_database) -> None:  # type: ignore[no-untyped-def]
    db = owner_database
    with db.system_sessions() as s:
        assert s.scalar(text("SELECT rolsuper OR rolbypassrls FROM pg_roles "
                             "WHERE rolname = current_user")) is False
    orgs = [uuid.uuid4(), uuid.uuid4()]
    for org in orgs:
        with db.sessions() as s:
            s.execute(text("INSERT INTO organizations (id, name, slug) VALUES (:i, :n, :n)"),
                      {"i": org, "n": f"org-{org.hex[:8]}"})
            scope_session(s, org)
            s.execute(text("INSERT INTO datasets (id, organization_id, name) "
                           "VALUES (:i, :o, 'Photos')"), {"i": uuid.uuid4(), "o": org})
            s.commit()
    with db.sessions() as s:  # a request: its organization only
        scope_session(s, orgs[0])
        assert s.scalar(text("SELECT count(*) FROM datasets WHERE organization_id = "
                             "ANY(:o)"), {"o": orgs}) == 1
    with db.system_sessions() as s:  # system work: every organization
        assert s.scalar(text("SELECT count(*) FROM datasets WHERE organization_id = "
                             "ANY(:o)"), {"o": orgs}) == 2
    assert refs.sees_every_row(db)  # so the sweep runs here
