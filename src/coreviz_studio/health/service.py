"""Is the database answering, is its schema current, is there disk space left?"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from coreviz_studio.config import Settings
from coreviz_studio.diskspace import free_bytes
from coreviz_studio.errors import Unavailable


def check_database(session: Session) -> str:
    """The applied schema revision; Unavailable when the database does not answer."""
    try:
        return str(session.execute(text("SELECT version_num FROM alembic_version")).scalar())
    except SQLAlchemyError as exc:
        raise Unavailable(f"Database unavailable: {type(exc).__name__}") from None


def check_disk(settings: Settings) -> tuple[dict[str, Any], list[str]]:
    """Free space where blobs and the database are written: ({name: {freeMb, ok}}, problems).
    Named, never shown as paths (the answer is public)."""
    floor = settings.min_free_disk_mb
    places: dict[str, Path] = {"blobs": settings.effective_blob_dir(), "data": settings.data_dir}
    report: dict[str, Any] = {}
    problems: list[str] = []
    for name, path in places.items():
        try:
            free_mb = free_bytes(path) // (1024 * 1024)
        except OSError:
            report[name] = {"ok": False, "freeMb": None}
            problems.append(f"{name}: its directory cannot be checked")
            continue
        ok = free_mb >= floor
        report[name] = {"ok": ok, "freeMb": free_mb}
        if not ok:
            problems.append(f"{name}: {free_mb} MB free, below the minimum of {floor} MB "
                            "(COREVIZ_MIN_FREE_DISK_MB); uploads and processing fail when "
                            "it is full")
    return {"minFreeMb": floor, **report}, problems
