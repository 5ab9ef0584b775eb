"""The embedded PostgreSQL launcher: root and normal users, stale state after kills."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from coreviz_studio.db.embedded import EmbeddedPostgres
from tests.conftest import private_tmpdir
from tests.processes import cli_json, postmaster_pid

pytestmark = pytest.mark.slow
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="exercises the root-only paths")


def _row_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.commit()
        return int(conn.execute("SELECT count(*) FROM t").fetchone()[0])  # type: ignore[index]


def test_stale_pid_file_of_a_reused_pid_does_not_block_start() -> None:
    root = private_tmpdir("cvs-emb-")
    try:
        pg = EmbeddedPostgres(root)
        assert _row_count(pg.acquire()) == 1
        pg.stop_server()
        # As after a crash: a pid file naming a live process that is not PostgreSQL.
        pidfile = root / "postgres" / "postmaster.pid"
        pidfile.write_text(f"{os.getpid()}\n{root / 'postgres'}\n")
        assert _row_count(pg.acquire()) == 2
        pg.release()
        assert postmaster_pid(root / "postgres") is None
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_holders_keep_it_running_until_the_last_live_one_leaves() -> None:
    root = private_tmpdir("cvs-emb-")
    holder_code = ("import sys, time; from pathlib import Path; "
                   "from coreviz_studio.db.embedded import EmbeddedPostgres; "
                   "EmbeddedPostgres(Path(sys.argv[1])).acquire(); print('held', flush=True); "
                   "time.sleep(600)")
    other = subprocess.Popen([sys.executable, "-c", holder_code, str(root)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "held"
        mine = EmbeddedPostgres(root)
        assert _row_count(mine.acquire()) == 1
        mine.release()
        assert postmaster_pid(root / "postgres") is not None  # the other process holds it
        other.kill()  # SIGKILL: it never releases
        other.wait()
        assert _row_count(mine.acquire()) == 2
        mine.release()  # the dead holder does not keep it running
        assert postmaster_pid(root / "postgres") is None
    finally:
        other.kill()
        shutil.rmtree(root, ignore_errors=True)


@as_root
def test_root_never_opens_up_a_private_parent_directory() -> None:
    private = Path(tempfile.mkdtemp(prefix="cvs-private-"))  # 0700, like /root
    before = stat.S_IMODE(private.stat().st_mode)
    data = private / "studio"
    pg = EmbeddedPostgres(data)
    try:
        url = pg.acquire()
        assert _row_count(url) == 1
        assert stat.S_IMODE(private.stat().st_mode) == before == 0o700
        assert not (data / "postgres").exists()  # kept where the database user can reach it
        assert str(pg.pgdata) in (data / "postgres.location").read_text()
        owner = pg.pgdata.stat().st_uid
        assert owner != 0 and stat.S_IMODE(pg.pgdata.stat().st_mode) == 0o700
    finally:
        pg.release()
        shutil.rmtree(pg.pgdata, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)


@as_root
def test_runs_as_a_normal_user() -> None:
    """A forked child drops to user nobody (the interpreter is already loaded, so a private
    Python install does not matter) and runs the whole start/use/stop cycle as that user."""
    import pwd

    nobody = pwd.getpwnam("nobody")
    root = Path(tempfile.mkdtemp(prefix="cvs-nobody-"))
    root.chmod(0o755)
    shutil.chown(root, nobody.pw_uid, nobody.pw_gid)
    data = root / "data"
    _row_count  # noqa: B018 - imported before the fork
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            pg = EmbeddedPostgres(data)
            ok = _row_count(pg.acquire()) == 1
            pg.release()
            code = 0 if ok else 1
        except BaseException as exc:  # report, then exit without unwinding into pytest
            sys.stderr.write(f"child failed: {exc!r}\n")
        finally:
            os._exit(code)
    try:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert (data / "postgres").stat().st_uid == nobody.pw_uid
        assert postmaster_pid(data / "postgres") is None  # stopped at release
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_cli_json_contract(tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    root = private_tmpdir("cvs-emb-")
    try:
        out = cli_json("users", "create", "--email", "j@example.org", "--name", "J", "--org",
                       "J & Co", "--data-dir", str(root / "d"))
        assert set(out) == {"userId", "organizationId", "apiKey"}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_shared_buffers_auto_is_a_quarter_of_memory_within_bounds(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from coreviz_studio.db import embedded

    def machine(gib: float) -> object:
        return type("Memory", (), {"total": int(gib * 1024 ** 3)})()

    for gib, expected in ((0.25, "128MB"), (2, "512MB"), (8, "2048MB"), (64, "4096MB")):
        monkeypatch.setattr(embedded.psutil, "virtual_memory", lambda g=gib: machine(g))
        assert embedded.shared_buffers_for("auto") == expected
    assert embedded.shared_buffers_for("3GB") == "3GB"


def test_the_setting_is_checked_before_postgresql_sees_it() -> None:
    from pydantic import ValidationError

    from coreviz_studio.config import Settings

    assert Settings(embedded_pg_shared_buffers="512MB").embedded_pg_shared_buffers == "512MB"
    for bad in ("lots", "0GB", "512", "1GB; DROP"):
        with pytest.raises(ValidationError):
            Settings(embedded_pg_shared_buffers=bad)


def test_runs_with_its_cache_size_and_keeps_what_is_cached_over_a_restart() -> None:
    root = private_tmpdir("cvs-emb-")
    try:
        pg = EmbeddedPostgres(root, shared_buffers="160MB")
        with psycopg.connect(pg.acquire(), autocommit=True) as conn:
            assert conn.execute("SHOW shared_buffers").fetchone() == ("160MB",)
            assert conn.execute("SHOW shared_preload_libraries").fetchone() == ("pg_prewarm",)
            conn.execute("CREATE TABLE warm AS SELECT g AS x FROM generate_series(1, 50000) g")
            conn.execute("SELECT count(*) FROM warm")
            row = conn.execute("SELECT pg_relation_filenode('warm')").fetchone()
        pg.release()  # the last holder: a clean stop, which writes the list of cached pages
        # Lines of database,tablespace,filenode,fork,block: the table's pages are listed, so
        # the next start reads them back into the cache.
        listed = (root / "postgres" / "autoprewarm.blocks").read_text().splitlines()[1:]
        assert any(line.split(",")[2] == str(row[0]) for line in listed)
    finally:
        shutil.rmtree(root, ignore_errors=True)
