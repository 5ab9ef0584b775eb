"""Row-level security: the database's own wall between organizations (see db/rls.py).

The application's sessions run as `coreviz_app` (NOSUPERUSER, NOBYPASSRLS): it may read and write
the tables, and every table of library data shows it only the rows of the organization in the
transaction's `app.organization_id` (and, for a collection-scoped API key, only the collections
in `app.dataset_ids`). FORCE applies the policies to the tables' owner too; a superuser (the
embedded database's `postgres`, used for migrations and operator commands) still bypasses them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "coreviz_app"
# Each setting is read in a scalar subquery: PostgreSQL computes it once per query (an InitPlan)
# instead of once per row, which a count over 100,000 rows pays for (bench/browse.py).
_ORG = "organization_id = (SELECT coreviz_current_org())"
_SCOPE = "(SELECT coreviz_dataset_scope())"
_SCOPED = f"{_SCOPE} IS NULL"
_IN_SCOPE = f"ANY ({_SCOPE}::uuid[])"  # the cast makes it an array, not ANY (subquery)
# table -> who passes the collection scope of a scoped key
_POLICIES = {
    "datasets": f"{_ORG} AND ({_SCOPED} OR id = {_IN_SCOPE})",
    "media": f"{_ORG} AND ({_SCOPED} OR dataset_id = {_IN_SCOPE})",
    "objects": f"{_ORG} AND ({_SCOPED} OR dataset_id = {_IN_SCOPE})",
    "embeddings": f"{_ORG} AND ({_SCOPED} OR dataset_id = {_IN_SCOPE})",
    "clusters": f"{_ORG} AND ({_SCOPED} OR dataset_id = {_IN_SCOPE})",
    # Frames and captions follow their media (whose own policy applies inside the subquery).
    "frames": f"{_ORG} AND ({_SCOPED} OR EXISTS (SELECT 1 FROM media m "
              "WHERE m.id = frames.media_id))",
    "captions": f"{_ORG} AND ({_SCOPED} OR EXISTS (SELECT 1 FROM frames f "
                "WHERE f.id = captions.frame_id))",
}


# Under row-level security PostgreSQL uses a query's condition as an index condition only if
# every function in it is LEAKPROOF (it must not see rows the policy hides). These are the
# functions of our ltree (folders: `path <@`, and a folder's listing by
# `subpath(path, 0, nlevel(path) - 1) = container`), full-text and trigram (search) indexes.
# None raises an error that depends on a row our expressions give them (subpath and int4mi only
# for positions outside a path or an overflow, which nlevel - 1 never asks for), and every query
# is our own code, so no caller's function can watch hidden rows go by. ALTER FUNCTION changes
# this database only, and needs a superuser (the embedded database's); elsewhere they stay as
# they are, and those filters run after the policy instead of inside the index (slower, not
# less safe).
_LEAKPROOF = ("ltree_risparent(ltree, ltree)", "ltree_isparent(ltree, ltree)",
              "ltree_eq(ltree, ltree)", "ltree_ne(ltree, ltree)",
              "subpath(ltree, integer, integer)", "nlevel(ltree)", "int4mi(integer, integer)",
              "ts_match_vq(tsvector, tsquery)", "similarity_op(text, text)",
              "word_similarity_op(text, text)", "word_similarity_commutator_op(text, text)")


def upgrade() -> None:
    # Roles belong to the cluster, not the database: another database may have made it.
    op.execute(f"""
        DO $$ BEGIN
            CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
        EXCEPTION WHEN duplicate_object THEN NULL;
        END $$""")
    # Only a role that has them loses them: changing SUPERUSER at all needs a superuser, which
    # the owner of an external database often is not (tests/test_external_owner.py).
    op.execute(f"""
        DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}'
                       AND (rolsuper OR rolbypassrls)) THEN
                ALTER ROLE {APP_ROLE} NOSUPERUSER NOBYPASSRLS;
            END IF;
        END $$""")
    # A login role that is not a superuser switches to the app role with SET ROLE.
    op.execute(f"GRANT {APP_ROLE} TO CURRENT_USER")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
               f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
               f"GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {APP_ROLE}")
    # Unset (or reset to '' after SET LOCAL ends) means no organization: no rows.
    op.execute("""
        CREATE OR REPLACE FUNCTION coreviz_current_org() RETURNS uuid
        LANGUAGE sql STABLE PARALLEL SAFE
        AS $$ SELECT NULLIF(current_setting('app.organization_id', true), '')::uuid $$""")
    op.execute("""
        CREATE OR REPLACE FUNCTION coreviz_dataset_scope() RETURNS uuid[]
        LANGUAGE sql STABLE PARALLEL SAFE
        AS $$ SELECT NULLIF(current_setting('app.dataset_ids', true), '')::uuid[] $$""")
    alters = "; ".join(f"ALTER FUNCTION {f} LEAKPROOF" for f in _LEAKPROOF)
    op.execute(f"""
        DO $$ BEGIN
            IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN {alters};
            ELSE RAISE NOTICE 'not a superuser: search and folder filters run after the policy';
            END IF;
        END $$""")
    for table, rule in _POLICIES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({rule}) "
                   f"WITH CHECK ({rule})")


def downgrade() -> None:
    for table in _POLICIES:
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION IF EXISTS coreviz_dataset_scope()")
    op.execute("DROP FUNCTION IF EXISTS coreviz_current_org()")
