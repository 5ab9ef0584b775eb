"""Membership by invitation: nobody is attached to an organization without accepting, and
inviting says nothing about people outside the inviting organization."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from coreviz_studio.accounts import service as accounts
from coreviz_studio.db.tables import Invitation, User
from tests import processes

PASSWORD = "correct horse battery"
INVITATION_FIELDS = {"id", "organizationId", "email", "role", "status", "inviterId",
                     "expiresAt", "createdAt"}


def _email(tag: str = "p") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.org"


@pytest.fixture
def sign_in(client, database):  # type: ignore[no-untyped-def]
    """sign_in(email) -> Bearer headers of a fresh password sign-in (a password is set)."""
    def do(email: str) -> dict[str, str]:
        with database.sessions() as s:
            accounts.set_password(s, email, PASSWORD)
            s.commit()
        r = client.post("/api/auth/sign-in/email", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        client.cookies.clear()  # the shared client must not carry this person's cookie
        return {"Authorization": f"Bearer {r.json()['token']}"}

    return do


@pytest.fixture
def person(database):  # type: ignore[no-untyped-def]
    """person() -> the email of a new user of no organization (as `users create` without
    --org makes one)."""
    def make() -> str:
        email = _email("solo")
        with database.sessions() as s:
            accounts.create_user(s, email, "Solo Person")
            s.commit()
        return email

    return make


def _invite(client, admin, email: str, role: str = "member"):  # type: ignore[no-untyped-def]
    return client.post("/api/auth/organization/invite-member", headers=admin.headers,
                       json={"email": email, "role": role})


def _users_named(database, email: str) -> int:  # type: ignore[no-untyped-def]
    with database.sessions() as s:
        return s.scalar(select(func.count()).select_from(User).where(
            func.lower(User.email) == email.lower())) or 0


def test_inviting_someone_of_another_organization_attaches_nothing_until_they_accept(  # type: ignore[no-untyped-def]
        client, make_member, database, sign_in) -> None:
    a_owner = make_member()
    a_name = client.get("/api/me", headers=a_owner.headers).json()["organizationName"]
    a_admin = make_member(org=a_name, role="admin")
    b = make_member()  # the owner of organization B, with a key of B
    with database.sessions() as s:
        s.execute(update(User).where(User.id == b.user_id).values(name="Bob Secretname"))
        s.commit()

    known = _invite(client, a_admin, b.email)
    unknown_email = _email("nobody")
    unknown = _invite(client, a_admin, unknown_email)
    assert known.status_code == unknown.status_code == 200
    # The same answer either way: the invitation alone, nothing about the person.
    assert set(known.json()) == set(unknown.json()) == INVITATION_FIELDS
    assert "Secretname" not in known.text and str(b.user_id) not in known.text
    invitation = known.json()
    assert invitation["status"] == "pending" and invitation["role"] == "member"
    assert invitation["organizationId"] == str(a_owner.org_id)
    assert invitation["inviterId"] == str(a_admin.user_id)
    assert _users_named(database, unknown_email) == 0  # an invitation creates no user

    # Nothing attached: A does not list B's owner, who still acts for B only.
    listed = client.get("/api/auth/organization/list-members", headers=a_admin.headers).json()
    assert b.email not in {m["user"]["email"] for m in listed["members"]}
    assert [o["id"] for o in client.get("/api/auth/organization/list",
                                        headers=b.headers).json()] == [str(b.org_id)]

    # Signed in, the invitee sees it (and only they do), then accepts.
    bearer = sign_in(b.email)
    assert client.get("/api/me", headers=bearer).json()["organizationId"] == str(b.org_id)
    mine = client.get("/api/auth/organization/list-user-invitations", headers=bearer).json()
    assert [i["id"] for i in mine] == [invitation["id"]]
    assert mine[0]["organizationName"] == a_name
    got = client.get("/api/auth/organization/get-invitation", headers=bearer,
                     params={"id": invitation["id"]})
    assert got.status_code == 200 and got.json()["inviterEmail"] == a_admin.email
    # Not even the inviting admin, signed in, sees it there (they have list-invitations); and
    # an API key, which acts for an organization, answers no invitation.
    r = client.get("/api/auth/organization/get-invitation", headers=sign_in(a_admin.email),
                   params={"id": invitation["id"]})
    assert r.status_code == 404
    for key in (b.headers, a_admin.headers):
        r = client.post("/api/auth/organization/accept-invitation", headers=key,
                        json={"invitationId": invitation["id"]})
        assert r.status_code == 403

    r = client.post("/api/auth/organization/accept-invitation", headers=bearer,
                    json={"invitationId": invitation["id"]})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["invitation"]["status"] == "accepted"
    assert answer["member"]["role"] == "member"
    assert answer["member"]["organizationId"] == str(a_owner.org_id)
    assert answer["member"]["user"]["email"] == b.email
    # They joined it themselves: it is now their active organization, here and at sign-in.
    assert client.get("/api/me", headers=bearer).json()["organizationId"] == str(a_owner.org_id)
    assert client.get("/api/me", headers=sign_in(b.email)).json()["organizationId"] == str(
        a_owner.org_id)
    assert client.get("/api/me", headers=b.headers).json()["organizationId"] == str(b.org_id)
    listed = client.get("/api/auth/organization/list-members", headers=a_admin.headers).json()
    assert b.email in {m["user"]["email"] for m in listed["members"]}
    # Choosing B again is what the next sign-in follows.
    bearer = sign_in(b.email)
    assert client.post("/api/auth/organization/set-active", headers=bearer,
                       json={"organizationId": str(b.org_id)}).status_code == 200
    assert client.get("/api/me", headers=sign_in(b.email)).json()["organizationId"] == str(
        b.org_id)


def test_a_person_with_no_account_yet_sees_the_invitation_once_signed_in(  # type: ignore[no-untyped-def]
        client, make_member, database, sign_in) -> None:
    admin = make_member()
    email = _email("later")
    invitation = _invite(client, admin, email.upper(), role="viewer").json()
    assert _users_named(database, email) == 0
    assert client.get("/api/auth/organization/list-user-invitations").status_code == 401

    # The operator makes the account (`coreviz-studio users create` without --org).
    with database.sessions() as s:
        accounts.create_user(s, email, "Later Person")
        s.commit()
    bearer = sign_in(email)
    r = client.get("/api/me", headers=bearer)
    assert r.status_code == 401 and "no organization" in r.json()["message"]
    mine = client.get("/api/auth/organization/list-user-invitations", headers=bearer).json()
    assert [i["id"] for i in mine] == [invitation["id"]]
    r = client.post("/api/auth/organization/accept-invitation", headers=bearer,
                    json={"invitationId": invitation["id"]})
    assert r.status_code == 200, r.text
    me = client.get("/api/me", headers=bearer).json()
    assert me["organizationId"] == str(admin.org_id) and me["role"] == "viewer"
    assert client.get("/api/auth/organization/list-user-invitations",
                      headers=bearer).json() == []


def test_reject_cancel_expire_and_the_wrong_person(  # type: ignore[no-untyped-def]
        client, make_member, database, sign_in, person) -> None:
    admin = make_member()
    invitee, stranger = person(), person()
    bearer, strangers = sign_in(invitee), sign_in(stranger)
    accept = lambda inv_id, h=bearer: client.post(  # noqa: E731
        "/api/auth/organization/accept-invitation", headers=h, json={"invitationId": inv_id})

    first = _invite(client, admin, invitee).json()
    # Someone else, signed in, cannot see, accept or reject it: it does not exist for them.
    assert client.get("/api/auth/organization/get-invitation", headers=strangers,
                      params={"id": first["id"]}).status_code == 404
    assert accept(first["id"], strangers).status_code == 404
    assert client.post("/api/auth/organization/reject-invitation", headers=strangers,
                       json={"invitationId": first["id"]}).status_code == 404
    assert accept(str(uuid.uuid4())).status_code == 404

    r = client.post("/api/auth/organization/reject-invitation", headers=bearer,
                    json={"invitationId": first["id"]})
    assert r.status_code == 200 and r.json()["invitation"]["status"] == "rejected"
    assert r.json()["member"] is None
    r = accept(first["id"])
    assert r.status_code == 409 and "rejected" in r.json()["message"]

    # A new invitation after a rejection is a new one; the organization can withdraw it.
    second = _invite(client, admin, invitee).json()
    assert second["id"] != first["id"]
    outsider = make_member()
    assert client.post("/api/auth/organization/cancel-invitation", headers=outsider.headers,
                       json={"invitationId": second["id"]}).status_code == 404
    r = client.post("/api/auth/organization/cancel-invitation", headers=admin.headers,
                    json={"invitationId": second["id"]})
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    r = accept(second["id"])
    assert r.status_code == 409 and "canceled" in r.json()["message"]
    assert client.post("/api/auth/organization/cancel-invitation", headers=admin.headers,
                       json={"invitationId": second["id"]}).status_code == 409

    third = _invite(client, admin, invitee).json()
    with database.sessions() as s:
        s.execute(update(Invitation).where(Invitation.id == uuid.UUID(third["id"]))
                  .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
        s.commit()
    assert client.get("/api/auth/organization/list-user-invitations", headers=bearer).json() == []
    r = accept(third["id"])
    assert r.status_code == 409 and "expired" in r.json()["message"]
    # Inviting again renews the expired pending one.
    renewed = _invite(client, admin, invitee).json()
    assert renewed["id"] == third["id"]
    assert accept(third["id"]).status_code == 200
    r = accept(third["id"])
    assert r.status_code == 409 and "already been accepted" in r.json()["message"]

    statuses = {i["id"]: i["status"] for i in client.get(
        "/api/auth/organization/list-invitations", headers=admin.headers).json()}
    assert statuses == {first["id"]: "rejected", second["id"]: "canceled",
                        third["id"]: "accepted"}


def test_who_may_invite_and_whom(client, make_member) -> None:  # type: ignore[no-untyped-def]
    owner = make_member()
    name = client.get("/api/me", headers=owner.headers).json()["organizationName"]
    admin, member, viewer = (make_member(org=name, role=r) for r in ("admin", "member", "viewer"))
    email = _email()
    for caller in (member, viewer):
        assert _invite(client, caller, email).status_code == 403
    r = _invite(client, admin, email, role="owner")
    assert r.status_code == 403 and "owner" in r.json()["message"]
    first = _invite(client, admin, email, role="admin").json()
    # A second invitation to the same email renews the pending one (role, expiry).
    again = _invite(client, owner, email.upper(), role="owner").json()
    assert again["id"] == first["id"] and again["role"] == "owner"
    assert again["expiresAt"] >= first["expiresAt"] and again["inviterId"] == str(owner.user_id)
    # ... and an owner's invitation is changed only by an owner (no quiet demotion by an admin)
    r = _invite(client, admin, email, role="admin")
    assert r.status_code == 403 and "owner" in r.json()["message"]
    assert _invite(client, admin, viewer.email).status_code == 409
    assert _invite(client, admin, "not an email").status_code == 422
    assert _invite(client, admin, _email(), role="emperor").status_code == 422
    assert client.post("/api/auth/organization/invite-member", headers=admin.headers,
                       json={"email": _email(), "team": "x"}).status_code == 422
    assert client.post("/api/auth/organization/invite-member", headers=admin.headers,
                       json={"email": _email(), "organizationId": str(uuid.uuid4())}
                       ).status_code == 404
    # Every member sees the organization's invitations (as list-members), only its own.
    listed = client.get("/api/auth/organization/list-invitations", headers=viewer.headers)
    assert [i["id"] for i in listed.json()] == [first["id"]]
    assert client.get("/api/auth/organization/list-invitations",
                      headers=make_member().headers).json() == []
    # The direct add over HTTP is gone (the operator has `coreviz-studio members add`).
    r = client.post("/api/auth/organization/add-member", headers=owner.headers,
                    json={"email": _email()})
    assert r.status_code in (404, 405)


def test_cli_members_add_leaves_the_active_organization_alone(  # type: ignore[no-untyped-def]
        client, make_member, pg_url, person, sign_in) -> None:
    home, other = make_member(), make_member()
    other_name = client.get("/api/me", headers=other.headers).json()["organizationName"]
    solo = person()

    def cli(*args: str) -> processes.Finished:
        # The real command, on the test database (DATABASE_URL) rather than an embedded one.
        return processes.cli("members", "add", *args, check=False, env={"DATABASE_URL": pg_url})

    done = cli(home.email, "--org", other_name, "--role", "viewer", "--json")
    assert done.returncode == 0, done.stderr
    added = json.loads(done.stdout.strip().splitlines()[-1])
    assert added["organizationId"] == str(other.org_id) and added["role"] == "viewer"
    # Added by the operator: they are a member, but still land in their own organization.
    assert client.get("/api/me", headers=sign_in(home.email)).json()["organizationId"] == str(
        home.org_id)
    # Someone of no organization gets this one as their first.
    assert cli(solo, "--org", other_name).returncode == 0
    assert client.get("/api/me", headers=sign_in(solo)).json()["organizationId"] == str(
        other.org_id)

    again = cli(home.email, "--org", other_name)
    assert again.returncode == 1 and "already a member" in again.stderr
    unknown = cli(_email("ghost"), "--org", other_name)
    assert unknown.returncode == 1 and "users create" in unknown.stderr


def test_many_invitations_in_a_row_on_one_connection(client, make_member) -> None:  # type: ignore[no-untyped-def]
    """psycopg prepares a statement from its 5th run on a connection; the upsert must still
    find its partial unique index then (it was a 500 from the 6th invitation on)."""
    admin = make_member()
    answers = [_invite(client, admin, _email()).status_code for _ in range(12)]
    renewed = [_invite(client, admin, "again@example.org").status_code for _ in range(8)]
    assert answers == [200] * 12 and renewed == [200] * 8
