"""The real command: first start, CLI beside a running server, kill -9 and restart."""

from __future__ import annotations

import os
import re
import shutil
import signal
import time

import httpx
import pytest

from tests.conftest import private_tmpdir
from tests.processes import Server, cli, cli_json, postmaster_pid

pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir():  # type: ignore[no-untyped-def]
    root = private_tmpdir("cvs-proc-")
    yield root / "data"
    shutil.rmtree(root, ignore_errors=True)


def _wait_gone(pgdata, timeout=30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while postmaster_pid(pgdata) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert postmaster_pid(pgdata) is None, "PostgreSQL still running"


def test_serve_survives_kill_9_with_every_committed_row(data_dir) -> None:  # type: ignore[no-untyped-def]
    server = Server(data_dir)
    key = server.first_key()
    assert key, server.output()
    assert f"http://127.0.0.1:{server.port}" in server.output()
    h = {"x-api-key": key}
    me = httpx.get(f"{server.url}/api/me", headers=h).json()
    assert me["email"] == "admin@localhost"
    # ... and a password for the Studio, printed once: it signs in.
    password = re.search(r"with the password .*:\n  (\S+)", server.output())
    assert password, server.output()
    r = httpx.post(f"{server.url}/api/auth/sign-in/email",
                   json={"email": "admin@localhost", "password": password.group(1)})
    assert r.status_code == 200, r.text
    created = [httpx.post(f"{server.url}/api/organization/{me['organizationId']}/datasets",
                          headers=h, json={"name": f"set {i}"}).json()["id"] for i in range(20)]

    # A CLI command beside the running server shares its database.
    bob = cli_json("users", "create", "--email", "bob@example.org", "--name", "Bob",
                   "--org", "Bob's team", "--data-dir", str(data_dir))
    assert httpx.get(f"{server.url}/api/me", headers={"x-api-key": bob["apiKey"]}
                     ).json()["organizationId"] == bob["organizationId"]

    server.kill9()
    restarted = Server(data_dir)
    assert restarted.first_key() is None  # not a first start: no new admin key
    listed = httpx.get(f"{restarted.url}/api/organization/{me['organizationId']}/datasets",
                       headers=h).json()
    assert [d["id"] for d in listed] == created

    # Now the database itself dies with the server (as in a crash) and must recover.
    pid = postmaster_pid(data_dir / "postgres")
    assert pid is not None
    restarted.kill9()
    os.kill(pid, signal.SIGKILL)
    third = Server(data_dir)
    listed = httpx.get(f"{third.url}/api/organization/{me['organizationId']}/datasets",
                       headers=h).json()
    assert [d["id"] for d in listed] == created
    assert httpx.get(f"{third.url}/api/me", headers={"x-api-key": bob["apiKey"]}
                     ).status_code == 200

    # A clean stop (SIGTERM) stops the embedded PostgreSQL too.
    third.terminate()
    _wait_gone(data_dir / "postgres")


def test_cli_without_a_server_starts_and_stops_the_database(data_dir) -> None:  # type: ignore[no-untyped-def]
    alice = cli_json("users", "create", "--email", "alice@example.org", "--name", "Alice",
                     "--org", "Acme", "--password", "s3cret-pass", "--data-dir", str(data_dir))
    assert alice["apiKey"].startswith("cvz_")
    _wait_gone(data_dir / "postgres", timeout=5)
    # Same org name: joins it as a member.
    carol = cli_json("users", "create", "--email", "carol@example.org", "--name", "Carol",
                     "--org", "Acme", "--data-dir", str(data_dir))
    assert carol["organizationId"] == alice["organizationId"]
    assert carol["userId"] != alice["userId"]
    # Same email again: a clear refusal.
    again = cli("users", "create", "--email", "ALICE@example.org", "--name", "A", "--org", "X",
                "--data-dir", str(data_dir), check=False)
    assert again.returncode == 1 and "already exists" in again.stderr

    cli("users", "set-password", "--email", "alice@example.org", "--password", "another-pass",
        "--data-dir", str(data_dir))
    short = cli("users", "set-password", "--email", "alice@example.org", "--password", "x",
                "--data-dir", str(data_dir), check=False)
    assert short.returncode == 1 and "8 characters" in short.stderr

    key = cli_json("keys", "create", "--email", "alice@example.org", "--name", "ci",
                   "--data-dir", str(data_dir))
    listed = cli_json("keys", "list", "--email", "alice@example.org", "--data-dir", str(data_dir))
    assert {k["id"] for k in listed} >= {key["id"]}
    assert all(key["apiKey"] not in str(k) for k in listed)
    assert not next(k for k in listed if k["id"] == key["id"])["revoked"]
    cli("keys", "revoke", key["prefix"], "--data-dir", str(data_dir))

    server = Server(data_dir)
    assert server.first_key() is None  # users exist: no bootstrap admin
    r = httpx.get(f"{server.url}/api/me", headers={"x-api-key": key["apiKey"]})
    assert r.status_code == 401
    r = httpx.get(f"{server.url}/api/me", headers={"x-api-key": alice["apiKey"]})
    assert r.status_code == 200 and r.json()["email"] == "alice@example.org"
    secrets = [alice["apiKey"], key["apiKey"], *_sign_in_and_device_login(server.url)]
    server.terminate()
    _wait_gone(data_dir / "postgres")
    # No secret in plain text anywhere under the data dir (the database files included).
    # Nor in the server's log.
    for path in [*data_dir.rglob("*"), server.log]:
        if path.is_file():
            blob = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in blob, (path, secret[:6])
    assert "user_code=[redacted]" in server.output()


def _sign_in_and_device_login(url: str) -> list[str]:
    """Sign in, approve a device login on the verification page's endpoints, make an API key
    over HTTP; every secret seen on the way (they must never be stored or logged)."""
    signed = httpx.post(f"{url}/api/auth/sign-in/email",
                        json={"email": "alice@example.org", "password": "another-pass"})
    assert signed.status_code == 200, signed.text
    auth = {"Authorization": f"Bearer {signed.json()['token']}"}
    code = httpx.post(f"{url}/api/auth/device/code", json={"client_id": "coreviz-cli"}).json()
    assert httpx.get(code["verification_uri_complete"]).status_code == 200
    assert httpx.get(f"{url}/api/auth/device", params={"user_code": code["user_code"]}
                     ).status_code == 200
    assert httpx.post(f"{url}/api/auth/device/approve", headers=auth,
                      json={"userCode": code["user_code"]}).status_code == 200
    grant = httpx.post(f"{url}/api/auth/device/token", json={
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "device_code": code["device_code"], "client_id": "coreviz-cli"}).json()
    bearer = {"Authorization": f"Bearer {grant['access_token']}"}
    assert httpx.get(f"{url}/api/me", headers=bearer).status_code == 200
    made = httpx.post(f"{url}/api/auth/api-key/create", headers=bearer, json={"name": "web"})
    assert made.status_code == 200, made.text  # alice owns her organization
    # (The short user code is kept until it expires: alone it grants nothing.)
    return [signed.json()["token"], code["device_code"], grant["access_token"],
            made.json()["key"]]
