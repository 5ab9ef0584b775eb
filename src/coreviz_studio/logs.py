"""Logging setup, and the filter that keeps secrets out of access logs."""

from __future__ import annotations

import logging
import re
import sys

# Query parameters that may carry a secret or a short-lived code.
_SECRET_PARAMS = re.compile(r"(?i)\b(user_code|device_code|token|access_token|api_key|key)=[^&\s]*")


class RedactSecrets(logging.Filter):
    """Blank out secret query values in uvicorn's access lines (path is the 3rd argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            if isinstance(args[2], str):
                args[2] = _SECRET_PARAMS.sub(r"\1=[redacted]", args[2])
                record.args = tuple(args)
        return True


def setup(level: str) -> None:
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("uvicorn.access").addFilter(RedactSecrets())
