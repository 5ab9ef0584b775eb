"""Is the database answering, and is its schema current?"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from coreviz_studio.errors import Unavailable


def check_database(session: Session) -> str:
    """The applied schema revision; Unavailable when the database does not answer."""
    try:
        return str(session.execute(text("SELECT version_num FROM alembic_version")).scalar())
    except SQLAlchemyError as exc:
        raise Unavailable(f"Database unavailable: {type(exc).__name__}") from None
