"""schemathesis, every phase and every check, for a short time budget: zero failures. `make
fuzz` runs the same for longer (tests/fuzz.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import fuzz

BUDGET_S = 75


@pytest.mark.slow
def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    done = fuzz.run(BUDGET_S, seed=1, report_dir=tmp_path / "report")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-20000:]
    assert re.search(r"\d+ generated", output), output[-5000:]
