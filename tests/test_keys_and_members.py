from __future__ import annotations

import uuid

import pytest

from coreviz_studio.accounts import members
from coreviz_studio.accounts import service as accounts

PASSWORD = "correct horse battery"


@pytest.fixture
def org(make_member):  # type: ignore[no-untyped-def]
    """An organization with an owner, an admin, a member and a viewer."""
    name = f"team-{uuid.uuid4().hex[:6]}"
    people = {role: make_member(org=name, role=role)
              for role in ("owner", "admin", "member", "viewer")}
    assert len({p.org_id for p in people.values()}) == 1
    return people


def test_api_keys_create_list_delete(client, org, settings) -> None:  # type: ignore[no-untyped-def]
    admin = org["admin"]
    r = client.post("/api/auth/api-key/create", headers=admin.headers,
                    json={"name": "ci", "expiresIn": 3600})
    assert r.status_code == 200, r.text
    created = r.json()
    secret = created["key"]
    assert secret.startswith("cvz_") and created["name"] == "ci" and created["enabled"]
    assert created["start"] == secret[:12] and created["expiresAt"]
    assert client.get("/api/me", headers={"x-api-key": secret}).status_code == 200

    listed = client.get("/api/auth/api-key/list", headers=admin.headers).json()
    assert created["id"] in [k["id"] for k in listed]
    assert all("key" not in k for k in listed)
    assert secret not in str(listed)
    # A member sees only their own keys and cannot manage any.
    member = org["member"]
    mine = client.get("/api/auth/api-key/list", headers=member.headers).json()
    assert {k["userId"] for k in mine} == {str(member.user_id)}
    assert client.post("/api/auth/api-key/create", headers=member.headers,
                       json={"name": "x"}).status_code == 403
    assert client.post("/api/auth/api-key/delete", headers=member.headers,
                       json={"keyId": created["id"]}).status_code == 403

    r = client.post("/api/auth/api-key/delete", headers=admin.headers,
                    json={"keyId": created["id"]})
    assert r.json() == {"success": True}
    assert client.get("/api/me", headers={"x-api-key": secret}).status_code == 401
    listed = client.get("/api/auth/api-key/list", headers=admin.headers).json()
    assert next(k for k in listed if k["id"] == created["id"])["enabled"] is False


def test_an_owners_key_is_revoked_only_by_an_owner(client, org) -> None:  # type: ignore[no-untyped-def]
    owner, admin = org["owner"], org["admin"]
    keys = {k["userId"]: k["id"] for k in client.get("/api/auth/api-key/list",
                                                      headers=admin.headers).json()}
    r = client.post("/api/auth/api-key/delete", headers=admin.headers,
                    json={"keyId": keys[str(owner.user_id)]})
    assert r.status_code == 403 and "owner" in r.json()["message"]
    assert client.get("/api/me", headers=owner.headers).status_code == 200  # still works
    # an owner may revoke an admin's key
    r = client.post("/api/auth/api-key/delete", headers=owner.headers,
                    json={"keyId": keys[str(admin.user_id)]})
    assert r.status_code == 200 and client.get("/api/me", headers=admin.headers).status_code == 401


def test_other_organization_keys_are_not_found(client, org, make_member) -> None:  # type: ignore[no-untyped-def]
    outsider = make_member()
    theirs = client.post("/api/auth/api-key/create", headers=outsider.headers,
                         json={"name": "theirs"}).json()
    r = client.post("/api/auth/api-key/delete", headers=org["owner"].headers,
                    json={"keyId": theirs["id"]})
    assert r.status_code == 404
    assert client.get("/api/me", headers={"x-api-key": theirs["key"]}).status_code == 200


def test_members_and_roles(client, org, make_member) -> None:  # type: ignore[no-untyped-def]
    owner, admin, viewer = org["owner"], org["admin"], org["viewer"]
    listed = client.get("/api/auth/organization/list-members", headers=viewer.headers).json()
    assert listed["total"] == 4
    assert {m["role"] for m in listed["members"]} == {"owner", "admin", "member", "viewer"}

    org_name = client.get("/api/me", headers=owner.headers).json()["organizationName"]
    newcomer = make_member(org=org_name, role="viewer")
    listed = client.get("/api/auth/organization/list-members", headers=admin.headers).json()
    added = next(m for m in listed["members"] if m["user"]["email"] == newcomer.email)
    assert added["role"] == "viewer"
    assert client.post("/api/auth/organization/invite-member", headers=admin.headers,
                       json={"email": newcomer.email}).status_code == 409
    # Only admins manage members; only owners make owners.
    assert client.post("/api/auth/organization/invite-member", headers=viewer.headers,
                       json={"email": "x@example.org"}).status_code == 403
    r = client.post("/api/auth/organization/update-member-role", headers=admin.headers,
                    json={"memberId": added["id"], "role": "owner"})
    assert r.status_code == 403
    r = client.post("/api/auth/organization/update-member-role", headers=admin.headers,
                    json={"memberId": added["id"], "role": "member"})
    assert r.json()["role"] == "member"
    r = client.post("/api/auth/organization/update-member-role", headers=admin.headers,
                    json={"memberId": added["id"], "role": "emperor"})
    assert r.status_code == 422
    # The last owner stays.
    r = client.post("/api/auth/organization/update-member-role", headers=owner.headers,
                    json={"memberId": str(owner.user_id), "role": "admin"})
    assert r.status_code == 409
    # A removed member's key stops working at once.
    r = client.post("/api/auth/organization/remove-member", headers=admin.headers,
                    json={"memberIdOrEmail": viewer.email})
    assert r.status_code == 200 and r.json()["member"]["user"]["email"] == viewer.email
    assert client.get("/api/me", headers=viewer.headers).status_code == 401
    r = client.post("/api/auth/organization/remove-member", headers=admin.headers,
                    json={"memberIdOrEmail": owner.email})
    assert r.status_code == 403


def test_several_organizations_and_explicit_switching(client, make_member, database) -> None:  # type: ignore[no-untyped-def]
    first = make_member(org=f"a-{uuid.uuid4().hex[:6]}")
    other_owner = make_member(org=f"b-{uuid.uuid4().hex[:6]}")
    with database.sessions() as s:
        # The operator's direct add (`coreviz-studio members add`): it leaves the user's
        # active organization as it was.
        members.add_member(s, other_owner.org_id, first.email, "member")
        accounts.set_password(s, first.email, PASSWORD)
        s.commit()
    token = client.post("/api/auth/sign-in/email",
                        json={"email": first.email, "password": PASSWORD}).json()["token"]
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    orgs = client.get("/api/auth/organization/list", headers=bearer).json()
    assert {o["id"] for o in orgs} == {str(first.org_id), str(other_owner.org_id)}
    assert client.get("/api/me", headers=bearer).json()["organizationId"] == str(first.org_id)
    r = client.post("/api/auth/organization/set-active", headers=bearer,
                    json={"organizationId": str(other_owner.org_id)})
    assert r.status_code == 200 and r.json()["role"] == "member"
    me = client.get("/api/me", headers=bearer).json()
    assert me["organizationId"] == str(other_owner.org_id) and me["role"] == "member"
    # An API key stays with its organization; an organization one is not in is not found.
    r = client.post("/api/auth/organization/set-active", headers=first.headers,
                    json={"organizationId": str(other_owner.org_id)})
    assert r.status_code == 403  # the credential cannot do it, whatever the body
    r = client.post("/api/auth/organization/set-active", headers=bearer,
                    json={"organizationId": str(uuid.uuid4())})
    assert r.status_code == 404


def test_emails_match_whatever_their_case(client, org) -> None:  # type: ignore[no-untyped-def]
    admin = org["admin"]
    invite = lambda email: client.post("/api/auth/organization/invite-member",  # noqa: E731
                                       headers=admin.headers, json={"email": email})
    first = invite("Çedric@example.org")
    assert first.status_code == 200
    # Inviting again renews the one pending invitation, whatever the case of the email.
    assert invite("Çedric@example.org").json()["id"] == first.json()["id"]
    assert invite("ÇEDRIC@EXAMPLE.ORG").json()["id"] == first.json()["id"]
    assert invite(org["member"].email.upper()).status_code == 409  # already a member
    assert invite("bad\u0006@example.org").status_code == 422
