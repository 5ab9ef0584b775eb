"""The CLI for people, as a real process against a real server: where it finds its server and
credential (flags, the official CLI's variables, the config file), `login` through the device
flow end to end, `logout`, `whoami`, and the exit codes (docs/cli.md)."""

from __future__ import annotations

import json
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from coreviz_studio.client import Client, Unauthorized
from tests.processes import Command, Server, cli, free_port, poll, server_on

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(pg_url: str) -> Iterator[Server]:
    with server_on(pg_url, "cvs-cli-account-") as srv:
        yield srv


@pytest.fixture
def home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="cvs-cli-home-") as tmp:
        yield Path(tmp)


def _env(home: Path, **more: str) -> dict[str, str]:
    """A user of their own: the config dir in `home`, none of the caller's COREVIZ_API_*."""
    return {"COREVIZ_CONFIG_DIR": str(home / "config"), "COREVIZ_API_URL": "",
            "COREVIZ_API_KEY": "", **more}


def test_login_through_the_device_flow_then_whoami_and_logout(  # type: ignore[no-untyped-def]
        server: Server, home: Path, make_member, make_session_token) -> None:
    person = make_member()
    approver = Client(server.url, token=make_session_token(person))
    out = home / "login.out"
    out.touch()
    login = Command(["login", "--server", server.url], _env(home), out)
    try:
        said = poll(lambda: re.search(r"enter the code: (\S+)", out.read_text()), 60,
                    "login to print the code")
        text = out.read_text()
        assert f"{server.url}/device" in text and "?user_code=" in text
        assert approver.device_verify(said.group(1)).status == "pending"
        assert approver.device_approve(said.group(1)).success
        assert login.wait(60) == 0, out.read_text()
    finally:
        login.send_signal(9)
    assert f"as {person.email}" in out.read_text()

    config = home / "config" / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    saved = json.loads(config.read_text())
    assert saved["server"] == server.url and saved["token"]

    # the saved server and token are used with no flag and no variable
    me = json.loads(cli("whoami", "--json", env=_env(home)).stdout)
    assert (me["email"], me["credential"], me["server"]) == (person.email, "config", server.url)

    assert Client(server.url, token=saved["token"]).me().email == person.email
    assert "Logged out" in cli("logout", env=_env(home)).stdout
    with pytest.raises(Unauthorized):  # the session ended on the server too
        Client(server.url, token=saved["token"]).me()
    assert "token" not in json.loads(config.read_text())  # the server address stays
    gone = cli("whoami", check=False, env=_env(home))
    assert gone.returncode == 3 and "not logged in" in gone.stderr


def test_the_server_and_key_from_flags_or_the_official_variables(  # type: ignore[no-untyped-def]
        server: Server, home: Path, make_member) -> None:
    person = make_member()
    by_flags = json.loads(cli("whoami", "--json", "--server", server.url, "--api-key",
                              person.key, env=_env(home)).stdout)
    assert (by_flags["email"], by_flags["credential"]) == (person.email, "flag")
    # the official CLI's names: --api-url, COREVIZ_API_URL (with /api) and COREVIZ_API_KEY
    by_env = json.loads(cli("whoami", "--json", env=_env(
        home, COREVIZ_API_URL=f"{server.url}/api", COREVIZ_API_KEY=person.key)).stdout)
    assert (by_env["email"], by_env["credential"]) == (person.email, "environment")
    alias = cli("whoami", "--api-url", server.url, "--api-key", person.key, env=_env(home))
    assert person.email in alias.stdout


def test_errors_print_the_servers_message_and_their_exit_code(  # type: ignore[no-untyped-def]
        server: Server, home: Path) -> None:
    refused = cli("whoami", "--server", server.url, "--api-key", "cvz_" + "x" * 40,
                  check=False, env=_env(home))
    assert refused.returncode == 3, refused
    assert "error: " in refused.stderr and "(401" in refused.stderr
    nobody = cli("whoami", "--server", f"http://127.0.0.1:{free_port()}", "--api-key", "k",
                 check=False, env=_env(home))
    assert nobody.returncode == 4 and "could not reach the server" in nobody.stderr
    usage = cli("whoami", "--no-such-flag", check=False, env=_env(home))
    assert usage.returncode == 2
