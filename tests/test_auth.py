from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from coreviz_studio.auth import service as auth
from coreviz_studio.db.tables import ApiKey

UNAUTHORIZED = {"error": "Unauthorized", "message": "Invalid or missing API key"}


@pytest.mark.parametrize("headers", [
    {},
    {"x-api-key": ""},
    {"x-api-key": "cvz_not-a-real-key"},
    {"x-api-key": "garbage"},
    {"authorization": "Bearer "},
    {"authorization": "Basic dXNlcjpwYXNz"},
    {"authorization": "Bearer cvz_wrong"},
])
def test_missing_or_invalid_credentials_get_the_seed_401(client, headers) -> None:  # type: ignore[no-untyped-def]
    for path in ("/api/me", "/api/auth/organization/list",
                 "/api/dataset/00000000-0000-4000-8000-000000000000"):
        r = client.get(path, headers=headers)
        assert r.status_code == 401, (path, headers)
        assert r.json() == UNAUTHORIZED


def test_api_key_as_bearer(client, make_member) -> None:  # type: ignore[no-untyped-def]
    m = make_member()
    r = client.get("/api/me", headers={"authorization": f"Bearer {m.key}"})
    assert r.status_code == 200 and r.json()["userId"] == str(m.user_id)


def test_session_bearer_token(client, make_member, make_session_token) -> None:  # type: ignore[no-untyped-def]
    m = make_member()
    token = make_session_token(m)
    r = client.get("/api/me", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["organizationId"] == str(m.org_id)
    expired = make_session_token(m, ttl=timedelta(seconds=-1))
    r = client.get("/api/me", headers={"authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and r.json()["error"] == "Unauthorized"


def test_revoked_key_is_refused_at_once(client, make_member, database) -> None:  # type: ignore[no-untyped-def]
    m = make_member()
    assert client.get("/api/me", headers=m.headers).status_code == 200
    with database.sessions() as s:
        auth.revoke_api_key(s, m.org_id, m.key[:12])
        s.commit()
    r = client.get("/api/me", headers=m.headers)
    assert r.status_code == 401 and r.json() == UNAUTHORIZED


def test_keys_are_stored_hashed_and_use_is_recorded(client, make_member, database) -> None:  # type: ignore[no-untyped-def]
    m = make_member()
    with database.sessions() as s:
        row = s.scalars(select(ApiKey).where(ApiKey.user_id == m.user_id)).one()
        assert row.last_used_at is None
        assert m.key not in (row.key_hash, row.prefix) and m.key.startswith(row.prefix)
    client.get("/api/me", headers=m.headers)
    with database.sessions() as s:
        row = s.scalars(select(ApiKey).where(ApiKey.user_id == m.user_id)).one()
        assert row.last_used_at is not None


def test_key_of_a_member_who_left_is_refused(client, make_member, database) -> None:  # type: ignore[no-untyped-def]
    from coreviz_studio.db.tables import Membership

    m = make_member()
    with database.sessions() as s:
        s.execute(Membership.__table__.delete().where(Membership.user_id == m.user_id))
        s.commit()
    assert client.get("/api/me", headers=m.headers).status_code == 401


def test_password_hashing_round_trip(real_password_hashing) -> None:  # type: ignore[no-untyped-def]
    from argon2 import extract_parameters

    from coreviz_studio.auth.secrets import hash_password, verify_password

    h = hash_password("correct horse")
    assert h.startswith("$argon2id$")
    used = extract_parameters(h)  # RFC 9106's low-memory profile
    assert (used.time_cost, used.memory_cost, used.parallelism) == (3, 65536, 4)
    assert verify_password(h, "correct horse")
    assert not verify_password(h, "wrong horse")
    assert not verify_password(None, "anything")


def test_a_key_in_use_by_another_request_never_waits_for_it(make_member, database) -> None:  # type: ignore[no-untyped-def]
    """Noting a key's use locks its row until the request's transaction ends; a second request
    of the same key at that moment must pass by, not queue (under load every request did)."""
    from sqlalchemy import text

    m = make_member()
    with database.sessions() as first, database.sessions() as second:
        assert auth.authenticate(first, m.key, None).user_id == m.user_id  # holds the row now
        second.execute(text("SET LOCAL lock_timeout = '2s'"))  # a wait fails instead of hanging
        assert auth.authenticate(second, m.key, None).user_id == m.user_id
        second.commit()
        used = first.scalars(select(ApiKey.last_used_at).where(ApiKey.user_id == m.user_id)).one()
        first.commit()
    assert used is not None
