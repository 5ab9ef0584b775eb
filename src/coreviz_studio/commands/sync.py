"""`sync DIR COLLECTION_ID`: make a folder of the collection mirror a local directory tree.

DIR's files go into the destination (the collection's root, `--path`, `--folder A/B` below it),
its subdirectories become folders of their names, as `media upload` does (its planner, uploader,
state file and reporters are reused). What is compared is the name at its place: a file whose
name is not in its folder is uploaded; one whose item there has the same sha256 is left; one that
changed becomes a new version of that item (the API's `versionOf`: the name, tags and place stay,
the old bytes remain as an older version). Files deleted locally are left on the server unless
`--delete` says to move their items (and folders no longer there) to the trash. `--watch` keeps
going: files that appear or change are sent once they have stopped changing for `--settle`
seconds."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import typer

from coreviz_studio.client import Client, CoreVizError
from coreviz_studio.commands import common
from coreviz_studio.commands.upload import (
    Item,
    State,
    Summary,
    Uploader,
    plan,
    reporter,
    sha256_of,
)


class SyncUploader(Uploader):
    """The upload, comparing by name at each place instead of by sha256 in the folder."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._named: dict[str | None, dict[str, tuple[str, str | None]]] = {}

    def present(self, path: str | None) -> set[str]:
        if path not in self._present:
            named: dict[str, tuple[str, str | None]] = {}
            shas: set[str] = set()
            for m in self.client.iter_media(self.collection_id, path=path, page_size=500):
                if m.type != "folder":
                    named.setdefault(m.name, (m.id, m.sha256))
                    if m.sha256:
                        shas.add(m.sha256)
            self._named[path] = named
            self._present[path] = shas
        return self._present[path]

    def there(self, path: str | None, name: str) -> tuple[str, str | None] | None:
        self.present(path)
        return self._named[path].get(name)

    def forget(self, path: str | None, name: str) -> None:
        self._named.get(path, {}).pop(name, None)

    def prepare(self, item: Item) -> bool:
        item.dest = self.folder(item.folders)
        there = self.there(item.dest, item.file.name)
        item.sha256 = sha256_of(item.file)
        if there is not None and there[1] == item.sha256:
            self._count(skipped=1)
            self.report.skipped(item, "unchanged", there[0])
            return False
        item.version_of = there[0] if there is not None else None
        return True

    def _finished(self, item: Item, media_id: str, *, resumed: bool, sent: int) -> None:
        super()._finished(item, media_id, resumed=resumed, sent=sent)
        # the next change of this file (--watch) is a version of what was just sent
        self._named.setdefault(item.dest, {})[item.file.name] = (media_id, item.sha256)

    def batch(self, items: list[Item], parallel: int, as_json: bool) -> Summary:
        """One pass over these files, with a reporter (and a summary) of its own."""
        self.report = reporter(as_json)
        self.summary = Summary()
        started = time.monotonic()
        self.report.begin(items)
        try:
            return self.run(items, parallel)
        finally:
            self.report.end(self.summary, time.monotonic() - started)
            if self.summary.failed:
                self.state.flush()  # what went stays known to a rerun
            else:
                self.state.remove()


def _items(root: Path, files: list[Path], base_folders: tuple[str, ...]) -> list[Item]:
    """The upload's items for files below root (their directories as folders by name)."""
    items = []
    for f in sorted(set(files)):
        rel = f.relative_to(root)
        if f.is_file() and not any(part.startswith(".") for part in rel.parts):
            items.append(Item(f, (*base_folders, *rel.parts[:-1]), f.stat().st_size, str(f)))
    return items


def _say(as_json: bool, event: str, text: str, **data: Any) -> None:
    if as_json:
        common.emit({"event": event, **data})
    else:
        typer.echo(text)


def trash_missing(client: Client, job: SyncUploader, root: Path,
                  base_folders: tuple[str, ...], as_json: bool) -> int:
    """Move to the trash each item and folder below the destination whose file or directory is
    no longer in DIR; how many were moved."""
    base = job.folder(base_folders)
    base_labels = (base or job.collection_id.replace("-", "").lower()).split(".")
    items = list(client.iter_media(job.collection_id, path=base, recursive=True,
                                   page_size=500))
    names = {m.id.replace("-", "").lower(): m.name for m in items if m.type == "folder"}
    gone: list[str] = []  # the labels of folders already moved (what they hold went too)
    moved = 0
    for m in sorted(items, key=lambda m: m.path.count(".")):
        labels = m.path.split(".")
        inner = labels[len(base_labels):]
        if any(label in gone for label in inner[:-1]):
            continue
        local = root.joinpath(*(names.get(x, x) for x in inner[:-1]), m.name)
        if (local.is_dir() if m.type == "folder" else local.is_file()):
            continue
        if any(part.startswith(".") for part in local.relative_to(root).parts):
            continue  # hidden names are never synced, so never missed
        client.delete_media(m.id)
        moved += 1
        if m.type == "folder":
            gone.append(labels[-1])
        _say(as_json, "trashed", f"moved to the trash: {m.name} ({m.id})", mediaId=m.id,
             name=m.name, type=m.type)
    return moved


def _stable(paths: set[Path], settle: float, stop: threading.Event) -> set[Path]:
    """The files that stopped changing: the same size and mtime `settle` seconds apart (a copy
    still being written is left for the next round)."""
    def snapshot() -> dict[Path, tuple[int, int] | None]:
        out: dict[Path, tuple[int, int] | None] = {}
        for p in paths:
            try:
                st = p.stat()
                out[p] = (st.st_size, st.st_mtime_ns)
            except OSError:
                out[p] = None
        return out
    before = snapshot()
    stop.wait(settle)
    after = snapshot()
    return {p for p in paths if after[p] is not None and after[p] == before[p]}


def watch(client: Client, job: SyncUploader, root: Path, base_folders: tuple[str, ...], *,
          parallel: int, as_json: bool, settle: float, delete: bool) -> int:
    """Send what appears or changes below root until interrupted; how many passes failed."""
    from watchfiles import Change
    from watchfiles import watch as changes_of

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    failed = 0
    waiting: set[Path] = set()
    _say(as_json, "watching", f"watching {root} (Ctrl-C to stop)", dir=str(root))
    try:
        for batch in changes_of(root, stop_event=stop, raise_interrupt=False,
                                yield_on_timeout=True, rust_timeout=int(settle * 1000) + 500):
            removed = False
            for change, name in batch:
                p = Path(name)
                if change == Change.deleted:
                    removed = True
                    waiting.discard(p)
                elif p.is_dir():
                    waiting.update(x for x in p.rglob("*") if x.is_file())
                else:
                    waiting.add(p)
            if waiting:
                ready = _stable(waiting, settle, stop)
                waiting -= ready
                waiting = {p for p in waiting if p.exists()}
                items = _items(root, list(ready), base_folders)
                if items:
                    try:
                        failed += bool(job.batch(items, parallel, as_json).failed)
                    except CoreVizError as exc:
                        failed += 1
                        _say(as_json, "error", f"error: {common.describe(exc)}",
                             error=common.describe(exc))
            if removed and delete:
                job._present.clear()  # listings changed under us: ask again
                job._named.clear()
                trash_missing(client, job, root, base_folders, as_json)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return failed


def sync(client: Client, directory: Path, collection_id: str, *, base_path: str | None,
         folder: str | None, parallel: int, as_json: bool, chunk_size: int,
         multipart_below: int, delete: bool, keep_watching: bool, settle: float) -> int:
    """The first pass (and the watch); how many passes ended with failed files."""
    root = directory.resolve()
    client.get_collection(collection_id)  # a wrong id or credential fails before any work
    base_folders = tuple(p for p in (folder or "").split("/") if p)
    children = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    items = plan(children, base_folders)
    state = State.for_job(collection_id, base_path, folder, [root], kind="sync")
    job = SyncUploader(client, collection_id, base_path, state, reporter(as_json),
                       chunk_size=chunk_size, multipart_below=multipart_below)
    failed = int(job.batch(items, parallel, as_json).failed > 0)
    if delete:
        trash_missing(client, job, root, base_folders, as_json)
    if keep_watching:
        failed += watch(client, job, root, base_folders, parallel=parallel, as_json=as_json,
                        settle=settle, delete=delete)
    return failed
