"""What both clients share: where the server is, the credential, the retry policy."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import httpx

from coreviz_studio.client.errors import APIError, parse_retry_after

ENV_URL = "COREVIZ_API_URL"  # the official CLI's variables
ENV_KEY = "COREVIZ_API_KEY"
DEFAULT_URL = "http://127.0.0.1:8000"
RETRY_STATUSES = frozenset({429, 503})


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("coreviz-studio")
    except Exception:  # not installed: a checkout on PYTHONPATH
        return "0"


USER_AGENT = f"coreviz-studio-client/{_version()} (python; httpx/{httpx.__version__})"


def normalise_base_url(url: str) -> str:
    """The server's root: accepts it with or without a trailing `/` or `/api`."""
    url = url.strip().rstrip("/")
    return url[:-4] if url.endswith("/api") else url


@dataclass(frozen=True)
class Retry:
    """Retries: on 429 and 503 (waiting what Retry-After says, when it says it), and on
    connection errors for idempotent requests only. `max_wait` caps one wait: an answer asking
    for longer is raised at once (RateLimited.retry_after tells the caller how long)."""

    attempts: int = 4  # tries in all, the first included
    backoff: float = 0.5  # first wait when the server gives none; doubles, with jitter
    max_backoff: float = 8.0
    max_wait: float = 30.0

    def delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before try `attempt + 1`, or None to give up."""
        if attempt >= self.attempts:
            return None
        if response is not None:
            told = parse_retry_after(response.headers.get("retry-after"))
            if told is not None:
                return told if told <= self.max_wait else None
        base = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return base * (0.5 + random.random() / 2)  # noqa: S311  (jitter, not a secret)


NO_RETRY = Retry(attempts=1)


def credential_headers(api_key: str | None, token: str | None) -> dict[str, str]:
    if token:
        return {"Authorization": f"Bearer {token}"}
    if api_key:
        return {"x-api-key": api_key}
    return {}


def resolve(base_url: str | None, api_key: str | None,
            token: str | None) -> tuple[str, str | None, str | None]:
    url = base_url or os.environ.get(ENV_URL) or DEFAULT_URL
    if api_key is None and token is None:
        api_key = os.environ.get(ENV_KEY) or None
    return normalise_base_url(url), api_key, token


def is_retryable(exc: APIError) -> bool:
    return exc.status in RETRY_STATUSES
