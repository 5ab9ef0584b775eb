"""GET /healthz: 200 when the server and its database answer, 503 otherwise."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from coreviz_studio import __version__
from coreviz_studio.deps import Db, Public
from coreviz_studio.health import service

router = APIRouter(tags=["health"])


@router.get("/healthz", dependencies=[Public])
def healthz(db: Db) -> dict[str, Any]:
    revision = service.check_database(db)
    return {"status": "ok", "database": "ok", "schemaRevision": revision, "version": __version__}
