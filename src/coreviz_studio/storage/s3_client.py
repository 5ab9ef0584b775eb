"""The boto3 client an S3 store talks through, built from the settings, and the one place S3's
failures become errors the API answers (503 + Retry-After) instead of a 500."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from coreviz_studio.config import Settings
from coreviz_studio.storage.base import StorageUnavailable, StoreSettingsError

# Codes S3 answers for "no such thing": they mean NotStored (or nothing to do), not an outage.
MISSING = frozenset({"404", "NoSuchKey", "NoSuchUpload", "NotFound"})


class S3SettingsError(StoreSettingsError):
    """The COREVIZ_S3_* settings can't make a working store."""


def code_of(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get(
        "HTTPStatusCode", "?"))


def is_missing(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and code_of(exc) in MISSING


@contextmanager
def answering() -> Iterator[None]:
    """S3 unreachable, timing out, refusing the credentials or failing: StorageUnavailable
    (botocore has already retried). "Not found" answers pass through for the caller."""
    try:
        yield
    except ClientError as exc:
        if is_missing(exc):
            raise
        raise StorageUnavailable(f"S3 answered {code_of(exc)}") from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(f"S3: {type(exc).__name__}") from exc


def client_from_settings(settings: Settings) -> Any:
    if not settings.s3_bucket:
        raise S3SettingsError("COREVIZ_STORAGE=s3 needs a bucket: set COREVIZ_S3_BUCKET")
    if bool(settings.s3_access_key_id) != bool(settings.s3_secret_access_key):
        raise S3SettingsError("set both COREVIZ_S3_ACCESS_KEY_ID and COREVIZ_S3_SECRET_ACCESS_KEY"
                              ", or neither (the standard AWS credential chain)")
    url = settings.s3_endpoint_url
    if url is not None and not url.startswith(("http://", "https://")):
        raise S3SettingsError(f"COREVIZ_S3_ENDPOINT_URL must be an http(s) URL, not {url!r}")
    if settings.s3_prefix.startswith("/") or ".." in settings.s3_prefix.split("/"):
        raise S3SettingsError("COREVIZ_S3_PREFIX must be relative (like `coreviz/`), "
                              f"not {settings.s3_prefix!r}")
    config = Config(
        s3={"addressing_style": settings.s3_addressing_style},
        # A dead endpoint fails a request in seconds, not minutes; "standard" retries the
        # throttling and 5xx answers S3 services give under load, with backoff.
        connect_timeout=5, read_timeout=60, retries={"mode": "standard", "max_attempts": 4},
        # Checksums only where the operation needs one (or we ask for one): some
        # S3-compatible services refuse the newer default trailing CRC32.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        max_pool_connections=20,
    )
    credentials = {}
    if settings.s3_access_key_id and settings.s3_secret_access_key:
        credentials = {"aws_access_key_id": settings.s3_access_key_id,
                       "aws_secret_access_key": settings.s3_secret_access_key}
    return boto3.session.Session().client(
        "s3", endpoint_url=url, region_name=settings.s3_region, config=config, **credentials)
