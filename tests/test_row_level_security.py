"""The database's wall: row-level security shows a session only its organization's rows,
whatever the query forgets to say."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from coreviz_studio.db.rls import APP_ROLE, scope_session
from tests.walls_world import Org, make_org

# Tables that belong to accounts, not to a library: looked up before the organization is known
# (a key by its hash, an invitation by its invitee), so they are walled by the service layer.
ACCOUNT_TABLES = {"organizations", "users", "memberships", "api_keys", "sessions",
                  "device_codes", "invitations"}


@pytest.fixture(scope="module")
def orgs(shared_client, make_member_module, settings, database) -> tuple[Org, Org]:  # type: ignore[no-untyped-def]
    return (make_org(shared_client, make_member_module, settings, database),
            make_org(shared_client, make_member_module, settings, database))


def library_tables(database) -> list[str]:  # type: ignore[no-untyped-def]
    """Every table of ours with an organization_id: library data unless it is an account's."""
    with database.engine.connect() as c:
        names = c.execute(text(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND column_name = 'organization_id' ORDER BY table_name")).scalars().all()
    return [n for n in names if n not in ACCOUNT_TABLES]


def test_every_library_table_has_a_forced_policy(database) -> None:  # type: ignore[no-untyped-def]
    tables = library_tables(database)
    assert {"datasets", "media", "frames", "captions", "objects", "embeddings",
            "clusters"} <= set(tables)
    with database.engine.connect() as c:
        rows = {r.relname: r for r in c.execute(text(
            "SELECT relname, relrowsecurity, relforcerowsecurity, "
            "(SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies "
            "FROM pg_class c WHERE relname = ANY(:t)"), {"t": tables})}
    for table in tables:
        row = rows[table]
        assert row.relrowsecurity and row.relforcerowsecurity and row.policies >= 1, table


def test_the_application_role_cannot_bypass_it(database) -> None:  # type: ignore[no-untyped-def]
    with database.sessions() as s:
        user, superuser, bypass = s.execute(text(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles "
            "WHERE rolname = current_user")).one()
        assert (user, superuser, bypass) == (APP_ROLE, False, False)
        with pytest.raises(DBAPIError):  # nor turn it off for itself
            s.execute(text("SET row_security = off; SELECT count(*) FROM media"))


def test_an_unscoped_query_sees_no_other_organization(orgs, database) -> None:  # type: ignore[no-untyped-def]
    a, b = orgs
    for table in library_tables(database):
        query = text(f"SELECT organization_id FROM {table}")  # deliberately no WHERE  # noqa: S608
        with database.system_sessions() as s:  # the owner sees both: the data is there
            owners = set(s.execute(query).scalars())
        assert {a.owner.org_id, b.owner.org_id} <= owners, table
        for org in (a, b):
            with database.sessions() as s:
                scope_session(s, org.owner.org_id)
                seen = set(s.execute(query).scalars())
            assert seen == {org.owner.org_id}, table
        with database.sessions() as s:  # a session scoped to nobody sees nothing
            assert s.execute(query).first() is None, table


def test_a_scope_survives_commits_and_never_outlives_its_session(orgs, database) -> None:  # type: ignore[no-untyped-def]
    a, _ = orgs
    media = text("SELECT DISTINCT organization_id FROM media")
    with database.sessions() as s:
        scope_session(s, a.owner.org_id)
        assert set(s.execute(media).scalars()) == {a.owner.org_id}
        s.commit()  # a new transaction: the scope is applied again
        assert set(s.execute(media).scalars()) == {a.owner.org_id}
    # the pooled connection that served it carries nothing into the next session
    for _ in range(3):
        with database.sessions() as s:
            assert s.execute(media).first() is None


def test_a_scope_is_set_once_per_transaction_and_holds_in_its_savepoints(  # type: ignore[no-untyped-def]
        orgs, database) -> None:
    from sqlalchemy import event

    a, b = orgs
    media = text("SELECT DISTINCT organization_id FROM media")
    sets: list[str] = []

    def count(conn, cursor, statement, *_):  # type: ignore[no-untyped-def]
        if "set_config" in statement:
            sets.append(statement)

    engine = database.sessions.kw["bind"]  # the application role's
    event.listen(engine, "before_cursor_execute", count)
    try:
        with database.sessions.begin() as s:  # scoped before its connection begins
            scope_session(s, a.owner.org_id)
            assert set(s.execute(media).scalars()) == {a.owner.org_id}
            with s.begin_nested():
                assert set(s.execute(media).scalars()) == {a.owner.org_id}
            nested = s.begin_nested()
            s.execute(text("SELECT 1"))
            nested.rollback()  # the scope was set before the savepoint: it stays
            assert set(s.execute(media).scalars()) == {a.owner.org_id}
        assert len(sets) == 1, sets
        with database.sessions() as s:  # scoped after its connection began: set then
            assert s.execute(media).first() is None
            scope_session(s, b.owner.org_id)
            assert set(s.execute(media).scalars()) == {b.owner.org_id}
            scope_session(s, a.owner.org_id)  # and again when it changes
            assert set(s.execute(media).scalars()) == {a.owner.org_id}
        assert len(sets) == 3, sets
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_writes_into_another_organization_are_refused(orgs, database) -> None:  # type: ignore[no-untyped-def]
    a, b = orgs
    with database.sessions() as s:
        scope_session(s, a.owner.org_id)
        # an update that forgets its organization touches only the caller's rows
        changed = s.execute(text("UPDATE media SET name = name WHERE id = :m"),
                            {"m": uuid.UUID(b.media["id"])}).rowcount
        assert changed == 0
        with pytest.raises(DBAPIError, match="row-level security"):
            s.execute(text("UPDATE media SET organization_id = :b WHERE id = :m"),
                      {"b": b.owner.org_id, "m": uuid.UUID(a.media["id"])})
        s.rollback()
        scope_session(s, a.owner.org_id)
        with pytest.raises(DBAPIError, match="row-level security"):
            s.execute(text("INSERT INTO datasets (id, organization_id, name) "
                           "VALUES (:i, :b, 'planted')"),
                      {"i": uuid.uuid4(), "b": b.owner.org_id})


def test_a_collection_scope_hides_the_other_collections(orgs, database, client) -> None:  # type: ignore[no-untyped-def]
    a, _ = orgs
    other = client.post(f"/api/organization/{a.owner.org_id}/datasets",
                        headers=a.owner.headers, json={"name": "Other"}).json()["id"]
    for scope, expected in (([uuid.UUID(a.library.id)], {a.library.id}),
                            ([uuid.UUID(other)], {other}), ([], set())):
        with database.sessions() as s:
            scope_session(s, a.owner.org_id, scope)
            seen = {str(d) for d in s.execute(text("SELECT id FROM datasets")).scalars()}
            media = {str(d) for d in s.execute(text("SELECT dataset_id FROM media")).scalars()}
            frames = s.execute(text("SELECT count(*) FROM frames")).scalar()
        assert seen == expected
        assert media <= expected and (a.library.id in media) == (a.library.id in expected)
        assert (frames > 0) == (a.library.id in expected)


def test_a_folder_filter_still_uses_its_index(orgs, database) -> None:  # type: ignore[no-untyped-def]
    """Under a policy only leakproof conditions may become index conditions; the migration
    marks our index operators leakproof, or every folder browse would scan the organization."""
    a, _ = orgs
    plan = _plan_under_policy(database, a.owner.org_id,
                              "SELECT id FROM media WHERE path <@ CAST(:root AS ltree)",
                              {"root": a.library.root})
    assert "media_path_gist" in plan and "Index Cond" in plan, plan


def test_a_folder_listing_still_uses_its_index(orgs, database) -> None:  # type: ignore[no-untyped-def]
    """The listing of one folder (its children by parent path) under the policy: the
    children index, not a scan of the organization's media."""
    a, _ = orgs
    plan = _plan_under_policy(
        database, a.owner.org_id,
        "SELECT count(*) FROM media WHERE dataset_id = :ds AND status = 'active' "
        "AND is_active_version AND subpath(path, 0, nlevel(path) - 1) = CAST(:root AS ltree)",
        {"ds": uuid.UUID(a.library.id), "root": a.library.root},
        # On a few rows an index on dataset_id alone, filtering the path, is as cheap (CI
        # picked media_visible_idx once): the question is whether the children index CAN be used.
        also_drop=("media_visible_idx", "media_browse_idx"))
    assert "media_children_" in plan and "Index Cond" in plan, plan  # either children index
    assert "subpath" in plan.split("Index Cond", 1)[1].split("\n", 1)[0], plan


def test_search_operators_may_run_inside_their_indexes(database) -> None:  # type: ignore[no-untyped-def]
    """Full text (@@) and trigram (<%) conditions can use their GIN indexes under the policy
    only if their functions are leakproof (the planner refuses others as index conditions)."""
    with database.engine.connect() as c:
        rows = dict(c.execute(text(
            "SELECT o.oprname || ' ' || format_type(o.oprleft, NULL), p.proleakproof "
            "FROM pg_operator o JOIN pg_proc p ON p.oid = o.oprcode WHERE "
            "(o.oprname = '@@' AND o.oprleft = 'tsvector'::regtype) OR "
            "(o.oprname IN ('<%', '%>', '%') AND o.oprleft = 'text'::regtype) OR "
            "(o.oprname IN ('<@', '@>') AND o.oprleft = 'ltree'::regtype "
            " AND o.oprright = 'ltree'::regtype)")).all())
    assert rows and all(rows.values()), rows


def _plan_under_policy(database, org_id, query: str, params: dict,  # type: ignore[no-untyped-def, type-arg]
                       also_drop: tuple[str, ...] = ()) -> str:
    """EXPLAIN `query` as the app role under the policy. Whether the planner CAN use a folder
    index must not depend on whether it PREFERS an index on organization_id for the few rows a
    test has (it did, after an ANALYZE): those are dropped inside this transaction, which is
    rolled back, with `also_drop`."""
    with database.system_sessions() as s:
        leading = s.scalars(text(
            "SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_attribute a "
            "ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
            "WHERE i.indrelid = 'media'::regclass AND a.attname = 'organization_id' "
            "AND NOT i.indisprimary AND NOT i.indisunique")).all()
        for name in [*leading, *also_drop]:
            s.execute(text(f"DROP INDEX {name}"))
        s.execute(text(f"SET LOCAL ROLE {APP_ROLE}"))
        scope_session(s, org_id)
        s.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(s.execute(text("EXPLAIN " + query), params).scalars())
        s.rollback()
    return plan
