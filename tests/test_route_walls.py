"""The walls of every route, generated from app.routes (no hand-written list of routes):
no credential is a 401 (except the public routes), a viewer's write is a 403, and another
organization's ids are a 404. A route added without a declared requirement stops the app from
starting (deps.check_declared), so it fails here and everywhere."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import RouteContext
from fastapi.testclient import TestClient
from pydantic import BaseModel

from coreviz_studio.auth.principal import Role
from coreviz_studio.deps import api_routes, check_declared, declared_requirement, public
from tests import media_files
from tests.tus_client import CHUNK, metadata
from tests.walls_world import Org, make_org

_READS = {"GET", "HEAD"}
_VALUES = {"role": "viewer", "email": "someone@example.org"}  # text of a given form
# The kind of id a path or body parameter holds, from its name.
_KINDS = [("org", "org"), ("dataset", "dataset"), ("folder", "folder"), ("cluster", "cluster"),
          ("object", "object"), ("member", "member"), ("key", "key"), ("media", "media"),
          ("root", "media"), ("version", "media"), ("upload", "upload")]


def _is_id(name: str) -> bool:
    return bool(re.search(r"(Id|Ids|IdOrEmail|_id)$", name))


def _kind(name: str) -> str | None:
    lowered = name.lower()
    return next((kind for word, kind in _KINDS if word in lowered), None)


def _routes(app: FastAPI) -> list[tuple[str, RouteContext]]:
    return [(method, route) for route in api_routes(app.routes)
            for method in sorted(route.methods or ())]


def _url(route: RouteContext, ids: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        kind = _kind(name)
        return ids[kind] if kind else "x"
    return re.sub(r"\{([^}]+)\}", fill, route.path)


def _sample(model: type[BaseModel], ids: dict[str, str]) -> dict[str, Any]:
    """A valid body for `model`: every required field, ids taken from `ids` by their name."""
    body: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        kind = _kind(key) if _is_id(key) else None
        if kind:
            body[key] = ids[kind]
        elif key in _VALUES:
            body[key] = _VALUES[key]
        elif field.is_required():
            annotation = str(field.annotation)
            body[key] = (1 if "int" in annotation else True if "bool" in annotation
                         else [] if "list" in annotation else "x")
    return body


def _request(client: TestClient, method: str, route: RouteContext, ids: dict[str, str],
             headers: dict[str, str]) -> Any:
    url = _url(route, ids)
    if route.path == "/api/upload/multipart":
        return client.post(url, headers=headers, data={"datasetId": ids["dataset"]},
                           files={"file": ("a.jpg", media_files.image(), "image/jpeg")})
    if route.path.startswith("/api/upload/tus"):  # tus: its headers, the metadata's datasetId
        headers = {**headers, **CHUNK, "Upload-Offset": "0", "Upload-Length": "10",
                   "Upload-Metadata": metadata(datasetId=ids["dataset"])}
    kwargs: dict[str, Any] = {}
    body = route.body_field
    if body is not None and method not in _READS:
        model = body.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            kwargs["json"] = _sample(model, ids)
    query = {}
    for param in route.dependant.query_params:  # ids in the query: versionId, datasetId ...
        name = param.alias or param.name
        kind = _kind(name) if _is_id(name) else None
        if kind:
            query[name] = ids[kind]
    return client.request(method, url, headers=headers, params=query, **kwargs)


@pytest.fixture(scope="module")
def orgs(shared_client, make_member_module, settings, database) -> tuple[Org, Org]:  # type: ignore[no-untyped-def]
    return (make_org(shared_client, make_member_module, settings, database),
            make_org(shared_client, make_member_module, settings, database))


def test_every_route_declares_what_it_needs(client) -> None:  # type: ignore[no-untyped-def]
    routes = _routes(client.app)
    assert len(routes) > 40
    for _, route in routes:
        assert declared_requirement(route) is not None, route.path
    # and an undeclared one is refused at start-up
    bare = FastAPI()
    bare.get("/new")(lambda: {})
    with pytest.raises(RuntimeError, match="/new"):
        check_declared(bare.routes)


def test_no_credential_is_a_401_except_on_public_routes(client, orgs) -> None:  # type: ignore[no-untyped-def]
    a, _ = orgs
    checked = 0
    for method, route in _routes(client.app):
        if declared_requirement(route) == "public":
            continue
        r = _request(client, method, route, a.ids, {})
        assert r.status_code == 401, (method, route.path, r.status_code, r.text)
        if method != "HEAD":  # a HEAD answer has no body
            assert r.json()["error"] == "Unauthorized"
        checked += 1
    assert checked > 30


def test_public_routes_are_the_few_expected(client) -> None:  # type: ignore[no-untyped-def]
    public_routes = {route.path for _, route in _routes(client.app)
                     if declared_requirement(route) == "public"}
    # Public by design: health, blobs by their secret key, signing in, the device flow's
    # unauthenticated steps, and the Studio's pages (each sends a visitor who is not signed in
    # to the sign-in page). Anything new here is a deliberate change.
    assert public_routes == {"/", "/sign-in", "/accept-invitation/{invitation_id}",
        "/healthz", "/blobs/{key:path}", "/device", "/api/auth/sign-in/email",
        "/api/auth/get-session", "/api/auth/device/code", "/api/auth/device/token",
        "/api/auth/device",
        # the settings and people pages (tests/test_web_settings_pages.py)
        "/settings", "/people", "/things", "/people/{cluster_id}", "/things/{cluster_id}",
        "/m/{media_id}",  # the media view (tests/test_web_media.py)
        "/c/{dataset_id}", "/c/{dataset_id}/trash",  # the library and its trash
        "/search"}  # the search page (tests/test_web_search_pages.py)
    assert callable(public)


def test_a_viewer_cannot_write_anywhere(client, orgs) -> None:  # type: ignore[no-untyped-def]
    a, _ = orgs
    checked = 0
    for method, route in _routes(client.app):
        need = declared_requirement(route)
        if method in _READS or not isinstance(need, Role) or need is Role.viewer:
            continue
        r = _request(client, method, route, a.ids, a.viewer.headers)
        assert r.status_code == 403, (method, route.path, r.status_code, r.text)
        checked += 1
    assert checked > 15
    # and nothing changed: the viewer's attempts left the library as it was
    after = client.get(f"/api/media/{a.media['id']}", headers=a.owner.headers).json()["media"]
    assert after["name"] == a.media["name"] and after["status"] == a.media["status"]


def test_another_organizations_ids_are_not_found(client, orgs) -> None:  # type: ignore[no-untyped-def]
    a, b = orgs
    checked = []
    for method, route in _routes(client.app):
        if declared_requirement(route) == "public":
            continue
        takes_id = bool(re.search(r"\{(?!key:path)[^}]+\}", route.path))
        body = route.body_field
        model = body.field_info.annotation if body is not None else None
        takes_body_id = isinstance(model, type) and issubclass(model, BaseModel) and any(
            _is_id(f.alias or n) and _kind(f.alias or n) not in (None, "key")
            for n, f in model.model_fields.items())
        takes_query_id = any(_is_id(q.alias or q.name) for q in route.dependant.query_params)
        if not (takes_id or takes_body_id or takes_query_id
                or route.path in ("/api/upload/multipart", "/api/upload/tus")) \
                or method == "OPTIONS":
            continue
        # A's owner, with B's ids (and a random key id: keys are ids of nobody's)
        r = _request(client, method, route, {**b.ids, "key": str(uuid.uuid4())},
                     a.owner.headers)
        assert r.status_code == 404, (method, route.path, r.status_code, r.text)
        checked.append(f"{method} {route.path}")
    assert len(checked) > 20, checked
    # B's library is untouched
    media = client.get(f"/api/media/{b.media['id']}", headers=b.owner.headers).json()["media"]
    assert media["name"] == b.media["name"] and media["status"] == "active"
