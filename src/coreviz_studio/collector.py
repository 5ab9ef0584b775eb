"""Python's garbage collector in a long-running server process.

A full collection scans every container object the process holds. A web process holds ~280,000
after start-up (the app, SQLAlchemy's and pydantic's structures, the routes' models), so each
full collection, which the churn of a few hundred requests triggers every few seconds, stopped
every request in the process for 150-250 ms: the slowest browse pages were those (measured
with gc.callbacks on a 1M-item library, docs/speed.md). What exists once the process has
started is never garbage; frozen, it is left out of every later scan, so a full collection
only looks at what requests made since.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect once, then freeze what is left: call when start-up is done."""
    gc.collect()
    gc.freeze()
