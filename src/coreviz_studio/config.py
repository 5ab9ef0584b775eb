"""Settings, read from the environment (prefix ``COREVIZ_``) and the command line.

Every setting is documented here and in the README's settings table; `DATABASE_URL` is also read
without the prefix because that is what every PostgreSQL tool uses.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """Root keeps its data under /var/lib (a root home is private to the database user);
    everyone else under their own data directory."""
    if os.geteuid() == 0:
        return Path("/var/lib/coreviz-studio")
    return Path(platformdirs.user_data_dir("coreviz-studio", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COREVIZ_", extra="ignore")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the embedded database, blobs and models live.",
    )
    host: str = Field("127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the HTTP server listens on.")
    database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("COREVIZ_DATABASE_URL", "DATABASE_URL"),
        description="An external PostgreSQL (with vector, ltree, pg_trgm); unset = embedded.",
    )
    public_url: str | None = Field(
        None,
        description="The URL clients reach this server at, used in links; default http://host:port.",
    )
    embedded_pg_user: str = Field(
        "coreviz-postgres",
        description="System user the embedded PostgreSQL runs as when the server runs as root.",
    )
    session_ttl_hours: int = Field(
        24 * 30, ge=1, description="How long a bearer session token stays valid."
    )
    db_pool_size: int = Field(10, ge=1, description="Database connections kept per process.")
    log_level: str = Field("info", description="debug, info, warning or error.")
    blob_dir: Path | None = Field(
        None, description="Where uploaded files and thumbnails live; default <data_dir>/blobs."
    )
    max_upload_bytes: int = Field(
        10 * 1024**3, ge=1, description="Largest file one upload may carry (bytes); larger is 413."
    )
    max_image_pixels: int = Field(
        178_956_970, ge=1,
        description="Largest image accepted (width x height); a bigger one is refused with 413 "
        "before it is decoded (decompression bombs).",
    )

    def effective_blob_dir(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    def effective_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
