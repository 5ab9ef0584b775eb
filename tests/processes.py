"""Helpers to run the real `coreviz-studio` command in subprocesses (embedded PostgreSQL)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

KEY = re.compile(r"cvz_[A-Za-z0-9_-]{20,}")


def env_without_database_url() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",
                                                            "COREVIZ_DATABASE_URL")}


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "coreviz_studio", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env_without_database_url(),
                          timeout=120, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def cli_json(*args: str) -> dict:  # type: ignore[type-arg]
    return json.loads(cli(*args, "--json").stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`coreviz-studio serve` on a data dir, its output in a file."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / f"{data_dir.name}-serve-{self.port}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "coreviz_studio", "serve", "--data-dir", str(data_dir),
                 "--port", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT,
                env={**env_without_database_url(), **(env or {})})
        self._wait_ready()

    def _wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server not ready:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def first_key(self) -> str | None:
        found = KEY.search(self.output())
        return found.group(0) if found else None

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


class Worker:
    """`coreviz-studio worker` on a data dir, its output in a file."""

    def __init__(self, data_dir: Path, name: str, env: dict[str, str] | None = None) -> None:
        self.log = data_dir.parent / f"{data_dir.name}-worker-{name}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "coreviz_studio", "worker", "--data-dir", str(data_dir)],
                stdout=out, stderr=subprocess.STDOUT,
                env={**env_without_database_url(), **(env or {})})

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill9()


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid of the live postmaster of that cluster, or None."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        proc = psutil.Process(pid)
        return pid if proc.status() != psutil.STATUS_ZOMBIE else None
    except (FileNotFoundError, ValueError, psutil.NoSuchProcess):
        return None


def pgdata_of(data_dir: Path) -> Path:
    """Where a data dir's cluster lives: <data dir>/postgres, or the place postgres.location
    names (root, when the database user can't reach the data dir; see db/embedded.py)."""
    moved = data_dir / "postgres.location"
    if moved.exists():
        return Path(moved.read_text().split(" lives in ", 1)[1].split("\n", 1)[0])
    return data_dir / "postgres"


def poll(check, timeout: float, what: str, every: float = 0.1):  # type: ignore[no-untyped-def]
    """Call `check` until it returns something truthy (returned); fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)
