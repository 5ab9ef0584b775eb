"""schemathesis, every phase and every check, for a short time budget: zero failures. `make
fuzz` runs the same for longer (tests/fuzz.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import fuzz

# The suite's run is the same every time (deterministic generation, a fixed number of cases
# per operation), so a failure here is reproducible rather than a roll of the dice; `make fuzz`
# explores at random for longer. BUDGET_S only bounds it.
BUDGET_S = 60
EXAMPLES = 10


@pytest.mark.slow
def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    done = fuzz.run(BUDGET_S, seed=1, report_dir=tmp_path / "report", max_examples=EXAMPLES,
                    deterministic=True)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-20000:]
    assert re.search(r"\d+ generated", output), output[-5000:]
