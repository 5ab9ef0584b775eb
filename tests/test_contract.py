"""The contract beyond single features: extreme parameter values, the OpenAPI document's
statuses and id types, 405 answers, HEAD, and names checked after cleaning."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from coreviz_studio.media import paths
from coreviz_studio.schemas import clean_text, name_pattern
from tests.library import Library

# A fixed id of nothing: parameters must be the same on every xdist worker.
_NOBODY = uuid.UUID("6f1c8a52-0b7e-4b57-9d0e-3a2f6c1d9e40")
HUGE = str(10**30)


@pytest.fixture(scope="module")
def lib(shared_client, make_member_module) -> Library:  # type: ignore[no-untyped-def]
    return Library(shared_client, make_member_module())


# (params, expected status): 400 with a message, or a correct 200; never a 500.
BROWSE_EXTREMES = [
    ({"dateTo": "9999-12-31"}, 200), ({"dateFrom": "9999-12-31"}, 200),
    ({"dateFrom": "0001-01-01"}, 200), ({"dateTo": "0001-01-01"}, 200),
    ({"dateFrom": "0001-01-01", "dateTo": "9999-12-31"}, 200),
    ({"dateFrom": "9999-12-31", "dateTo": "0001-01-01"}, 200),  # an empty range
    ({"dateFrom": "99999-01-01"}, 400), ({"dateTo": "0000-01-01"}, 400),
    ({"dateTo": "2024-02-30"}, 400), ({"dateFrom": "-2024-01-01"}, 400),
    ({"dateFrom": "1700000000"}, 400), ({"dateTo": "2024-01-01T00:00:00"}, 400),
    ({"offset": "10000000"}, 200), ({"offset": "10000001"}, 400), ({"offset": HUGE}, 400),
    ({"offset": "-1"}, 400), ({"limit": "0"}, 200), ({"limit": "1000"}, 200),
    ({"limit": "1001"}, 400), ({"limit": HUGE}, 400), ({"limit": "-" + HUGE}, 400),
    ({"limit": "1.5"}, 400), ({"limit": "1e3"}, 400),
    *[({"sortBy": v}, 200) for v in ("createdAt", "updatedAt", "name", "type", "sizeBytes")],
    ({"sortBy": "color"}, 400), ({"sortBy": ""}, 400), ({"sortBy": "NAME"}, 400),
    *[({"sortDirection": v}, 200) for v in ("asc", "desc")],
    ({"sortDirection": "DESC"}, 400), ({"sortDirection": "up"}, 400),
    *[({"type": v}, 200) for v in ("image", "video", "pdf", "folder", "all")],
    ({"type": "audio"}, 400), ({"type": ""}, 400),
    ({"recursive": "true"}, 200), ({"recursive": "false"}, 200), ({"recursive": "2"}, 400),
    ({"similarToObjectId": str(_NOBODY)}, 404),
    *[({"similarToObjectId": str(_NOBODY), "similarToObjectModel": v}, 404)
      for v in ("objects", "faces", "image")],
    ({"similarToObjectId": str(_NOBODY), "similarToObjectModel": "cats"}, 422),  # names ours
    ({"similarToObjectModel": "faces"}, 200),  # nothing to compare with: ignored
    ({"similarToObjectModel": "null"}, 422),  # not one of the names, even with nothing to compare
    ({"similarToObjectId": "not-an-id"}, 400), ({"clusterId": "1" * 33}, 400),
    ({"mediaId": str(_NOBODY).replace("-", "")}, 200),
    ({"tagFilters": "{}"}, 200), ({"tagFilters": '{"a": []}'}, 200),
    ({"tagFilters": "null"}, 400), ({"tagFilters": "[]"}, 400), ({"tagFilters": "1"}, 400),
    ({"tagFilters": '{"a": [1]}'}, 400), ({"tagFilters": '{"a": {"b": []}}'}, 400),
    ({"tagFilters": "[" * 10_000}, 400), ({"tagFilters": '{"a": ["' + "x" * 50_000 + '"]}'}, 200),
    ({"tags": ",,,"}, 200), ({"tags": "x" * 20_000}, 200),
    ({"q": "x" * 4000}, 200), ({"q": "x" * 4001}, 400), ({"q": "' OR 1=1--"}, 200),
    ({"q": "%_\\"}, 200),
    ({"q": "a\x00"}, 400), ({"path": " "}, 200), ({"path": "0" * 32}, 404),
    ({"path": ".".join(["0" * 32] * 31)}, 400), ({"path": "x" * 10_000}, 400),
]


@pytest.mark.parametrize(("params", "status"), BROWSE_EXTREMES)
def test_browse_extreme_values(lib: Library, client, params: dict, status: int) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/dataset/{lib.id}/media", headers=lib.headers, params=params)
    assert r.status_code == status, r.text
    if status >= 400:
        assert r.json()["error"] and r.json()["message"]


def test_repeated_and_comma_separated_tags_add_up(lib: Library, client) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/dataset/{lib.id}/media?tags=a,b&tags=c", headers=lib.headers)
    assert r.status_code == 200 and r.json()["pagination"]["total"] == 0


@pytest.mark.parametrize(("url", "status"), [
    ("/api/search?q=" + "x" * 4000, 200), ("/api/search?q=" + "x" * 4001, 400),
    ("/api/search?limit=0", 400), (f"/api/search?limit={HUGE}", 400),
    ("/api/search?limit=-1", 400), ("/api/search?q=a%00", 400),
    ("/api/search?similarToObjectModel=null", 422), ("/api/search?similarToObjectModel=faces", 200),
    ("/api/search?q=cat&organizationId=nope", 400),
    (f"/api/search?q=cat&organizationId={_NOBODY}", 404),
    ("/api/clusters?kind=face", 200), ("/api/clusters?kind=object", 200),
    ("/api/clusters?kind=cat", 400), ("/api/clusters?limit=501", 400),
    (f"/api/clusters?offset={HUGE}", 400), ("/api/clusters?offset=-1", 400),
    ("/api/clusters?offset=10000000", 200), ("/api/clusters?offset=10000001", 400),
    ("/api/clusters?datasetId=zz", 400),
    (f"/api/clusters?datasetId={_NOBODY.hex}", 404),  # no such collection
    ("/api/clusters/not-a-uuid", 400), (f"/api/clusters/{_NOBODY}", 404),
])
def test_search_and_cluster_extreme_values(lib: Library, client, url: str, status: int) -> None:  # type: ignore[no-untyped-def]
    r = client.get(url, headers=lib.headers)
    assert r.status_code == status, r.text


def test_a_malformed_path_id_is_a_400_that_says_so(lib: Library, client) -> None:  # type: ignore[no-untyped-def]
    for bad in ("xyz", "{" + str(uuid.uuid4()) + "}", f"urn:uuid:{uuid.uuid4()}", "1" * 33):
        r = client.get(f"/api/dataset/{bad}", headers=lib.headers)
        assert r.status_code == 400 and "expected a UUID" in r.json()["message"], r.text


def _spec(client) -> dict:  # type: ignore[no-untyped-def, type-arg]
    spec: dict = client.get("/openapi.json").json()  # type: ignore[type-arg]
    return spec


def test_openapi_lists_the_statuses_each_route_can_answer(client) -> None:  # type: ignore[no-untyped-def]
    paths_ = _spec(client)["paths"]

    def codes(method: str, path: str) -> set[str]:
        return set(paths_[path][method]["responses"])

    assert {"400", "401", "404", "422", "503"} <= codes("get", "/api/dataset/{dataset_id}/media")
    assert "403" not in codes("get", "/api/dataset/{dataset_id}/media")  # viewers may browse
    assert {"401", "403", "404", "413"} <= codes("patch", "/api/media/{media_id}")
    assert {"403"} <= codes("post", "/api/dataset/{dataset_id}/reprocess")  # admins only
    assert "401" not in codes("get", "/healthz")  # public
    assert {"413", "415", "507", "404"} <= codes("post", "/api/upload/multipart")
    assert {"401", "429"} <= codes("post", "/api/auth/sign-in/email")
    assert "409" in codes("post", "/api/auth/organization/remove-member")
    body = paths_["/api/media/{media_id}"]["get"]["responses"]["404"]["content"]
    assert body["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    schemas = _spec(client)["components"]["schemas"]
    assert schemas["ErrorBody"]["required"] == ["error", "message"]
    assert "HTTPValidationError" not in schemas


def test_openapi_types_ids_as_uuids_and_documents_browse(client) -> None:  # type: ignore[no-untyped-def]
    op = _spec(client)["paths"]["/api/dataset/{dataset_id}/media"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert params["dataset_id"]["schema"]["format"] == "uuid"
    assert params["mediaId"]["schema"] == {**params["mediaId"]["schema"], "type": "string",
                                           "format": "uuid"}
    assert params["sortBy"]["schema"]["enum"] == ["createdAt", "updatedAt", "name", "type",
                                                  "sizeBytes"]
    assert params["sortDirection"]["schema"]["enum"] == ["asc", "desc"]
    assert params["type"]["schema"]["enum"] == ["image", "video", "pdf", "folder", "all"]
    assert params["similarToObjectModel"]["schema"]["enum"] == ["objects", "faces", "image"]
    assert params["dateTo"]["schema"]["format"] == "date"
    assert params["tags"]["schema"]["type"] == "array"
    assert "application/json" in params["tagFilters"]["content"]
    assert all(p.get("description") for p in params.values())
    for path, item in _spec(client)["paths"].items():
        for name in re.findall(r"{(\w+_id)}", path):
            for op in item.values():
                schema = next(p for p in op["parameters"] if p["name"] == name)["schema"]
                assert schema["format"] == "uuid", (path, name)


def test_405_lists_every_method_of_the_path(lib: Library, client) -> None:  # type: ignore[no-untyped-def]
    r = client.put(f"/api/media/{uuid.uuid4()}", headers=lib.headers)
    assert r.status_code == 405
    assert r.headers["allow"] == "DELETE, GET, HEAD, PATCH"
    assert r.json()["error"] == "Method Not Allowed" and "PATCH" in r.json()["message"]
    r = client.options(f"/api/media/{uuid.uuid4()}/tags", headers=lib.headers)
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, PATCH, POST"
    r = client.delete("/api/me", headers=lib.headers)
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


def test_head_is_answered_wherever_get_is(lib: Library, client) -> None:  # type: ignore[no-untyped-def]
    r = client.head(f"/api/dataset/{lib.id}", headers=lib.headers)
    assert r.status_code == 200 and r.content == b""
    assert client.head("/api/me").status_code == 401


def test_documented_path_pattern_is_what_the_parser_accepts() -> None:
    label = uuid.uuid4()
    good = [label.hex, str(label), f" {str(label).upper()} ", f"{label.hex}.-{label.hex}-",
            ".".join([label.hex] * paths.MAX_DEPTH)]
    bad = ["", "a.b", label.hex[:-1], f"{label.hex}.", f"- {label.hex}",
           ".".join([label.hex] * (paths.MAX_DEPTH + 1)), label.hex + "g"]
    for value in good:
        assert re.match(paths.PATTERN, value), value
        paths.parse(value)
    for value in bad:
        assert not re.match(paths.PATTERN, value), value
        with pytest.raises(Exception, match="Invalid path"):
            paths.parse(value)


@pytest.mark.parametrize("value", ["a", " a ", "\u202ea\u202c", "a\x01" * 3, "a" * 10,
                                   "a" + "\x07" * 50, "\x01 a" + " b" * 4, "", "\x01\x02",
                                   " \u2066 ", "a" * 11, "ab\x01" * 6, "\x00a"])
def test_name_pattern_is_exactly_the_names_accepted(value: str) -> None:
    accepted = 1 <= len(clean_text(value)) <= 10 and "\x00" not in value
    assert bool(re.match(name_pattern(10), value)) == accepted


@pytest.mark.parametrize(("name", "status"), [
    ("\u202e\u0007\u2066", 422), ("\x01" * 5, 422), ("   ", 422),
    ("a" * 200, 201), ("\u202e" + "a" * 200 + "\u202c", 201), ("a" * 201, 422),
    ("\x07" * 100 + "a" * 200, 201),
])
def test_collection_names_are_checked_after_cleaning(client, make_member, name: str,  # type: ignore[no-untyped-def]
                                                     status: int) -> None:
    m = make_member()
    r = client.post(f"/api/organization/{m.org_id}/datasets", headers=m.headers,
                    json={"name": name})
    assert r.status_code == status, r.text
    if status == 422:
        assert "name" in r.json()["message"]
    else:
        assert r.json()["name"] == "a" * 200


def test_other_names_are_cleaned_and_checked(lib: Library, client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/folder", headers=lib.headers,
                    json={"datasetId": lib.id, "name": "\u202e\x01"})
    assert r.status_code == 422 and "visible character" in r.json()["message"]
    folder = lib.folder("\u202eTrips\x07")
    assert folder["name"] == "Trips"
    for body in ({"name": "\x01\u2066"}, {"name": "b" * 1025}):
        r = client.patch(f"/api/folder/{folder['id']}", headers=lib.headers, json=body)
        assert r.status_code == 422, r.text
    r = client.post(f"/api/media/{folder['id']}/tags", headers=lib.headers,
                    json={"label": "\u202e", "value": "x"})
    assert r.status_code == 422 and "label" in r.json()["message"]
    r = client.patch(f"/api/clusters/{uuid.uuid4()}", headers=lib.headers,
                     json={"name": "\x01\x02"})
    assert r.status_code == 422 and "name" in r.json()["message"]


def test_extreme_values_never_leak_html_or_500s(lib: Library, client) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/dataset/{lib.id}/media", headers=lib.headers,
                   params={"tagFilters": json.dumps({"k" * 1000: ["v" * 1000] * 20})})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
