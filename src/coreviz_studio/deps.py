"""Request-scoped dependencies: the database session (committed when the route succeeds,
before the response is sent) and the authenticated caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import cache
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request, Security
from fastapi.concurrency import contextmanager_in_threadpool
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.security import (
    APIKeyCookie,
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBearer,
)
from sqlalchemy.orm import Session
from starlette.routing import BaseRoute

from coreviz_studio import tenancy
from coreviz_studio.auth import service as auth_service
from coreviz_studio.auth.principal import Person, Principal, Role
from coreviz_studio.config import Settings
from coreviz_studio.db.session import Database, committed, rolled_back
from coreviz_studio.errors import AppError, Forbidden, Unauthorized
from coreviz_studio.storage.base import BlobStore
from coreviz_studio.storage.urls import BlobUrls


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_db(request: Request) -> AsyncIterator[Session]:
    """The request's session, once one of COREVIZ_DB_POOL_SIZE places is free. The wait is on
    the event loop, not in a thread: requests that waited for a pooled connection inside the
    threads that the holders of connections need to finish left every thread waiting and the
    server at a standstill until the pool's timeout (bench/load.py, 100 clients: every request
    failed). The pool's overflow (as many again) is left to processing and short checks."""
    places = _db_places(request.app)
    await places.acquire()
    request.state.db_place = True
    try:
        async with contextmanager_in_threadpool(_session_scope(request.app.state.db)) as session:
            yield session
    finally:
        if request.state.db_place:
            places.release()


@asynccontextmanager
async def db_place_lent(request: Request) -> AsyncIterator[None]:
    """While an upload streams its body with no transaction open (it committed first), its
    place goes to other requests: ten slow uploads must not hold every place."""
    if not getattr(request.state, "db_place", False):
        yield
        return
    places = _db_places(request.app)
    places.release()
    request.state.db_place = False
    try:
        yield
    finally:
        await places.acquire()  # cancelled while waiting: nothing is held, nothing released
        request.state.db_place = True


def _db_places(app: Any) -> asyncio.Semaphore:
    """The app's places, for the running event loop (a test may run one app on several)."""
    loop = asyncio.get_running_loop()
    held: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = getattr(
        app.state, "db_places", None)
    if held is None or held[0] is not loop:  # no await in between: made once per loop
        held = app.state.db_places = (loop, asyncio.Semaphore(app.state.settings.db_pool_size))
    return held[1]


@contextmanager
def _session_scope(db: Database) -> Iterator[Session]:
    """Committed when the route succeeds (or raised an error that keeps its changes), else
    rolled back with its undo actions."""
    session: Session = db.sessions()
    try:
        yield session
        session.commit()
        committed(session)
    except BaseException as exc:
        if isinstance(exc, AppError) and exc.keep_changes:
            session.commit()
            committed(session)
        else:
            session.rollback()
            rolled_back(session)
        raise
    finally:
        session.close()


Db = Annotated[Session, Depends(get_db, scope="function")]


# auto_error=False: a missing credential gets the contract's 401 body from the service.
_api_key = APIKeyHeader(name="x-api-key", auto_error=False)
_bearer = HTTPBearer(auto_error=False)
SESSION_COOKIE = "better-auth.session_token"
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False)
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _same_origin(request: Request) -> bool:
    """A cookie-authenticated change must come from a page of this server (no CSRF)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser's cross-site request: browsers send Origin on those
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def same_origin_only(request: Request) -> None:
    """For a route that sets a session (sign-in): a page of another site may not sign the
    browser in to an account of its choosing (login CSRF). Browsers send Origin on every
    cross-site POST; CLIs and SDKs send none and are not concerned."""
    if not _same_origin(request):
        raise Forbidden("Cross-site request refused")


SameOrigin = Depends(same_origin_only)


async def _credential(
    request: Request,
    api_key: Annotated[str | None, Security(_api_key)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    cookie: Annotated[str | None, Security(_cookie)],
) -> tuple[str | None, str | None]:
    """(x-api-key, "Bearer <token>") of the request; the session cookie stands in for the
    Bearer header when no header credential is sent (a browser signed in on this server)."""
    return _pick(request, api_key, bearer.credentials if bearer else None, cookie)


def _pick(request: Request, api_key: str | None, bearer: str | None,
          cookie: str | None) -> tuple[str | None, str | None]:
    if not api_key and not bearer and cookie:
        if request.method not in _SAFE_METHODS and not _same_origin(request):
            raise Forbidden("Cross-site request refused")
        return None, f"Bearer {cookie}"
    return api_key, f"Bearer {bearer}" if bearer else None


def request_credential(request: Request) -> tuple[str | None, str | None]:
    """The same credential, read where a route is public and only sometimes needs one (private
    blobs): no security scheme is declared for it in the OpenAPI document."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return _pick(request, request.headers.get("x-api-key"), bearer,
                 request.cookies.get(SESSION_COOKIE))


Credential = Annotated[tuple[str | None, str | None], Depends(_credential)]


def _authenticated(db: Session, credential: tuple[str | None, str | None],
                   role: Role) -> Principal:
    principal = auth_service.authenticate(db, *credential)
    principal.require(role)
    return principal


@cache
def requires(role: Role, *, hold_db: bool = True) -> Callable[..., Principal]:
    """The dependency a route declares for what it needs: an authenticated caller of at least
    `role` (401 without a credential, 403 below that role), whose organization then scopes every
    query of the request's session through row-level security.

    hold_db=False: the check runs in a transaction of its own that ends at once, for slow
    requests (model inference, URL fetches) that must not hold a connection meanwhile."""
    if hold_db:
        def caller(db: Db, credential: Credential) -> Principal:
            principal = _authenticated(db, credential, role)
            tenancy.bind(db, principal)
            return principal
    else:
        def caller(request: Request, credential: Credential) -> Principal:  # type: ignore[misc]
            with request.app.state.db.sessions() as session:
                principal = _authenticated(session, credential, role)
                session.commit()
            return principal
    caller.required_role = role  # type: ignore[attr-defined]  # read by check_declared
    return caller


async def public() -> None:
    """The declaration of a route that anyone may call (sign-in, health, blobs by key...)."""


SIGNED_IN = "user"  # what declared_requirement reports for signed_in


def signed_in(db: Db, credential: Credential) -> Person:
    """The dependency of the routes an invitee uses (see, accept or reject an invitation): a
    person signed in with a session, in any organization or in none yet. No organization
    scopes the session: these routes touch only the invitee's own invitations."""
    return auth_service.authenticate_person(db, *credential)


signed_in.required_role = SIGNED_IN  # type: ignore[attr-defined]  # read by check_declared


def session_or_key(db: Db, credential: Credential) -> Person | Principal:
    """sign-out's caller: a session, in an organization or in none yet (an invitee must be able
    to sign out too), or an API key (for which signing out does nothing)."""
    try:
        return auth_service.authenticate_person(db, *credential)
    except Forbidden:  # a valid API key (a wrong one is a 401 already)
        return auth_service.authenticate(db, *credential)


session_or_key.required_role = SIGNED_IN  # type: ignore[attr-defined]  # read by check_declared


Viewer = Annotated[Principal, Depends(requires(Role.viewer))]
Member = Annotated[Principal, Depends(requires(Role.member))]
Admin = Annotated[Principal, Depends(requires(Role.admin))]
ViewerNoDb = Annotated[Principal, Depends(requires(Role.viewer, hold_db=False))]
Public = Depends(public)
SignedIn = Annotated[Person, Depends(signed_in)]
SessionOrKey = Annotated[Person | Principal, Depends(session_or_key)]


def optional_principal(db: Db, credential: Credential) -> Principal | None:
    """The caller, or None for an anonymous one (get-session answers null then); for public
    routes that answer differently to a signed-in caller."""
    try:
        principal = auth_service.authenticate(db, *credential)
    except Unauthorized:
        return None
    tenancy.bind(db, principal)
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


def api_routes(routes: Sequence[BaseRoute]) -> list[RouteContext]:
    """Every API route of an app, with its full path (routers included with a prefix are
    nested in app.routes; FastAPI's route contexts see through them)."""
    return [r for r in iter_route_contexts(routes) if isinstance(r.original_route, APIRoute)]


def declared_requirement(route: RouteContext | APIRoute) -> Role | str | None:
    """What a route declares: a Role, "public", "user" (deps.SignedIn), or None when it
    declares nothing."""
    found: list[Role | str] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call is public:
            found.append("public")
        elif (role := getattr(dep.call, "required_role", None)) is not None:
            found.append(role)
        stack.extend(dep.dependencies)
    if len(set(found)) > 1:
        raise RuntimeError(f"{route.path} declares several requirements: {found}")
    return found[0] if found else None


def check_declared(routes: Sequence[BaseRoute]) -> None:
    """Refuse to start when a route declares no role, SignedIn or Public: a new route
    is covered by the walls (and by the tests generated from app.routes) or does not run."""
    missing = [f"{sorted(r.methods or ())} {r.path}" for r in api_routes(routes)
               if declared_requirement(r) is None]
    if missing:
        raise RuntimeError("routes without a declared requirement (deps.requires or "
                           f"deps.Public): {', '.join(missing)}")


async def client_address(request: Request) -> str:
    """Who is calling, for rate limits (the direct peer; a proxy would need trusted headers)."""
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]


async def get_blob_store(request: Request) -> BlobStore:
    store: BlobStore = request.app.state.blobs
    return store


async def get_database(request: Request) -> Database:
    """The open database itself, for the public routes that decide in a system session what
    anyone may see (blob serving: blobs/refs.py)."""
    database: Database = request.app.state.db
    return database


async def get_blob_urls(request: Request) -> BlobUrls:
    urls: BlobUrls = request.app.state.blob_urls
    return urls


Config = Annotated[Settings, Depends(get_settings)]
Blobs = Annotated[BlobStore, Depends(get_blob_store)]
Urls = Annotated[BlobUrls, Depends(get_blob_urls)]
AppDatabase = Annotated[Database, Depends(get_database)]
