"""Run schemathesis (every phase, every check) against a real `coreviz-studio serve`: the test
suite's short run (tests/test_fuzz.py) and `make fuzz`'s long one share this.

python -m tests.fuzz [--max-time SECONDS] [--seed N] [--report-dir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.processes import Server

ROOT = Path(__file__).resolve().parent.parent


ALL_PHASES = "examples,coverage,fuzzing,stateful"


def schemathesis_command(url: str, key: str, max_time: int, seed: int,
                         report_dir: Path, max_examples: int | None = None,
                         deterministic: bool = False, phases: str = ALL_PHASES) -> list[str]:
    # The config (schemathesis.toml) is read from the repository root, where this runs.
    return [str(Path(sys.executable).parent / "schemathesis"), "run", f"{url}/openapi.json",
            "-H", f"x-api-key: {key}", "--checks", "all",
            "--phases", phases, "--max-time", str(max_time),
            "--seed", str(seed), "--report", "junit", "--report-dir", str(report_dir),
            "--no-color", *(["--max-examples", str(max_examples)] if max_examples else []),
            *(["--generation-deterministic"] if deterministic else [])]


def run(max_time: int, seed: int, report_dir: Path, max_examples: int | None = None,
        deterministic: bool = False) -> subprocess.CompletedProcess[str]:
    """A fresh server on its own data dir (its own embedded PostgreSQL), fuzzed with its
    bootstrap admin's key, every phase in one run; the server stops afterwards."""
    return run_phases({ALL_PHASES: max_time}, seed, report_dir, max_examples,
                      deterministic)[ALL_PHASES]


def run_phases(budgets: dict[str, int], seed: int, report_dir: Path,
               max_examples: int | None = None, deterministic: bool = False,
               ) -> dict[str, subprocess.CompletedProcess[str]]:
    """One fresh server, then one schemathesis run per entry (phases -> seconds), so that
    each phase gets its share of a short budget instead of the first phases taking it all."""
    data = Path(tempfile.mkdtemp(prefix="cvs-fuzz-"))
    data.chmod(0o711)
    server = Server(data / "data")
    try:
        key = server.first_key()
        assert key, server.output()
        return {phases: subprocess.run(
                    schemathesis_command(server.url, key, seconds, seed,
                                         report_dir / phases.replace(",", "-"), max_examples,
                                         deterministic, phases),
                    cwd=ROOT, capture_output=True, text=True, check=False, timeout=seconds + 300)
                for phases, seconds in budgets.items()}
    finally:
        server.terminate()
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-time", type=int, default=600)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--report-dir", type=Path, default=ROOT / "schemathesis-report")
    parser.add_argument("--max-examples", type=int, default=None,
                        help="cases per operation and phase (default: as many as time allows)")
    args = parser.parse_args()
    done = run(args.max_time, args.seed, args.report_dir, args.max_examples)
    print(done.stdout, done.stderr, sep="\n")
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
