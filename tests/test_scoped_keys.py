"""Scoped API keys: read-only, and/or limited to some collections; never broader than their
creator."""

from __future__ import annotations

import json
import uuid

import pytest

from coreviz_studio import tenancy
from coreviz_studio.auth import keys
from coreviz_studio.auth.principal import Principal, Role
from coreviz_studio.errors import Forbidden, NotFound
from tests import processes
from tests.library import Library
from tests.media_files import image


@pytest.fixture
def two(client, make_member):  # type: ignore[no-untyped-def]
    """An owner's organization with two collections, one photo in each."""
    owner = make_member()
    first, second = Library(client, owner, "First"), Library(client, owner, "Second")
    return owner, first, first.upload(image()), second, second.upload(image(color="blue"))


def _key(client, owner, **scope) -> dict[str, str]:  # type: ignore[no-untyped-def]
    r = client.post("/api/auth/api-key/create", headers=owner.headers,
                    json={"name": "scoped", **scope})
    assert r.status_code == 200, r.text
    return {"x-api-key": r.json()["key"]}


def _upload(client, headers, dataset_id: str):  # type: ignore[no-untyped-def]
    return client.post("/api/upload/multipart", headers=headers, data={"datasetId": dataset_id},
                       files={"file": ("p.jpg", image(), "application/octet-stream")})


def test_a_read_only_key_reads_and_every_write_is_refused(client, two) -> None:  # type: ignore[no-untyped-def]
    owner, first, photo, _, _ = two
    h = _key(client, owner, readOnly=True)
    listed = {k["name"]: k for k in client.get("/api/auth/api-key/list",
                                                headers=owner.headers).json()}
    assert listed["scoped"]["readOnly"] is True and listed["scoped"]["collections"] is None
    org = owner.org_id
    for path in (f"/api/organization/{org}/datasets", f"/api/dataset/{first.id}",
                 f"/api/dataset/{first.id}/media", f"/api/media/{photo['id']}", "/api/me"):
        assert client.get(path, headers=h).status_code == 200, path

    writes = [
        client.post(f"/api/organization/{org}/datasets", headers=h, json={"name": "x"}),
        client.patch(f"/api/dataset/{first.id}", headers=h, json={"name": "x"}),
        _upload(client, h, first.id),
        client.patch(f"/api/media/{photo['id']}", headers=h, json={"name": "x"}),
        client.delete(f"/api/media/{photo['id']}", headers=h),
        client.post("/api/folder", headers=h, json={"datasetId": first.id, "name": "f"}),
        client.post(f"/api/media/{photo['id']}/tags", headers=h,
                    json={"label": "a", "value": "b"}),
        client.post("/api/auth/api-key/create", headers=h, json={"name": "more"}),
        client.post("/api/auth/organization/invite-member", headers=h,
                    json={"email": "x@example.org"}),
    ]
    for r in writes:
        assert r.status_code == 403, (r.request.url, r.text)
        assert r.json()["message"] == "This API key is read-only"
    assert first.media(photo["id"])["name"] == photo["name"]  # nothing changed


def test_a_collection_scoped_key_sees_only_its_collections(client, two) -> None:  # type: ignore[no-untyped-def]
    owner, first, photo, second, other_photo = two
    h = _key(client, owner, collections=[first.id.replace("-", "")])
    listed = {k["name"]: k for k in client.get("/api/auth/api-key/list",
                                                headers=owner.headers).json()}
    assert listed["scoped"]["collections"] == [first.id] and not listed["scoped"]["readOnly"]

    datasets = client.get(f"/api/organization/{owner.org_id}/datasets", headers=h).json()
    assert [d["id"] for d in datasets] == [first.id]
    assert client.get(f"/api/dataset/{first.id}/media", headers=h).json()["pagination"][
        "total"] == 1
    assert client.get(f"/api/media/{photo['id']}", headers=h).status_code == 200
    assert _upload(client, h, first.id).status_code == 201
    # The other collection of the same organization is simply not there.
    for r in (client.get(f"/api/dataset/{second.id}", headers=h),
              client.get(f"/api/dataset/{second.id}/media", headers=h),
              client.get(f"/api/media/{other_photo['id']}", headers=h),
              client.patch(f"/api/media/{other_photo['id']}", headers=h, json={"name": "x"}),
              _upload(client, h, second.id),
              client.post("/api/folder", headers=h, json={"datasetId": second.id, "name": "f"})):
        assert r.status_code == 404, (r.request.url, r.text)
    # Nothing beyond its collections: no new collection, no managing the organization.
    r = client.post(f"/api/organization/{owner.org_id}/datasets", headers=h, json={"name": "x"})
    assert r.status_code == 403 and "creating a collection" in r.json()["message"]
    for path, body in (("/api/auth/api-key/create", {"name": "more"}),
                       ("/api/auth/organization/invite-member", {"email": "x@example.org"}),
                       ("/api/auth/organization/update-member-role",
                        {"memberId": str(owner.user_id), "role": "owner"})):
        r = client.post(path, headers=h, json=body)
        assert r.status_code == 403 and "limited to some collections" in r.json()["message"]
    assert {k["name"] for k in client.get("/api/auth/api-key/list", headers=h).json()} <= {
        "first key", "scoped"}  # its own user's keys only, not the organization's


def test_scopes_name_only_the_callers_own_collections(client, two, make_member) -> None:  # type: ignore[no-untyped-def]
    owner, first, _, _, _ = two
    theirs = Library(client, make_member(), "Theirs")
    create = lambda **body: client.post("/api/auth/api-key/create",  # noqa: E731
                                        headers=owner.headers, json={"name": "k", **body})
    r = create(collections=[theirs.id])
    assert r.status_code == 404 and r.json()["message"] == "Dataset not found"
    assert create(collections=[str(uuid.uuid4())]).status_code == 404
    assert create(collections=[]).status_code == 422
    assert create(collections=["not-an-id"]).status_code == 400
    assert create(readOnly="maybe").status_code == 422
    # The same collection twice is one.
    assert create(collections=[first.id, first.id]).json()["collections"] == [first.id]


def test_a_scoped_key_cannot_make_a_broader_one(client, two, database) -> None:  # type: ignore[no-untyped-def]
    owner, first, _, second, _ = two

    def as_key(read_only: bool, dataset_ids: set[str] | None) -> Principal:
        ids = None if dataset_ids is None else frozenset(uuid.UUID(d) for d in dataset_ids)
        return Principal(owner.user_id, owner.org_id, Role.owner, "api_key", uuid.uuid4(),
                         read_only=read_only, dataset_ids=ids)

    with database.sessions() as s:
        def create(creator: Principal, **scope):  # type: ignore[no-untyped-def]
            tenancy.bind(s, creator)  # as a request authenticated by that key would be
            return keys.create(s, creator, "x", None, **scope)

        with pytest.raises(Forbidden, match="read-only"):
            create(as_key(True, None), read_only=False)
        with pytest.raises(Forbidden, match="within them"):
            create(as_key(False, {first.id}))
        with pytest.raises(NotFound):
            create(as_key(False, {first.id}), collections=[second.id])
        row, _ = create(as_key(True, {first.id, second.id}), read_only=True,
                        collections=[second.id])
        assert row.read_only and row.dataset_ids == [uuid.UUID(second.id)]
        s.rollback()


def test_cli_creates_scoped_keys(client, two, pg_url) -> None:  # type: ignore[no-untyped-def]
    owner, first, photo, second, _ = two

    def cli(*args: str) -> processes.Finished:
        # The real command, on the test database (DATABASE_URL) rather than an embedded one.
        return processes.cli("keys", *args, check=False, env={"DATABASE_URL": pg_url})

    done = cli("create", "--email", owner.email, "--name", "ro", "--read-only",
               "--collection", first.id, "--json")
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout.strip().splitlines()[-1])
    assert made["readOnly"] is True and made["collections"] == [first.id]
    h = {"x-api-key": made["apiKey"]}
    assert client.get(f"/api/media/{photo['id']}", headers=h).status_code == 200
    assert client.get(f"/api/dataset/{second.id}", headers=h).status_code == 404
    assert client.patch(f"/api/dataset/{first.id}", headers=h,
                        json={"name": "x"}).status_code == 403

    two_sets = cli("create", "--email", owner.email, "--collection", first.id,
                   "--collection", second.id, "--json")
    assert json.loads(two_sets.stdout.strip().splitlines()[-1])["collections"] == [
        first.id, second.id]
    listed = cli("list", "--email", owner.email, "--json")
    scoped = {k["id"]: k for k in json.loads(listed.stdout.strip().splitlines()[-1])}
    assert scoped[made["id"]]["readOnly"] and scoped[made["id"]]["collections"] == [first.id]
    refused = cli("create", "--email", owner.email, "--collection", str(uuid.uuid4()))
    assert refused.returncode == 1 and "Dataset not found" in refused.stderr


def test_a_scoped_key_cannot_escape_its_limits(client, two) -> None:  # type: ignore[no-untyped-def]
    owner, first, _, _, _ = two
    for scope in ({"readOnly": True}, {"collections": [first.id]}):
        h = _key(client, owner, **scope)
        # Approving a device login would hand out a session without the key's limits.
        code = client.post("/api/auth/device/code",
                           json={"client_id": "coreviz-cli", "scope": "openid"}).json()
        r = client.post("/api/auth/device/approve", headers=h,
                        json={"userCode": code["user_code"]})
        assert r.status_code == 403, r.text
        assert client.get("/api/auth/device", params={"user_code": code["user_code"]}
                          ).json()["status"] == "pending"
        # Leaving the organization is a change a scoped key does not make either.
        r = client.post("/api/auth/organization/remove-member", headers=h,
                        json={"memberIdOrEmail": owner.email})
        assert r.status_code == 403, r.text
    assert client.get("/api/me", headers=owner.headers).status_code == 200


def test_org_wide_search_stays_inside_a_keys_collections(client, owner_with_zebras) -> None:  # type: ignore[no-untyped-def]
    """/api/search has no collection in its path: the database's policy keeps a
    collection-scoped key inside its collections (row-level security, app.dataset_ids)."""
    owner, (first, in_first), (_, in_second) = owner_with_zebras
    scoped = _key(client, owner, collections=[first.id])

    def found(headers: dict[str, str]) -> set[str]:
        r = client.get("/api/search", headers=headers, params={"q": "zebra"})
        assert r.status_code == 200, r.text
        return {hit["media"]["id"] for hit in r.json()["results"]}

    assert found(owner.headers) == {in_first, in_second}
    assert found(scoped) == {in_first}


@pytest.fixture
def owner_with_zebras(client, make_member):  # type: ignore[no-untyped-def]
    owner = make_member()
    libraries = Library(client, owner, "First"), Library(client, owner, "Second")
    return owner, *((lib, lib.upload(image(), "zebra.jpg")["id"]) for lib in libraries)


def test_a_collection_scoped_key_does_not_list_the_organizations_people(client, two) -> None:  # type: ignore[no-untyped-def]
    owner, first, *_ = two
    scoped = _key(client, owner, collections=[first.id])
    for path in ("/api/auth/organization/list-members",
                 "/api/auth/organization/list-invitations"):
        r = client.get(path, headers=scoped)
        assert r.status_code == 403 and "collections" in r.json()["message"], path
        assert client.get(path, headers=owner.headers).status_code == 200
    # a read-only key for the whole organization still reads them
    assert client.get("/api/auth/organization/list-members",
                      headers=_key(client, owner, readOnly=True)).status_code == 200
