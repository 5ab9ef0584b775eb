"""`collections`, `ls`, `search` (a collection's, the organization's, --min-score), `rm`,
`restore` and the official `media browse|get|delete` as a real process against a real
server."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from coreviz_studio.client import Client
from tests import media_files
from tests.processes import Server, cli, server_on

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(pg_url: str) -> Iterator[Server]:
    with server_on(pg_url, "cvs-cli-library-") as srv:
        yield srv


def _lines(text: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_collections_ls_search_rm_restore(server: Server, make_member) -> None:  # type: ignore[no-untyped-def]
    member = make_member()
    user = Client(server.url, api_key=member.key)
    with tempfile.TemporaryDirectory(prefix="cvs-cli-lib-") as tmp:
        env = {"COREVIZ_CONFIG_DIR": f"{tmp}/config", "COREVIZ_API_URL": server.url,
               "COREVIZ_API_KEY": member.key}
        made = json.loads(cli("collections", "create", "Holiday", "--json", env=env).stdout)
        listed = _lines(cli("collections", "list", "--json", env=env).stdout)
        assert made["id"] in {c["id"] for c in listed}
        quiet = json.loads(cli("collections", "list", "--quiet", env=env).stdout)
        assert isinstance(quiet, list) and quiet[0]["name"] == "Holiday"

        folder = Path(tmp) / "trip"
        folder.mkdir()
        for name in ("sunset beach.jpg", "mountain lake.jpg"):
            (folder / name).write_bytes(media_files.image(noise=True))
        cli("media", "upload", str(folder), made["id"], env=env)

        top = _lines(cli("ls", made["id"], "--json", env=env).stdout)
        assert [(x["type"], x["name"]) for x in top] == [("folder", "trip")]
        inside = _lines(cli("ls", made["id"], "--path", top[0]["path"], "--json",
                            env=env).stdout)
        assert sorted(x["name"] for x in inside) == ["mountain lake.jpg", "sunset beach.jpg"]
        assert "trip/" in cli("ls", made["id"], env=env).stdout
        assert "Holiday" in cli("ls", env=env).stdout

        found = _lines(cli("search", "sunset", made["id"], "--json", env=env).stdout)
        assert found and found[0]["name"] == "sunset beach.jpg"
        assert found[0]["score"] is not None
        everywhere = _lines(cli("search", "sunset", "--org", "--json", env=env).stdout)
        assert everywhere and everywhere[0]["name"] == "sunset beach.jpg"
        best = max(x["score"] for x in everywhere)
        assert _lines(cli("search", "sunset", "--org", "--min-score", str(best + 1),
                          "--json", env=env).stdout) == []

        sunset = next(x for x in inside if x["name"] == "sunset beach.jpg")
        assert "moved to the trash" in cli("rm", sunset["id"], env=env).stdout
        left = {m.name for m in user.iter_media(made["id"], recursive=True, type="image")}
        assert left == {"mountain lake.jpg"}
        assert "restored" in cli("restore", sunset["id"], env=env).stdout
        back = {m.name for m in user.iter_media(made["id"], recursive=True, type="image")}
        assert back == {"mountain lake.jpg", "sunset beach.jpg"}

        # the official CLI's media commands and their --quiet JSON
        got = json.loads(cli("media", "get", sunset["id"], "--quiet", env=env).stdout)
        assert (got["id"], got["name"]) == (sunset["id"], "sunset beach.jpg")
        page = json.loads(cli("media", "browse", made["id"], "--recursive", "--type", "image",
                              "--quiet", env=env).stdout)
        assert page["pagination"]["total"] == 2
        assert "moved to the trash" in cli("media", "delete", sunset["id"], env=env).stdout
        assert user.browse_media(made["id"], recursive=True, type="image").pagination.total == 1

        missing = cli("rm", "00000000-0000-0000-0000-000000000000", check=False, env=env)
        assert missing.returncode == 1 and "(404" in missing.stderr


def test_queue_counts_by_state(server: Server, make_member) -> None:  # type: ignore[no-untyped-def]
    """`queue [COLLECTION_ID] [--json]` (docs/queue.md); the server runs no worker here, so
    uploads stay queued."""
    member = make_member()
    user = Client(server.url, api_key=member.key)
    first, second = user.create_collection("One"), user.create_collection("Two")
    made = [user.upload(media_files.image(color=c), first.id, name=f"{c}.jpg").media_id
            for c in ("red", "blue")]
    user.upload(media_files.image(color="green"), second.id, name="green.jpg")
    with tempfile.TemporaryDirectory(prefix="cvs-cli-queue-") as tmp:
        env = {"COREVIZ_CONFIG_DIR": f"{tmp}/config", "COREVIZ_API_URL": server.url,
               "COREVIZ_API_KEY": member.key}
        [whole] = _lines(cli("queue", "--json", env=env).stdout)
        assert (whole["queued"], whole["processing"], whole["ready"]) == (3, 0, 0)
        assert whole["oldestWaiting"]["id"] == made[0]
        [one] = _lines(cli("queue", second.id, "--json", env=env).stdout)
        assert one["queued"] == 1 and one["oldestWaiting"]["name"] == "green.jpg"
        shown = cli("queue", first.id, env=env).stdout
        assert "queued      2" in shown and "oldest waiting: red.jpg" in shown
