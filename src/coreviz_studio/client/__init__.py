"""A typed Python client of the CoreViz Studio API, sync (`Client`) and async (`AsyncClient`),
on httpx. It imports nothing of the server (an import-linter contract says so): it speaks
HTTP only. docs/client.md shows it in use."""

from coreviz_studio.client._async import AsyncClient
from coreviz_studio.client._sync import Client
from coreviz_studio.client.config import ENV_KEY, ENV_URL, Retry
from coreviz_studio.client.errors import (
                                          APIError,
                                          BadRequest,
                                          ChecksumMismatch,
                                          Conflict,
                                          ConnectionFailed,
                                          CoreVizError,
                                          Forbidden,
                                          Gone,
                                          Locked,
                                          NotFound,
                                          NotImplementedByServer,
                                          PreconditionFailed,
                                          RateLimited,
                                          ServerError,
                                          ServiceUnavailable,
                                          TooLarge,
                                          Unauthorized,
                                          Unprocessable,
                                          UnsupportedMediaType,
                                          UploadError,
)
from coreviz_studio.client.tus import AsyncUpload, Upload

__all__ = [
                                          "ENV_KEY",
                                          "ENV_URL",
                                          "APIError",
                                          "AsyncClient",
                                          "AsyncUpload",
                                          "BadRequest",
                                          "ChecksumMismatch",
                                          "Client",
                                          "Conflict",
                                          "ConnectionFailed",
                                          "CoreVizError",
                                          "Forbidden",
                                          "Gone",
                                          "Locked",
                                          "NotFound",
                                          "NotImplementedByServer",
                                          "PreconditionFailed",
                                          "RateLimited",
                                          "Retry",
                                          "ServerError",
                                          "ServiceUnavailable",
                                          "TooLarge",
                                          "Unauthorized",
                                          "Unprocessable",
                                          "UnsupportedMediaType",
                                          "Upload",
                                          "UploadError",
]
