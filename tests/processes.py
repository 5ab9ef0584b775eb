"""Helpers to run the real `coreviz-studio` command in processes of their own (embedded
PostgreSQL).

Each command is `coreviz_studio.cli.main` with its own argv and environment in a process of its
own (its own pid, signals, exit code and output files), forked from a fork server that has
already imported the command (tests/zygote.py): a start costs a fork instead of the two seconds
this machine spends importing FastAPI, SQLAlchemy and the app. tests/test_command.py still runs
`python -m coreviz_studio` itself, so that the entry point is covered too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

KEY = re.compile(r"cvz_[A-Za-z0-9_-]{20,}")
ROOT = Path(__file__).resolve().parent.parent


def env_without_database_url() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",
                                                            "COREVIZ_DATABASE_URL")}


class _Zygote:
    """This test process's fork server: started on first use, ends with the test process
    (EOF on its stdin). A reader thread keeps what it says: pids, then exit codes."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen([sys.executable, "-m", "tests.zygote"], cwd=ROOT,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._said = threading.Condition()
        self._pids: dict[int, int] = {}
        self._exits: dict[int, int] = {}
        self._next = 0
        threading.Thread(target=self._read, name="zygote-reader", daemon=True).start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            message = json.loads(line)
            with self._said:
                if "exit" in message:
                    self._exits[message["pid"]] = message["exit"]
                else:
                    self._pids[message["id"]] = message["pid"]
                self._said.notify_all()
        with self._said:  # the fork server is gone: nobody will report on its children
            self._said.notify_all()

    def start(self, argv: list[str], env: dict[str, str], stdout: Path, stderr: Path) -> int:
        assert self._proc.stdin is not None
        with self._said:
            self._next += 1
            ident = self._next
            self._proc.stdin.write(json.dumps({"id": ident, "argv": argv, "env": env,
                                               "stdout": str(stdout),
                                               "stderr": str(stderr)}).encode() + b"\n")
            self._proc.stdin.flush()
            if not self._said.wait_for(lambda: ident in self._pids or self._gone(), 120):
                raise AssertionError("the fork server did not answer")
            if ident not in self._pids:
                raise AssertionError(f"the fork server ended ({self._proc.returncode})")
            return self._pids.pop(ident)

    def _gone(self) -> bool:
        return self._proc.poll() is not None

    def exit_code(self, pid: int, timeout: float | None) -> int | None:
        """The child's exit code once it has ended (waiting up to `timeout`), else None."""
        with self._said:
            self._said.wait_for(lambda: pid in self._exits or self._gone(), timeout)
            return self._exits.get(pid)


_zygote: _Zygote | None = None
_zygote_lock = threading.Lock()


def _fork_server() -> _Zygote:
    global _zygote
    with _zygote_lock:
        if _zygote is None or _zygote._gone():
            _zygote = _Zygote()
        return _zygote


class Command:
    """A running command: the part of subprocess.Popen the tests use."""

    def __init__(self, argv: list[str], env: dict[str, str], stdout: Path,
                 stderr: Path | None = None) -> None:
        self.args = argv
        self._server = _fork_server()
        self.pid = self._server.start(argv, env, stdout, stderr or stdout)

    @property
    def returncode(self) -> int | None:
        return self._server.exit_code(self.pid, 0)

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        code = self._server.exit_code(self.pid, timeout)
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return code

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


@dataclass
class Finished:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def cli(*args: str, check: bool = True, env: dict[str, str] | None = None,
        timeout: float = 120) -> Finished:
    """Run a command to its end: by default on the embedded database of its --data-dir
    (the test database's DATABASE_URL is left out unless `env` names one)."""
    with tempfile.TemporaryDirectory(prefix="cvs-cli-") as tmp:
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        command = Command(list(args), {**env_without_database_url(), **(env or {})}, out, err)
        try:
            code = command.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(command.pid, signal.SIGKILL)
            raise
        done = Finished(list(args), code, out.read_text(errors="replace") if out.exists() else "",
                        err.read_text(errors="replace") if err.exists() else "")
    if check and done.returncode != 0:
        raise AssertionError(f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def cli_json(*args: str, env: dict[str, str] | None = None) -> dict:  # type: ignore[type-arg]
    return json.loads(cli(*args, "--json", env=env).stdout.strip().splitlines()[-1])


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
        self.log.touch()
        self.proc = Command(["serve", "--data-dir", str(data_dir), "--port", str(self.port)],
                            {**env_without_database_url(), **(env or {})}, self.log)
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


# No processing and no models: a server for what HTTP does, started fast.
QUIET = {"COREVIZ_WORKERS": "0", "COREVIZ_MODELS": "none"}


@contextmanager
def server_on(pg_url: str, prefix: str, **env: str) -> Iterator[Server]:
    """A quiet real server on the suite's test database (DATABASE_URL), with a data dir of its
    own that goes with it."""
    from tests.conftest import private_tmpdir

    root = private_tmpdir(prefix)
    server = Server(root / "data", env={"DATABASE_URL": pg_url, **QUIET, **env})
    try:
        yield server
    finally:
        server.terminate()
        shutil.rmtree(root, ignore_errors=True)


class Worker:
    """`coreviz-studio worker` on a data dir, its output in a file."""

    def __init__(self, data_dir: Path, name: str, env: dict[str, str] | None = None) -> None:
        self.log = data_dir.parent / f"{data_dir.name}-worker-{name}.log"
        self.log.touch()
        self.proc = Command(["worker", "--data-dir", str(data_dir)],
                            {**env_without_database_url(), **(env or {})}, self.log)

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
