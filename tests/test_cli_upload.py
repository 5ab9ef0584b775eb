"""`coreviz-studio media upload` as a real process against a real server: a 300-file tree
killed midway and run again (only the rest goes), a large file killed mid-upload and resumed
from the server's offset (only the missing bytes), skipping what is there, failures and their
exit code, progress bars in a real pseudo-terminal, and --json lines."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import select
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coreviz_studio.client import Client
from tests import media_files
from tests.processes import ROOT, Command, Server, cli, poll, server_on

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(pg_url: str) -> Iterator[Server]:
    with server_on(pg_url, "cvs-cli-upload-", COREVIZ_MAX_UPLOAD_BYTES=str(64 << 20)) as srv:
        yield srv


@pytest.fixture
def home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="cvs-cli-up-") as tmp:
        yield Path(tmp)


@pytest.fixture
def user(server: Server, make_member) -> Client:  # type: ignore[no-untyped-def]
    return Client(server.url, api_key=make_member().key)


def _env(server: Server, user: Client, home: Path) -> dict[str, str]:
    key = user._headers["x-api-key"]
    return {"COREVIZ_CONFIG_DIR": str(home / "config"), "COREVIZ_API_URL": server.url,
            "COREVIZ_API_KEY": key}


def _tree(root: Path, count: int) -> Path:
    """`count` distinct small JPEGs (noise: solid colours can encode to the same bytes) in a
    few nested directories."""
    top = root / "photos"
    for i in range(count):
        sub = top / ("a" if i % 3 == 0 else "b/c" if i % 3 == 1 else "")
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"img{i:04d}.jpg").write_bytes(media_files.image(noise=True))
    return top


def _events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _images(user: Client, collection_id: str) -> int:
    page = user.browse_media(collection_id, recursive=True, type="image", limit=1)
    return page.pagination.total


def test_a_tree_killed_midway_then_run_again_sends_only_the_rest(
        server: Server, user: Client, home: Path) -> None:
    col = user.create_collection("Tree")
    tree = _tree(home, 300)
    env = _env(server, user, home)
    out = home / "first.out"
    out.touch()
    first = Command(["media", "upload", str(tree), col.id, "--json", "-j", "1"], env, out)
    try:
        poll(lambda: sum(e["event"] == "uploaded" for e in _events(out.read_text())) >= 30,
             120, "30 files uploaded", every=0.01)
        first.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
    finally:
        first.send_signal(signal.SIGKILL)
    before = _events(out.read_text())
    reported = sum(e["event"] == "uploaded" for e in before)
    assert before[0] == {"event": "plan", "files": 300, "bytes": before[0]["bytes"]}
    assert not any(e["event"] == "summary" for e in before)
    assert reported < 300 and _images(user, col.id) < 300
    state_files = list((home / "config" / "uploads").glob("*.json"))
    assert len(state_files) == 1 and oct(state_files[0].stat().st_mode & 0o777) == "0o600"

    again = cli("media", "upload", str(tree), col.id, "--json", env=env)
    events = _events(again.stdout)
    summary = events[-1]
    assert summary["event"] == "summary"
    assert summary["failed"] == 0 and summary["uploaded"] + summary["skipped"] == 300
    assert summary["skipped"] >= reported  # what the first run did is not sent again
    assert summary["uploaded"] <= 300 - reported
    assert sum(e["event"] == "uploaded" for e in events) == summary["uploaded"]
    assert _images(user, col.id) == 300  # every file once: nothing twice
    assert not state_files[0].exists()  # all in: the state file is gone

    # the folders were recreated by name: photos/, photos/a, photos/b/c
    top = [m for m in user.browse_media(col.id).media if m.type == "folder"]
    assert [m.name for m in top] == ["photos"]
    inside = {m.name for m in user.browse_media(col.id, path=top[0].path).media}
    assert {"a", "b"} <= inside and "img0002.jpg" in inside

    # a third run finds everything there (same sha256 at the same place)
    third = _events(cli("media", "upload", str(tree), col.id, "--json", env=env).stdout)[-1]
    assert (third["uploaded"], third["skipped"]) == (0, 300)


def test_a_large_file_killed_mid_upload_resumes_from_the_servers_offset(
        server: Server, user: Client, home: Path) -> None:
    col = user.create_collection("Big")
    big = home / "big.png"
    big.write_bytes(media_files.image("PNG", size=(1600, 1200), noise=True))
    size = big.stat().st_size
    assert size > 4 << 20
    env = _env(server, user, home)
    args = ["media", "upload", str(big), col.id, "--json", "--folder", "Shots/2024",
            "--chunk-size", str(64 * 1024), "-j", "1"]
    out = home / "big.out"
    out.touch()
    first = Command(args, env, out)
    uploads = home / "config" / "uploads"

    def partway() -> int:
        for f in uploads.glob("*.json"):
            try:
                saved = json.loads(f.read_text())["uploads"]
            except (ValueError, KeyError):
                return 0
            for entry in saved.values():
                offset = user.upload_status(entry["url"]).offset
                if 0 < offset < size // 2:
                    return offset
        return 0

    try:
        reached = poll(partway, 120, "the big file partway", every=0.01)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.send_signal(signal.SIGKILL)
    assert not any(e["event"] == "uploaded" for e in _events(out.read_text()))

    events = _events(cli(*args, env=env).stdout)
    start = next(e for e in events if e["event"] == "start")
    summary = events[-1]
    assert start["offset"] >= reached  # it went on where the server was
    assert (summary["uploaded"], summary["resumed"]) == (1, 1)
    assert summary["bytes"] == size - start["offset"] < size
    media = user.get_media(next(e for e in events if e["event"] == "uploaded")["mediaId"])
    assert media.sha256 == hashlib.sha256(big.read_bytes()).hexdigest()
    shots = next(m for m in user.browse_media(col.id).media if m.name == "Shots")
    assert [m.name for m in user.browse_media(col.id, path=shots.path).media] == ["2024"]


def test_failures_are_reported_and_exit_5_the_rest_goes(
        server: Server, user: Client, home: Path) -> None:
    col = user.create_collection("Mixed")
    good = home / "good.jpg"
    good.write_bytes(media_files.image())
    bad = home / "notes.txt"
    bad.write_text("not a picture\n")
    env = _env(server, user, home)
    done = cli("media", "upload", str(good), str(bad), col.id, check=False, env=env)
    assert done.returncode == 5, done
    assert "FAILED" in done.stdout and "notes.txt" in done.stdout
    assert "uploaded 1, skipped 0, failed 1" in done.stdout
    assert _images(user, col.id) == 1
    named = _events(cli("media", "upload", str(home / "good.jpg"), col.id, "--folder", "N",
                        "--name", "Cover", "--json", env=env).stdout)
    assert user.get_media(named[-2]["mediaId"]).name == "Cover"
    two = cli("media", "upload", str(good), str(bad), col.id, "--name", "X", check=False,
              env=env)
    assert two.returncode == 2 and "--name" in two.stderr
    missing = cli("media", "upload", str(home / "nope.jpg"), col.id, check=False, env=env)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    wrong = cli("media", "upload", str(good), "00000000-0000-0000-0000-000000000000",
                check=False, env=env)
    assert wrong.returncode == 1 and "error: " in wrong.stderr and "(404" in wrong.stderr


def test_progress_bars_draw_in_a_pseudo_terminal(
        server: Server, user: Client, home: Path) -> None:
    col = user.create_collection("Tty")
    tree = _tree(home, 12)
    big = tree / "big.png"
    big.write_bytes(media_files.image("PNG", size=(900, 900), noise=True))
    env = {**os.environ, **_env(server, user, home), "TERM": "xterm-256color",
           "COLUMNS": "120", "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    env.pop("NO_COLOR", None)
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "coreviz_studio", "media", "upload",
                             str(tree), col.id, "--chunk-size", str(64 * 1024)],
                            stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 120)
            if not ready:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        assert proc.wait(60) == 0, seen.decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    text = seen.decode(errors="replace")
    assert "\x1b[" in text  # rich drew (and redrew) on the terminal
    assert "━" in text and "total" in text and "/13 files" in text
    assert "uploaded 13, skipped 0, failed 0" in text


def test_ctrl_c_stops_with_130_and_a_rerun_goes_on(
        server: Server, user: Client, home: Path) -> None:
    col = user.create_collection("Interrupted")
    tree = _tree(home, 120)
    env = _env(server, user, home)
    out, err = home / "int.out", home / "int.err"
    out.touch()
    first = Command(["media", "upload", str(tree), col.id, "--json", "-j", "1"], env, out, err)
    try:
        poll(lambda: sum(e["event"] == "uploaded" for e in _events(out.read_text())) >= 10,
             120, "10 files uploaded", every=0.01)
        first.send_signal(signal.SIGINT)
        assert first.wait(60) == 130
    finally:
        first.send_signal(signal.SIGKILL)
    assert "run the same command again" in err.read_text()
    stopped = _events(out.read_text())[-1]
    assert stopped["event"] == "summary" and stopped["uploaded"] < 120
    rest = _events(cli("media", "upload", str(tree), col.id, "--json", env=env).stdout)[-1]
    assert rest["uploaded"] + rest["skipped"] == 120 and rest["skipped"] >= stopped["uploaded"]
    assert _images(user, col.id) == 120


def test_quiet_prints_only_each_files_result_as_the_official_cli(
        server: Server, user: Client, home: Path) -> None:
    """`--quiet | jq -r .mediaId`, a habit from the official CLI, carries over: stdout holds
    one JSON object per file and nothing else; a failure goes to stderr."""
    col = user.create_collection("Quiet")
    photo = home / "one.jpg"
    photo.write_bytes(media_files.image(noise=True))
    env = _env(server, user, home)
    done = cli("media", "upload", str(photo), col.id, "--quiet", env=env)
    [line] = done.stdout.splitlines()
    result = json.loads(line)
    assert user.get_media(result["mediaId"]).name == "one.jpg"
    assert result["file"] == str(photo)
    bad = home / "notes.txt"
    bad.write_text("not a picture\n")
    again = cli("media", "upload", str(photo), str(bad), col.id, "--quiet", check=False,
                env=env)
    assert again.returncode == 5
    [skipped] = [json.loads(x) for x in again.stdout.splitlines()]
    assert skipped["mediaId"] == result["mediaId"] and skipped["skipped"]
    assert "notes.txt" in again.stderr


def test_the_json_summary_stays_the_last_line(capsys: pytest.CaptureFixture[str]) -> None:
    """After a Ctrl-C the summary is printed while a thread may still be busy with the file it
    had taken: what that thread reports afterwards is not printed past the summary."""
    from coreviz_studio.commands.upload import JsonReporter, Summary

    report = JsonReporter()
    report.end(Summary(uploaded=3), 1.0)
    report._emit("start", file="late.jpg", size=1, offset=0)  # the busy thread, too late
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["event"] for line in lines] == ["summary"] and lines[0]["uploaded"] == 3
