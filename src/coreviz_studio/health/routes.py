"""GET /healthz: 200 while the server can serve ("ok", or "degraded" when disk space runs
low), 503 when its database does not answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from coreviz_studio import __version__
from coreviz_studio.deps import Config, Db, Public
from coreviz_studio.health import service

router = APIRouter(tags=["health"])


@router.get("/healthz", dependencies=[Public])
def healthz(db: Db, settings: Config) -> dict[str, Any]:
    """Degraded still answers 200: readiness probes keep routing to a server that can serve
    reads; monitoring reads `status` and `problems`."""
    revision = service.check_database(db)
    disk, problems = service.check_disk(settings)
    return {"status": "degraded" if problems else "ok", "database": "ok",
            "schemaRevision": revision, "version": __version__, "disk": disk,
            **({"problems": problems} if problems else {})}
