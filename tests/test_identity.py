from __future__ import annotations


def test_me(client, make_member) -> None:  # type: ignore[no-untyped-def]
    m = make_member()
    r = client.get("/api/me", headers=m.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["userId"] == str(m.user_id)
    assert body["email"] == m.email
    assert body["name"] == "Test User"
    assert body["organizationId"] == str(m.org_id)
    assert body["organizationName"].startswith("org-")
    assert body["role"] == "owner"


def test_organization_list_shows_every_membership(client, make_member, database) -> None:  # type: ignore[no-untyped-def]
    from coreviz_studio.accounts import service as accounts

    m = make_member()
    other = make_member()
    other_name = client.get("/api/me", headers=other.headers).json()["organizationName"]
    with database.sessions() as s:
        org = accounts.find_organization(s, other_name)
        user = accounts.find_user(s, m.email)
        accounts.add_member(s, org, user, "viewer")
        s.commit()
    orgs = client.get("/api/auth/organization/list", headers=m.headers).json()
    assert [(o["id"], o["role"]) for o in orgs] == [(str(m.org_id), "owner"),
                                                     (str(other.org_id), "viewer")]
    assert all({"id", "name", "slug"} <= o.keys() for o in orgs)
    # /api/me still answers for the organization of the key
    assert client.get("/api/me", headers=m.headers).json()["organizationId"] == str(m.org_id)
    # the other member sees only their own
    assert [o["id"] for o in client.get("/api/auth/organization/list",
                                        headers=other.headers).json()] == [str(other.org_id)]


def test_slugify_makes_plain_ascii_slugs() -> None:
    from coreviz_studio.accounts.service import slugify

    assert slugify("Ünïcode Team!  2") == "unicode-team-2"
    assert slugify("🙂") == "org"
