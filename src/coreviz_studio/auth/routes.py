"""HTTP for sign-in, sessions, device login and API keys, at better-auth's paths."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from coreviz_studio.auth import device, keys, sessions
from coreviz_studio.auth.schemas import (
    ApiKeyCreateBody,
    ApiKeyCreated,
    ApiKeyDeleteBody,
    ApiKeyOut,
    DeviceCodeBody,
    DeviceCodeStatus,
    DeviceDecisionBody,
    DeviceTokenBody,
    GetSessionOut,
    SessionOut,
    SignInBody,
    SignInOut,
    Success,
    UserOut,
)
from coreviz_studio.config import Settings
from coreviz_studio.deps import (
    SESSION_COOKIE,
    Admin,
    ClientAddress,
    Config,
    Db,
    OptionalPrincipal,
    Public,
    SameOrigin,
    SessionOrKey,
    Viewer,
)

router = APIRouter(prefix="/api/auth", tags=["auth"])
_NO_STORE = {"Cache-Control": "no-store"}
# Statuses only these routes answer (contract.py adds the ones every route can).
_CODE_ANSWERS: dict[int | str, dict[str, str]] = {
    429: {"description": "Too many wrong codes"}}


def _ttl(settings: Settings) -> timedelta:
    return timedelta(hours=settings.session_ttl_hours)


@router.post("/sign-in/email", response_model=SignInOut, dependencies=[Public, SameOrigin],
             responses={401: {"description": "Wrong email or password"},
                        403: {"description": "Sent by a page of another site"},
                        429: {"description": "Too many failed attempts"}})
def sign_in(body: SignInBody, request: Request, response: Response, db: Db, settings: Config,
            client: ClientAddress) -> SignInOut:
    """Email and password -> a bearer token, also set as an http-only session cookie."""
    done = sessions.sign_in(db, body.email, body.password, _ttl(settings), client,
                            request.headers.get("user-agent"), settings)
    response.set_cookie(SESSION_COOKIE, done.token, max_age=int(_ttl(settings).total_seconds()),
                        httponly=True, samesite="lax", path="/",
                        secure=settings.effective_public_url().startswith("https://"))
    response.headers.update(_NO_STORE)
    return SignInOut(token=done.token, user=UserOut.model_validate(done.user))


@router.post("/sign-out", response_model=Success)
def sign_out(response: Response, db: Db, caller: SessionOrKey) -> Success:
    sessions.sign_out(db, caller)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return Success()


@router.get("/get-session", response_model=GetSessionOut | None, dependencies=[Public])
def get_session(db: Db, principal: OptionalPrincipal) -> GetSessionOut | JSONResponse:
    """The caller's session and user; `null` when not signed in (as better-auth answers)."""
    if principal is None:
        return JSONResponse(None, headers=_NO_STORE)
    info = sessions.session_info(db, principal)
    return GetSessionOut(
        session=SessionOut(id=info.id, user_id=info.user.id, expires_at=info.expires_at,
                           created_at=info.created_at,
                           active_organization_id=info.active_organization_id, kind=info.method),
        user=UserOut.model_validate(info.user))


# --- device login (RFC 8628) ------------------------------------------------------------------


@router.post("/device/code", dependencies=[Public],
             responses={429: {"description": "Too many codes from this address"}})
def device_code(body: DeviceCodeBody, db: Db, settings: Config,
                client: ClientAddress) -> JSONResponse:
    answer = device.request_code(db, body.client_id, body.scope, client, settings)
    return JSONResponse(answer, headers=_NO_STORE)


@router.post("/device/token", dependencies=[Public])
def device_token(body: DeviceTokenBody, db: Db, settings: Config) -> JSONResponse:
    answer = device.poll(db, body.grant_type, body.device_code, body.client_id, _ttl(settings))
    return JSONResponse(answer, headers=_NO_STORE)


@router.get("/device", response_model=DeviceCodeStatus, dependencies=[Public],
            responses={429: {"description": "Too many wrong codes"}})
def device_verify(user_code: str, db: Db, client: ClientAddress,
                  settings: Config) -> DeviceCodeStatus:
    """Check a user code (what the verification page does before asking to approve)."""
    row = device.find(db, user_code, client, settings)
    return DeviceCodeStatus(user_code=device.display_user_code(row.user_code), status=row.status,
                            client_id=row.client_id, scope=row.scope, expires_at=row.expires_at)


@router.post("/device/approve", response_model=Success, responses=_CODE_ANSWERS)
def device_approve(body: DeviceDecisionBody, db: Db, principal: Viewer,
                   client: ClientAddress, settings: Config) -> Success:
    device.decide(db, principal, body.user_code, True, client, settings)
    return Success()


@router.post("/device/deny", response_model=Success, responses=_CODE_ANSWERS)
def device_deny(body: DeviceDecisionBody, db: Db, principal: Viewer,
                client: ClientAddress, settings: Config) -> Success:
    device.decide(db, principal, body.user_code, False, client, settings)
    return Success()


# --- API keys ---------------------------------------------------------------------------------


@router.post("/api-key/create", response_model=ApiKeyCreated,
             responses={404: {"description": "A collection of the scope is not found"}})
def create_api_key(body: ApiKeyCreateBody, db: Db, principal: Admin) -> ApiKeyCreated:
    """A new key; `readOnly` and `collections` narrow it (never beyond the caller's own)."""
    row, secret = keys.create(db, principal, body.name or "", body.expires_in, body.read_only,
                              body.collections)
    return ApiKeyCreated(**keys.describe(row), key=secret)


@router.get("/api-key/list", response_model=list[ApiKeyOut])
def list_api_keys(db: Db, principal: Viewer) -> list[ApiKeyOut]:
    return [ApiKeyOut(**keys.describe(row)) for row in keys.list_keys(db, principal)]


@router.post("/api-key/delete", response_model=Success)
def delete_api_key(body: ApiKeyDeleteBody, db: Db, principal: Admin) -> Success:
    keys.revoke(db, principal, body.key_id)
    return Success()
