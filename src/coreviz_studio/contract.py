"""What the API promises beyond its routes: the error statuses each route can answer (derived
here, in one place, from what the route declares), ids typed as UUIDs, and 405 answers with a
complete Allow header. create_app calls `install`."""

from __future__ import annotations

from collections.abc import MutableMapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.utils import get_flat_params
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import Match

from coreviz_studio.auth.principal import Role
from coreviz_studio.deps import SIGNED_IN, api_routes, declared_requirement
from coreviz_studio.errors import phrase

ERROR = "ErrorBody"
OAUTH_ERROR = "OAuthErrorBody"
_SCHEMAS: dict[str, Any] = {
    ERROR: {"type": "object", "required": ["error", "message"], "properties": {
        "error": {"type": "string", "description": "The HTTP reason phrase"},
        "message": {"type": "string", "description": "What is wrong, for a person"},
        "code": {"type": "string", "description": "A stable code, where a client may switch"},
        "details": {"type": "array", "items": {"type": "object"},
                    "description": "Each invalid value, for a validation error"}}},
    # RFC 6749 5.2 / RFC 8628 3.5, as the device-login routes answer.
    OAUTH_ERROR: {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "string"}, "error_description": {"type": "string"}}},
}
_SAFE = {"GET", "HEAD", "OPTIONS"}
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def contexts(app: FastAPI) -> list[RouteContext]:
    """Every route as served (FastAPI keeps an included router as one entry of app.routes)."""
    return list(iter_route_contexts(app.routes))


def _api_routes(app: FastAPI) -> list[APIRoute]:
    return [c.original_route for c in api_routes(app.routes)]  # type: ignore[misc]


def _is_id(name: str) -> bool:
    return name == "id" or name.endswith(("Id", "_id"))


def _body_fields(route: APIRoute) -> list[str]:
    model = route.body_field.field_info.annotation if route.body_field else None
    fields = getattr(model, "model_fields", {})
    return [f.alias or n for n, f in fields.items()] + list(fields)


def statuses(route: APIRoute) -> set[int]:
    """The error statuses a route can answer, from its declared requirement, its parameters
    and its body; a route adds what only it can answer with `responses=` (413/415 of upload)."""
    params = [field.alias for field in get_flat_params(route.dependant)]
    body = route.body_field is not None or "requestBody" in (route.openapi_extra or {})
    found = {s for s in (int(k) for k in route.responses if str(k).isdigit()) if s >= 400}
    found.add(503)  # the database (or the disk) can be unavailable to any route
    if params or body:
        found |= {400, 422}  # a malformed value is a 400; a well-formed but invalid one a 422
    if body:
        found.add(413)  # the body-size limit applies to every body
    requirement = declared_requirement(route)
    if requirement != "public":
        found.add(401)
        # A role above viewer; or a change, which a read-only key (or a cross-site cookie)
        # may not make.
        # A person's own routes (SignedIn) refuse an API key, which acts for an organization.
        if (isinstance(requirement, Role) and requirement != Role.viewer) or \
                requirement == SIGNED_IN or (route.methods or set()) & _WRITES:
            found.add(403)
    if route.param_convertors or any(_is_id(n) for n in params + _body_fields(route)):
        found.add(404)  # an id (or a key) that names nothing the caller can see
    return found


def _error_content(route: APIRoute, status: int) -> dict[str, Any]:
    ref: dict[str, Any] = {"$ref": f"#/components/schemas/{ERROR}"}
    if route.path.startswith("/api/auth/device") and status in (400, 401, 403):
        ref = {"anyOf": [ref, {"$ref": f"#/components/schemas/{OAUTH_ERROR}"}]}
    return {"application/json": {"schema": ref}}


def _plain_param(param: dict[str, Any]) -> None:
    """A query or path value is never null (leaving it out is the null): keep only the
    non-null branch, so a client (or a fuzzer) is not told to send the string "null"."""
    schema = param.get("schema", {})
    branches = schema.get("anyOf")
    if branches and any(b.get("type") == "null" for b in branches):
        kept = [b for b in branches if b.get("type") != "null"]
        schema.pop("anyOf")
        if len(kept) == 1:
            schema.update(kept[0])
        else:
            schema["anyOf"] = kept


def _json_params(operation: dict[str, Any]) -> None:
    """A parameter whose value is JSON (tagFilters) is documented with its content type."""
    for param in operation.get("parameters", []):
        schema = param.get("schema", {})
        if param.get("in") == "query" and schema.get("type") == "object":
            param["content"] = {"application/json": {"schema": param.pop("schema")}}


def document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document: FastAPI's, with every route's error statuses and their body."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(title=app.title, version=app.version, description=app.description,
                       routes=app.routes)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(_SCHEMAS)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)  # our handler answers validation errors with ErrorBody
    for route in _api_routes(app):
        if not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = spec["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            for param in operation.get("parameters", []):
                _plain_param(param)
            _json_params(operation)
            if operation.get("security") and declared_requirement(route) == "public":
                # Public, but answering a signed-in caller differently (get-session): the
                # credential is optional, which OpenAPI writes as an empty requirement.
                operation["security"].append({})
            responses = operation.setdefault("responses", {})
            if "422" in responses and 422 not in statuses(route):
                responses.pop("422")
            documented = {int(k) for k in responses if k.isdigit() and int(k) >= 400}
            for status in sorted(statuses(route) | documented):
                answer = responses.setdefault(str(status), {})
                answer["description"] = answer.get("description") or phrase(status)
                if answer["description"] == "Validation Error":
                    answer["description"] = HTTPStatus(status).phrase
                answer["content"] = _error_content(route, status)
    app.openapi_schema = spec
    return spec


def allowed_methods(app: FastAPI, scope: MutableMapping[str, Any]) -> list[str]:
    """Every method some route answers at this request's path (HEAD where GET is)."""
    methods: set[str] = set()
    for route in contexts(app):
        match, _ = route.matches({**scope, "method": "GET"})
        if match != Match.NONE:  # PARTIAL: the path matches, the method does not
            methods |= set(route.methods or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


class HeadAsGet:
    """HEAD is answered wherever GET is (RFC 9110 9.3.2): run as a GET, send no body. A route
    that declares HEAD itself (blobs) keeps it."""

    def __init__(self, app: Any, routes: FastAPI) -> None:
        self.app = app
        self.routes = routes

    def _declares_head(self, scope: dict[str, Any]) -> bool:
        return any(route.matches(scope)[0] == Match.FULL for route in contexts(self.routes))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD" or self._declares_head(scope):
            await self.app(scope, receive, send)
            return

        async def without_body(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)


def install(app: FastAPI) -> None:
    """The OpenAPI document, HEAD wherever GET is, and 405 answers, as above."""

    def openapi() -> dict[str, Any]:
        return document(app)

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(HeadAsGet, routes=app)

    @app.exception_handler(405)
    async def _method_not_allowed(request: Request, exc: HTTPException) -> JSONResponse:
        allow = ", ".join(allowed_methods(app, request.scope))
        return JSONResponse({"error": HTTPStatus(405).phrase,
                             "message": f"{request.method} is not allowed here; use {allow}"},
                            status_code=405, headers={"Allow": allow})
