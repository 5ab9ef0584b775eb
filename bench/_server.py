"""What the benchmarks share: a real `coreviz-studio serve` on a throwaway data dir, a user with
an API key, and one empty collection; on the way out, the server is stopped, the errors in its
logs are printed and the temp dir is removed (also when the benchmark fails).

It reuses the test suite's process helpers (`tests.processes`), so run the benchmarks from the
repository root: `.venv/bin/python -m bench.upload`.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from tests.processes import Server, cli_json

from coreviz_studio.db.embedded import EmbeddedPostgres

MB = 1024 * 1024
# Lines worth showing from the server's log (tracebacks, errors, 5xx answers) and PostgreSQL's.
_SERVER_PROBLEM = re.compile(r"ERROR|CRITICAL|\" 5\d\d ")
_PG_PROBLEM = re.compile(r"\b(ERROR|FATAL|PANIC):")
# What PostgreSQL logs as FATAL when the run's own stop shuts it down (its background workers,
# such as pg_prewarm's autoprewarm, and any connection still open): expected, not a problem.
_PG_SHUTDOWN = re.compile(r"FATAL: +terminating .* due to administrator command")


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q% of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass
class Bench:
    root: Path  # the temp dir: data dir, logs and scratch files (one filesystem)
    data_dir: Path
    server: Server
    client: httpx.Client  # base_url and x-api-key already set
    org_id: str
    dataset_id: str
    reused: bool = False  # a kept data dir from an earlier run (`running(keep=...)`)

    @property
    def pid(self) -> int:
        """The server's Python process (uvicorn runs in it; PostgreSQL is a separate tree)."""
        return self.server.proc.pid


@contextmanager
def running(prefix: str = "cvs-bench-", env: dict[str, str] | None = None,
            keep: Path | None = None) -> Iterator[Bench]:
    """A server on a throwaway data dir; with `keep`, on that dir instead, kept afterwards and
    reused by the next run (its user, key and collection are remembered in `bench.json`), so
    a benchmark can skip writing a big library it wrote before (`Bench.reused`)."""
    root = keep or Path(tempfile.mkdtemp(prefix=prefix))
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o711)  # as root, the embedded PostgreSQL's user must traverse it
    data_dir = root / "data"
    remembered = root / "bench.json"
    server: Server | None = None
    pg_log = data_dir / "postgres.log"
    log_start = pg_log.stat().st_size if pg_log.exists() else 0  # a kept library's earlier runs
    try:
        server = Server(data_dir, env=env)
        if keep is not None and remembered.exists():
            known = json.loads(remembered.read_text())
            with httpx.Client(base_url=server.url, headers={"x-api-key": known["key"]},
                              timeout=900) as client:
                yield Bench(root, data_dir, server, client, known["org"], known["dataset"],
                            reused=True)
            return
        user = cli_json("users", "create", "--email", "bench@example.org", "--name", "Bench",
                        "--org", "Bench", "--data-dir", str(data_dir))
        headers = {"x-api-key": user["apiKey"]}
        with httpx.Client(base_url=server.url, headers=headers, timeout=900) as client:
            org_id = user["organizationId"]
            r = client.post(f"/api/organization/{org_id}/datasets", json={"name": "bench"})
            if r.status_code != 201:
                raise RuntimeError(f"creating the collection: {r.status_code} {r.text[:500]}")
            bench = Bench(root, data_dir, server, client, org_id, r.json()["id"])
            yield bench
            if keep is not None:  # only once the benchmark wrote what it needs
                remembered.write_text(json.dumps({"key": user["apiKey"], "org": org_id,
                                                  "dataset": bench.dataset_id}))
    finally:
        if server is not None:
            _stop(server)
            print_problems(server, data_dir, log_start)
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


def _stop(server: Server) -> None:
    """SIGTERM and wait (the server stops its embedded PostgreSQL); SIGKILL if it hangs."""
    try:
        server.terminate()
    except Exception:
        with suppress(Exception):
            server.kill9()


def print_problems(server: Server, data_dir: Path, log_start: int = 0,
                   limit: int = 80) -> None:
    """Tracebacks and error lines of the server's output, and the PostgreSQL log's from
    byte `log_start` on (what this run wrote)."""
    lines = server.output().splitlines()
    found: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):  # the whole block, up to the exception's own line
            end = next((j for j in range(i + 1, len(lines)) if not lines[j].startswith(" ")),
                       len(lines) - 1)
            found += [f"server: {text}" for text in lines[i:end + 1]]
        elif _SERVER_PROBLEM.search(line):
            found.append(f"server: {line}")
    pg_log = data_dir / "postgres.log"
    if pg_log.exists():
        with open(pg_log, "rb") as f:
            f.seek(log_start)
            text = f.read().decode(errors="replace")
        found += [f"postgres: {line}" for line in text.splitlines()
                  if _PG_PROBLEM.search(line) and not _PG_SHUTDOWN.search(line)]
    if not found:
        print("logs: no tracebacks, errors or 5xx answers")
        return
    print(f"logs: {len(found)} problem line(s):")
    for line in found[:limit]:
        print(f"  {line}")


@contextmanager
def owner_connection(b: Bench) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the server's embedded PostgreSQL as the tables' owner (no
    row-level security): it joins the running cluster, and leaves it running."""
    pg = EmbeddedPostgres(b.data_dir)
    url = pg.acquire()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            yield conn
    finally:
        pg.release()
