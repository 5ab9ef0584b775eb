"""How a parallel run shares out its tests (tests/conftest.py hooks this into pytest-xdist for
`--dist loadfile`, the default in addopts).

Each worker tells the controller, through a small file, which test files have module- or
class-scoped fixtures (an expensive setup: models loaded, media processed). The tests of such
a file are sent to one worker together, so that setup is done once; every other test is sent on
its own to whichever worker is free. (xdist's own `loadgroup` does this with `xdist_group` marks,
but does not work with pytest 9's node ids.) Without that information every file goes whole to
one worker, which is plain `loadfile`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from xdist.scheduler import LoadScopeScheduling

ENV = "CVS_TEST_TOGETHER"


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def report(together: set[str]) -> None:
    """In a worker: say which files must stay together (before collection is reported)."""
    base, worker = os.environ.get(ENV), os.environ.get("PYTEST_XDIST_WORKER")
    if base and worker:
        path = Path(f"{base}.{worker}")
        path.with_suffix(".tmp").write_text(json.dumps(sorted(together)))
        path.with_suffix(".tmp").replace(path)


def reported(base: str) -> set[str] | None:
    """In the controller: the union of what the workers said, or None if none did."""
    found = [json.loads(p.read_text()) for p in Path(base).parent.glob(f"{Path(base).name}.gw*")
             if p.suffix != ".tmp"]
    return {name for names in found for name in names} if found else None


class TogetherOrAlone(LoadScopeScheduling):
    """A file that shares setup is one unit of work; any other test is a unit of its own."""

    together: set[str] | None = None

    def schedule(self) -> None:
        if self.together is None and (base := os.environ.get(ENV)):
            self.together = reported(base)
        super().schedule()

    def _split_scope(self, nodeid: str) -> str:
        if self.together is None or file_of(nodeid) in self.together:
            return file_of(nodeid)
        return nodeid
