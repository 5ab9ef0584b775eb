"""`download`: originals to disk, a collection's, a folder's (recreated by name) or a search's
results, a few at once, with the upload's progress and events.

Names come from the server and may be anything: each is made safe for a file system
(`safe_name`: no separators, no `.`/`..`, no control characters) and two that end up the same
in one directory (case-insensitively) get ` (2)`, ` (3)` ... in a fixed order, so that a rerun
gives every item the same place. A file already at its place with the item's size and sha256
is skipped; otherwise the bytes stream into a hidden `.NAME.part` beside it (a rerun asks only
for the rest, with Range), are checked against the item's sha256, and the part file takes the
name at the end."""

from __future__ import annotations

import os
import time
import unicodedata
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from coreviz_studio.client import Client, CoreVizError, NotFound
from coreviz_studio.client.models import Folder, Media
from coreviz_studio.commands import common
from coreviz_studio.commands.upload import Item, Reporter, Summary, reporter, sha256_of

MAX_NAME_BYTES = 200  # below every common file system's 255, leaving room for a suffix


def safe_name(name: str) -> str:
    """A name that stays one entry of the directory it is written in."""
    kept = "".join("_" if ch in "/\\" else ch for ch in name
                   if unicodedata.category(ch) not in ("Cc", "Cs", "Zl", "Zp")
                   and not ("\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069"))
    kept = kept.strip()
    if kept.strip(".") == "":  # "", ".", "..": not a name of its own
        kept = "_" * max(1, len(kept))
    if len(kept.encode()) > MAX_NAME_BYTES:
        stem, dot, ext = kept.rpartition(".")
        ext = dot + ext if dot and len(ext.encode()) < 20 else ""
        stem = stem if ext else kept
        while len((stem + ext).encode()) > MAX_NAME_BYTES:
            stem = stem[:-1]
        kept = stem + ext
    return kept


def _suffixed(name: str, n: int) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return f"{name} ({n})"
    return f"{stem} ({n}).{ext}"


class Namer:
    """Unique, safe names per directory (clashes compared case-insensitively, as macOS and
    Windows do)."""

    def __init__(self) -> None:
        self._taken: dict[Path, set[str]] = {}

    def place(self, directory: Path, name: str) -> Path:
        taken = self._taken.setdefault(directory, set())
        base = safe_name(name)
        candidate, n = base, 1
        while candidate.casefold() in taken:
            n += 1
            candidate = _suffixed(base, n)
        taken.add(candidate.casefold())
        return directory / candidate


@dataclass
class Wanted:
    media: Media
    target: Path


def _labels(path: str) -> list[str]:
    return [x for x in path.split(".") if x]


def _hex(ident: str) -> str:
    return ident.replace("-", "").lower()


class Planner:
    """Where each item goes: folders by name below `root`, from the item's ltree path below
    `base` (the labels of the collection or folder being downloaded)."""

    def __init__(self, client: Client, root: Path, base: list[str]) -> None:
        self.client = client
        self.root = root
        self.base = base
        self.namer = Namer()
        self._dirs: dict[tuple[str, ...], Path] = {(): root}
        self._names: dict[str, str] = {}  # folder label -> its name

    def know(self, folders: Iterable[Media]) -> None:
        for f in folders:
            self._names[_hex(f.id)] = f.name

    def _name_of(self, label: str) -> str:
        if label not in self._names:
            try:
                self._names[label] = self.client.get_folder(label).name
            except NotFound:
                self._names[label] = label
        return self._names[label]

    def directory(self, labels: tuple[str, ...]) -> Path:
        if labels not in self._dirs:
            parent = self.directory(labels[:-1])
            self._dirs[labels] = self.namer.place(parent, self._name_of(labels[-1]))
        return self._dirs[labels]

    def inner(self, path: str) -> tuple[str, ...]:
        """The folder labels between the base and the item itself."""
        labels = _labels(path)
        if labels[:len(self.base)] == self.base:
            return tuple(labels[len(self.base):-1])
        return ()  # not below the base (a search hit elsewhere): at the top

    def plan(self, items: list[Media]) -> tuple[list[Path], list[Wanted]]:
        folders = sorted((m for m in items if m.type == "folder"),
                         key=lambda m: (len(_labels(m.path)), m.name, m.id))
        self.know(folders)
        dirs = [self.directory((*self.inner(f.path), _hex(f.id))) for f in folders]
        files = sorted((m for m in items if m.type != "folder" and m.blob),
                       key=lambda m: (self.inner(m.path), m.name, m.id))
        wanted = [Wanted(m, self.namer.place(self.directory(self.inner(m.path)), m.name))
                  for m in files]
        return dirs, wanted


def _part_of(target: Path) -> Path:
    return target.with_name(f".{target.name}.part")


class Downloader:
    def __init__(self, client: Client, report: Reporter) -> None:
        self.client = client
        self.report = report
        self.summary = Summary()

    def _count(self, **more: int) -> None:
        for k, v in more.items():  # ints under the GIL; the pool's threads add one at a time
            setattr(self.summary, k, getattr(self.summary, k) + v)

    def one(self, w: Wanted, item: Item) -> None:
        m = w.media
        try:
            if (w.target.is_file() and m.sha256 and w.target.stat().st_size == m.size_bytes
                    and sha256_of(w.target) == m.sha256):
                self._count(skipped=1)
                self.report.skipped(item, "already there (same size and sha256)", m.id)
                return
            w.target.parent.mkdir(parents=True, exist_ok=True)
            part = _part_of(w.target)
            offset = part.stat().st_size if part.exists() else 0
            if m.size_bytes is not None and offset > m.size_bytes:
                offset = 0
            self.report.file_started(item, offset)
            with part.open("ab" if offset else "wb") as out:
                size = self.client.download_blob(
                    m.blob or "", out, offset=offset,
                    on_progress=lambda done, _total: self.report.progress(item, done))
            if m.sha256 and sha256_of(part) != m.sha256:
                part.unlink(missing_ok=True)
                raise OSError("the bytes that arrived do not match the item's sha256")
            os.replace(part, w.target)
            self._count(uploaded=1, resumed=int(offset > 0), bytes_sent=size - offset)
            self.report.uploaded(item, m.id, offset > 0)
        except (CoreVizError, OSError) as exc:
            error = common.describe(exc)
            self._count(failed=1)
            self.summary.failures.append((item.key, error))
            self.report.failed(item, error)

    def run(self, wanted: list[Wanted], parallel: int) -> Summary:
        items = [Item(w.target, (), w.media.size_bytes or 0, str(w.target)) for w in wanted]
        self.report.begin(items)
        with ThreadPoolExecutor(max_workers=max(1, parallel),
                                thread_name_prefix="download") as pool:
            for _ in pool.map(self.one, wanted, items):
                pass
        return self.summary


def _source(client: Client, ident: str, path: str | None, dest: Path
            ) -> tuple[Planner, list[Media]]:
    """What an id names: a collection (with --path: the folder at that path), a folder or
    one media item; its planner and items."""
    if path:
        return _folder(client, client.get_folder(_labels(path)[-1]), dest)
    try:
        collection = client.get_collection(ident)
    except NotFound:
        pass
    else:
        planner = Planner(client, dest, [_hex(collection.id)])
        return planner, list(client.iter_media(collection.id, recursive=True, page_size=500))
    try:
        folder = client.get_folder(ident)
    except NotFound:
        pass
    else:
        return _folder(client, folder, dest)
    media = client.get_media(ident)  # not that either: the server's 404 says so
    if media.type == "folder":
        return _folder(client, client.get_folder(media.id), dest)
    return Planner(client, dest, _labels(media.path)[:-1]), [media]


def _folder(client: Client, folder: Folder, dest: Path) -> tuple[Planner, list[Media]]:
    root = Namer().place(dest, folder.name)
    items = list(client.iter_media(folder.collection_id or folder.dataset_id or "",
                                   path=folder.path, recursive=True, page_size=500))
    return Planner(client, root, _labels(folder.path)), items


def download(client: Client, ident: str, dest: Path, *, path: str | None, search: str | None,
             min_score: float | None, limit: int, parallel: int, as_json: bool) -> Summary:
    if search is not None:
        collection = client.get_collection(ident)
        hits = [m for m in client.search_media(collection.id, search, limit=limit).media
                if m.type != "folder"
                and (min_score is None or (m.score is not None and m.score >= min_score))]
        planner, items = Planner(client, dest, [_hex(collection.id)]), hits
    else:
        planner, items = _source(client, ident, path, dest)
    dirs, wanted = planner.plan(items)
    for d in [planner.root, *dirs]:
        d.mkdir(parents=True, exist_ok=True)
    report = reporter(as_json, "downloaded")
    started = time.monotonic()
    job = Downloader(client, report)
    try:
        summary = job.run(wanted, parallel)
    finally:
        report.end(job.summary, time.monotonic() - started)
    return summary
