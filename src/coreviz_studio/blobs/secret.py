"""The blob URL signing key: made once, at first use, and kept in the database so that every API
process (on any machine) signs and checks with the same one."""

from __future__ import annotations

import secrets

from sqlalchemy import text

from coreviz_studio.db.session import Database

_NAME = "blob-url-signing"


def signing_secret(db: Database) -> bytes:
    # A system session: the table is the owner's alone (migration 0007). ON CONFLICT: two
    # processes starting together agree on whichever key was stored first.
    with db.system_sessions.begin() as session:
        session.execute(text("INSERT INTO server_secrets (name, value) VALUES (:n, :v) "
                             "ON CONFLICT (name) DO NOTHING"),
                        {"n": _NAME, "v": secrets.token_hex(32)})
        value = session.scalar(text("SELECT value FROM server_secrets WHERE name = :n"),
                               {"n": _NAME})
    return bytes.fromhex(value)
