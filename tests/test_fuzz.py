"""schemathesis, every phase that has work and every check, for a short time budget: zero
failures. `make fuzz` runs the same for longer (tests/fuzz.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import fuzz

# The suite's run is the same every time (deterministic generation, a fixed number of cases
# per operation, the operations in a fixed order), so a failure here is reproducible rather
# than a roll of the dice; `make fuzz` explores at random for longer. The budget is split by
# phase, one run each, so that every phase runs: in one run the coverage phase alone would
# take it all. The examples phase is left to `make fuzz`: the schema declares no examples, so
# it sends nothing, yet under load it used a whole 5 s budget finding that out (0 cases
# generated in CI). The coverage phase's budget includes loading and analysing the schema (2-3 s
# under load): with 6 s it once generated nothing while other work shared the cores.
BUDGETS_S = {"coverage": 9, "fuzzing": 3, "stateful": 3}
EXAMPLES = 10


@pytest.mark.slow
def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    done = fuzz.run_phases(BUDGETS_S, seed=1, report_dir=tmp_path / "report",
                           max_examples=EXAMPLES, deterministic=True)
    assert set(done) == set(BUDGETS_S)
    for phases, finished in done.items():
        output = finished.stdout + finished.stderr
        assert finished.returncode == 0, (phases, output[-20000:])
        assert re.search(r"[1-9]\d* generated", output), (phases, output[-5000:])
