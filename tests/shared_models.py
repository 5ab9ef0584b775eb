"""Model files kept beside the checkout in ../shared/models (not in the repository, too big):
where the tests and benchmarks look for them."""

from __future__ import annotations

import os
from pathlib import Path

_NAME = "nanodet-coco-416.onnx"


def _detector() -> Path:
    """COREVIZ_TEST_DETECTOR, or the first shared/models/ above this checkout that holds it (a
    git worktree sits deeper than the main checkout); else where it would be beside it."""
    if given := os.environ.get("COREVIZ_TEST_DETECTOR"):
        return Path(given)
    here = Path(__file__).resolve()
    for up in here.parents:
        if (up / "shared" / "models" / _NAME).exists():
            return up / "shared" / "models" / _NAME
    return here.parents[2] / "shared" / "models" / _NAME


DETECTOR = _detector()  # the COCO object detector (NanoDet, 416 x 416)
