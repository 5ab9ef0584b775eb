"""The entry points themselves: `python -m coreviz_studio` and the `coreviz-studio` script.
(The other process tests fork their commands from a preloaded server, tests/processes.py.)"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from coreviz_studio import __version__
from tests.conftest import private_tmpdir
from tests.processes import env_without_database_url, free_port, poll

pytestmark = pytest.mark.slow


def test_the_script_and_the_module_print_the_version() -> None:
    script = Path(sys.executable).with_name("coreviz-studio")
    for command in ([str(script)], [sys.executable, "-m", "coreviz_studio"]):
        done = subprocess.run([*command, "version"], capture_output=True, text=True,
                              timeout=120, check=False)
        assert (done.returncode, done.stdout.strip()) == (0, __version__), done.stderr


def test_python_m_serve_starts_answers_and_stops() -> None:
    root = private_tmpdir("cvs-command-")
    port = free_port()
    log = root / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "coreviz_studio", "serve", "--data-dir", str(root / "data"),
             "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
            env=env_without_database_url())
    try:
        def healthy() -> bool:
            assert proc.poll() is None, log.read_text()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        poll(healthy, 90, "the server to answer", every=0.2)
        proc.terminate()
        # uvicorn stops gracefully, then re-raises the signal it caught.
        assert proc.wait(60) in (0, -signal.SIGTERM), log.read_text()
        assert f"http://127.0.0.1:{port}" in log.read_text()
        assert "Finished server process" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)


def test_the_commands_for_people_do_not_load_the_server() -> None:
    """`coreviz-studio ls`, `search`, `media upload` ... speak HTTP only: loading the command
    line must not import SQLAlchemy, psycopg or alembic (about a second of start-up), which
    only the operator's commands need."""
    import subprocess
    import sys

    code = ("import sys, coreviz_studio.cli; "
            "print(sorted(m for m in ('sqlalchemy', 'psycopg', 'alembic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
