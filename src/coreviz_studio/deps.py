"""Request-scoped dependencies: the database session (committed when the route succeeds,
before the response is sent) and the authenticated caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from coreviz_studio.auth import service as auth_service
from coreviz_studio.auth.principal import Principal
from coreviz_studio.config import Settings
from coreviz_studio.db.session import committed, rolled_back
from coreviz_studio.storage.base import BlobStore
from coreviz_studio.storage.urls import BlobUrls


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    session: Session = request.app.state.db.sessions()
    try:
        yield session
        session.commit()
        committed(session)
    except BaseException:
        session.rollback()
        rolled_back(session)
        raise
    finally:
        session.close()


Db = Annotated[Session, Depends(get_db, scope="function")]


# auto_error=False: a missing credential gets the contract's 401 body from the service.
_api_key = APIKeyHeader(name="x-api-key", auto_error=False)
_bearer = HTTPBearer(auto_error=False)


def current_principal(
    db: Db,
    api_key: Annotated[str | None, Security(_api_key)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Principal:
    authorization = f"Bearer {bearer.credentials}" if bearer else None
    return auth_service.authenticate(db, api_key, authorization)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def get_blob_store(request: Request) -> BlobStore:
    store: BlobStore = request.app.state.blobs
    return store


def get_blob_urls(request: Request) -> BlobUrls:
    urls: BlobUrls = request.app.state.blob_urls
    return urls


Config = Annotated[Settings, Depends(get_settings)]
Blobs = Annotated[BlobStore, Depends(get_blob_store)]
Urls = Annotated[BlobUrls, Depends(get_blob_urls)]
