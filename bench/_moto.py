"""A moto_server for the S3 benchmarks (the test suite's helper), stopped on the way out."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests import s3_server


@contextmanager
def moto() -> Iterator[tuple[s3_server.MotoServer, dict[str, str]]]:
    """The server, and the COREVIZ_* settings of a store under a fresh prefix on it."""
    log = Path(tempfile.mkdtemp(prefix="cvs-bench-moto-")) / "moto.log"
    server = s3_server.start(log)
    try:
        yield server, server.env(f"bench-{uuid.uuid4().hex[:8]}/")
    finally:
        server.stop()
