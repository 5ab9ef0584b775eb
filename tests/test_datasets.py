from __future__ import annotations

import pytest


def _create(client, member, name="Photos", **extra):  # type: ignore[no-untyped-def]
    return client.post(f"/api/organization/{member.org_id}/datasets", headers=member.headers,
                       json={"name": name, **extra})


def test_create_list_get_update(client, make_member) -> None:  # type: ignore[no-untyped-def]
    m = make_member()
    r = _create(client, m, "Trips", icon="🏔")
    assert r.status_code == 201, r.text
    ds = r.json()
    assert ds["name"] == "Trips" and ds["icon"] == "🏔"
    assert ds["organizationId"] == str(m.org_id)
    assert ds["createdById"] == str(m.user_id)
    assert {"id", "type", "createdAt", "updatedAt", "metadata"} <= ds.keys()
    assert ds.pop("dataset") == ds  # also wrapped, for clients that read data.dataset

    listed = client.get(f"/api/organization/{m.org_id}/datasets", headers=m.headers).json()
    assert [d["id"] for d in listed] == [ds["id"]]

    got = client.get(f"/api/dataset/{ds['id']}", headers=m.headers).json()
    assert got == {"dataset": ds}

    r = client.patch(f"/api/dataset/{ds['id']}", headers=m.headers, json={"name": "Holidays"})
    assert r.status_code == 200
    assert r.json()["dataset"]["name"] == "Holidays"
    assert r.json()["dataset"]["icon"] == "🏔"  # untouched
    assert r.json()["dataset"]["updatedById"] == str(m.user_id)
    r = client.patch(f"/api/dataset/{ds['id']}", headers=m.headers, json={"icon": None})
    assert r.json()["dataset"]["icon"] is None
    assert r.json()["dataset"]["name"] == "Holidays"


def test_ids_without_hyphens(client, make_member) -> None:  # type: ignore[no-untyped-def]
    m = make_member()
    ds = _create(client, m).json()["dataset"]
    bare = ds["id"].replace("-", "")
    assert client.get(f"/api/dataset/{bare}", headers=m.headers).json()["dataset"]["id"] == ds["id"]
    org_bare = str(m.org_id).replace("-", "")
    r = client.get(f"/api/organization/{org_bare}/datasets", headers=m.headers)
    assert r.status_code == 200 and len(r.json()) == 1
    r = client.patch(f"/api/dataset/{bare.upper()}", headers=m.headers, json={"name": "Up"})
    assert r.status_code == 200


def test_other_organizations_ids_are_not_found(client, make_member) -> None:  # type: ignore[no-untyped-def]
    alice, bob = make_member(), make_member()
    ds = _create(client, alice, "Alice's").json()["dataset"]
    for method, url, body in [
        ("GET", f"/api/dataset/{ds['id']}", None),
        ("PATCH", f"/api/dataset/{ds['id']}", {"name": "stolen"}),
        ("GET", f"/api/organization/{alice.org_id}/datasets", None),
        ("POST", f"/api/organization/{alice.org_id}/datasets", {"name": "planted"}),
    ]:
        r = client.request(method, url, headers=bob.headers, json=body)
        assert r.status_code == 404, (method, url, r.text)
        assert r.json()["error"] == "Not Found"
    assert client.get(f"/api/dataset/{ds['id']}", headers=bob.headers).json()["message"] == \
        "Dataset not found"
    # nothing changed for Alice
    assert client.get(f"/api/dataset/{ds['id']}", headers=alice.headers).json()["dataset"][
        "name"] == "Alice's"
    names = [d["name"] for d in client.get(f"/api/organization/{alice.org_id}/datasets",
                                           headers=alice.headers).json()]
    assert names == ["Alice's"]


def test_unknown_dataset_is_404(client, make_member) -> None:  # type: ignore[no-untyped-def]
    m = make_member()
    r = client.get("/api/dataset/00000000-0000-4000-8000-000000000000", headers=m.headers)
    assert r.status_code == 404
    assert r.json() == {"error": "Not Found", "message": "Dataset not found"}


@pytest.mark.parametrize("bad_id", ["nope", "1234", "00000000-0000-4000-8000-00000000000g",
                                    "0000-0000-0000-4000-8000-000000000000", "x" * 500])
def test_malformed_ids_are_400(client, make_member, bad_id) -> None:  # type: ignore[no-untyped-def]
    m = make_member()
    r = client.get(f"/api/dataset/{bad_id}", headers=m.headers)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "Bad Request"
    assert "UUID" in r.json()["message"]
    r = client.get(f"/api/organization/{bad_id}/datasets", headers=m.headers)
    assert r.status_code == 400


@pytest.mark.parametrize(("body", "status", "needle"), [
    ({"name": "x", "bogus": 1}, 422, "bogus"),
    ({"name": ""}, 422, "name"),
    ({"name": "   "}, 422, "name"),
    ({"name": "x" * 201}, 422, "name"),
    ({}, 422, "name"),
    ({"name": 5}, 422, "name"),
    ([1, 2], 422, "JSON object"),
    ({"name": "ok", "organizationId": "00000000-0000-4000-8000-000000000000"}, 422,
     "organizationId"),
])
def test_bad_create_bodies(client, make_member, body, status, needle) -> None:  # type: ignore[no-untyped-def]
    m = make_member()
    r = client.post(f"/api/organization/{m.org_id}/datasets", headers=m.headers, json=body)
    assert r.status_code == status, r.text
    assert needle in r.json()["message"]
    assert client.get(f"/api/organization/{m.org_id}/datasets", headers=m.headers).json() == []


def test_malformed_json_is_400_even_without_content_type(client, make_member) -> None:  # type: ignore[no-untyped-def]
    m = make_member()
    for headers in ({"content-type": "application/json"}, {}):
        r = client.post(f"/api/organization/{m.org_id}/datasets",
                        headers={**m.headers, **headers}, content=b'{"name": ')
        assert r.status_code == 400, r.text
        assert r.json() == {"error": "Bad Request", "message": "Malformed JSON body"}
    # curl -d sends form-urlencoded: still read as JSON
    r = client.post(f"/api/organization/{m.org_id}/datasets",
                    headers={**m.headers, "content-type": "application/x-www-form-urlencoded"},
                    content=b'{"name": "from curl"}')
    assert r.status_code == 201 and r.json()["name"] == "from curl"


def test_bad_patch_bodies(client, make_member) -> None:  # type: ignore[no-untyped-def]
    m = make_member()
    ds = _create(client, m, "Keep").json()["dataset"]
    for body in ({"name": None}, {"name": ""}, {"status": "deleted"}, {"id": ds["id"]},
                 {"organizationId": str(m.org_id)}):
        r = client.patch(f"/api/dataset/{ds['id']}", headers=m.headers, json=body)
        assert r.status_code == 422, (body, r.text)
    assert client.get(f"/api/dataset/{ds['id']}", headers=m.headers).json()["dataset"][
        "name"] == "Keep"


def test_viewer_can_read_but_not_write(client, make_member) -> None:  # type: ignore[no-untyped-def]
    owner = make_member()
    org_name = client.get("/api/me", headers=owner.headers).json()["organizationName"]
    viewer = make_member(org=org_name, role="viewer")
    ds = _create(client, owner).json()["dataset"]
    assert client.get(f"/api/dataset/{ds['id']}", headers=viewer.headers).status_code == 200
    r = _create(client, viewer, "nope")
    assert r.status_code == 403 and r.json()["error"] == "Forbidden"
    r = client.patch(f"/api/dataset/{ds['id']}", headers=viewer.headers, json={"name": "x"})
    assert r.status_code == 403
