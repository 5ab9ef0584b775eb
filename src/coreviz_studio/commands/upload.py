"""`media upload PATH... COLLECTION_ID`: files and directory trees, a few at once, resumable,
skipping what is already there, with progress (rich on a terminal, plain lines otherwise,
JSON lines with --json) and a summary.

Resuming: a state file (in the config dir, `uploads/<key>.json`, 0600; the key is the
collection, the destination and the paths given) records each file's tus upload URL as soon
as the server made it, and each file done. Run the same command again after a kill and the
files done are skipped, a file half sent goes on from the server's offset (only the missing
bytes), the others are sent. Files already in their folder with the same sha256 are skipped
too (whoever uploaded them). The state file goes once everything is in."""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import typer

from coreviz_studio.client import APIError, Client, CoreVizError, Gone, NotFound
from coreviz_studio.client.tus import MULTIPART_BELOW
from coreviz_studio.commands import common, profile


@dataclass
class Item:
    file: Path
    folders: tuple[str, ...]  # folder names under the destination, made if missing
    size: int
    key: str  # the file's absolute path: its name in the state file
    dest: str | None = None  # the folder's path (ltree) once known
    name: str = ""  # the name in CoreViz (default: the file's)
    sha256: str = ""
    version_of: str | None = None  # sync: a changed file becomes a new version of this item


@dataclass
class Summary:
    uploaded: int = 0
    skipped: int = 0
    failed: int = 0
    resumed: int = 0
    bytes_sent: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


def _hidden(p: Path) -> bool:
    return p.name.startswith(".")


def plan(paths: list[Path], base_folders: tuple[str, ...]) -> list[Item]:
    """Every file to send: a file goes to the destination, a directory becomes a folder of its
    name there, its subdirectories folders within it (hidden files and directories left out)."""
    items: list[Item] = []
    for given in paths:
        if given.is_dir():
            root = given.resolve()
            for f in sorted(root.rglob("*")):
                rel = f.relative_to(root)
                if f.is_file() and not any(part.startswith(".") for part in rel.parts):
                    items.append(Item(f, (*base_folders, root.name, *rel.parts[:-1]),
                                      f.stat().st_size, str(f)))
        elif given.is_file():
            f = given.resolve()
            items.append(Item(f, base_folders, f.stat().st_size, str(f)))
    return items


def sha256_of(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class State:
    """The resume file: {"uploads": {file: {"url", "size"}}, "done": {file: {"mediaId",
    "size", "sha256"}}}, rewritten (atomically) as it changes. An upload's URL is written at
    once (it is what a rerun resumes from); files done at most every SAVE_EVERY seconds and at
    the end: the whole file is rewritten each time, so writing it per file made a run of
    thousands of small files quadratic, and a `done` entry lost in a kill only costs the rerun
    hashing that file again (it is skipped all the same: its sha256 is in its folder)."""

    SAVE_EVERY = 1.0

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._saved_at = 0.0
        self._dirty = False
        try:
            data = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            data = {}
        self.uploads: dict[str, dict[str, Any]] = data.get("uploads", {})
        self.done: dict[str, dict[str, Any]] = data.get("done", {})

    @staticmethod
    def for_job(collection_id: str, base: str | None, folder: str | None,
                paths: list[Path], kind: str | None = None) -> State:
        key = json.dumps([collection_id, base, folder, sorted(str(p.resolve()) for p in paths)]
                         + ([kind] if kind else []))  # `sync` keeps its own files
        name = hashlib.sha256(key.encode()).hexdigest()[:24]
        return State(profile.config_dir() / "uploads" / f"{name}.json")

    def _save(self) -> None:
        profile.write_private(self.path, json.dumps({"uploads": self.uploads,
                                                     "done": self.done}))
        self._saved_at = time.monotonic()
        self._dirty = False

    def flush(self) -> None:
        with self._lock:
            if self._dirty:
                self._save()

    def started(self, item: Item, url: str) -> None:
        with self._lock:
            self.uploads[item.key] = {"url": url, "size": item.size}
            self._save()

    def finished(self, item: Item, media_id: str) -> None:
        with self._lock:
            self.uploads.pop(item.key, None)
            self.done[item.key] = {"mediaId": media_id, "size": item.size,
                                   "sha256": item.sha256}
            self._dirty = True
            if time.monotonic() - self._saved_at >= self.SAVE_EVERY:
                self._save()

    def forget_url(self, item: Item) -> None:
        with self._lock:
            if self.uploads.pop(item.key, None) is not None:
                self._save()

    def resume_url(self, item: Item) -> str | None:
        saved = self.uploads.get(item.key)
        return saved["url"] if saved and saved.get("size") == item.size else None

    def remove(self) -> None:
        with self._lock:
            self._dirty = False
            self.path.unlink(missing_ok=True)


# --- reporting ------------------------------------------------------------------------------

class Reporter(Protocol):
    def begin(self, items: list[Item]) -> None: ...
    def file_started(self, item: Item, resumed_at: int) -> None: ...
    def progress(self, item: Item, sent: int) -> None: ...
    def skipped(self, item: Item, why: str, media_id: str | None) -> None: ...
    def uploaded(self, item: Item, media_id: str, resumed: bool) -> None: ...
    def failed(self, item: Item, error: str) -> None: ...
    def end(self, summary: Summary, seconds: float) -> None: ...


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _summary_line(s: Summary, seconds: float, verb: str = "uploaded") -> str:
    rate = s.bytes_sent / seconds if seconds > 0 else 0
    return (f"{verb} {s.uploaded}, skipped {s.skipped}, failed {s.failed}"
            + (f" ({s.resumed} resumed)" if s.resumed else "")
            + f": {_human(s.bytes_sent)} in {seconds:.1f} s ({_human(rate)}/s)")


class JsonReporter:
    """One JSON line per event, for scripts. `verb` names what was done to a file
    (`uploaded`; `download` says `downloaded`)."""

    def __init__(self, verb: str = "uploaded") -> None:
        self._lock = threading.Lock()
        self._ended = False
        self.verb = verb

    def _emit(self, event: str, **data: Any) -> None:
        with self._lock:
            # The summary is the last line: after a Ctrl-C, a thread still busy with its file
            # would otherwise print past it (the file's state is kept either way).
            if not self._ended:
                common.emit({"event": event, **data})
                self._ended = event == "summary"

    def begin(self, items: list[Item]) -> None:
        self._emit("plan", files=len(items), bytes=sum(i.size for i in items))

    def file_started(self, item: Item, resumed_at: int) -> None:
        self._emit("start", file=item.key, size=item.size, offset=resumed_at)

    def progress(self, item: Item, sent: int) -> None:
        pass  # one line per file event, not per chunk

    def skipped(self, item: Item, why: str, media_id: str | None) -> None:
        self._emit("skipped", file=item.key, reason=why, mediaId=media_id)

    def uploaded(self, item: Item, media_id: str, resumed: bool) -> None:
        self._emit(self.verb, file=item.key, mediaId=media_id, size=item.size,
                   resumed=resumed, **({"version": True} if item.version_of else {}))

    def failed(self, item: Item, error: str) -> None:
        self._emit("failed", file=item.key, error=error)

    def end(self, summary: Summary, seconds: float) -> None:
        self._emit("summary", **{self.verb: summary.uploaded}, skipped=summary.skipped,
                   failed=summary.failed, resumed=summary.resumed, bytes=summary.bytes_sent,
                   seconds=round(seconds, 3),
                   failures=[{"file": f, "error": e} for f, e in summary.failures])


class QuietReporter(JsonReporter):
    """`--quiet`, as the official CLI's: only each file's result, one JSON object a line
    (`{"mediaId": ...}` first, so `... --quiet | jq -r .mediaId` carries over); failures on
    stderr, nothing else."""

    def _emit(self, event: str, **data: Any) -> None:
        if event == "failed":
            with self._lock:
                typer.echo(f"error: {data['file']}: {data['error']}", err=True)
        elif event in (self.verb, "skipped") and data.get("mediaId"):
            result = {"mediaId": data["mediaId"], "file": data["file"]}
            if event == "skipped":
                result["skipped"] = data["reason"]
            with self._lock:
                common.emit(result)


class PlainReporter:
    """A line per file, for logs and pipes (no terminal)."""

    def __init__(self, verb: str = "uploaded") -> None:
        self._lock = threading.Lock()
        self.verb = verb

    def _say(self, line: str) -> None:
        with self._lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def begin(self, items: list[Item]) -> None:
        self._say(f"{len(items)} files, {_human(sum(i.size for i in items))}")

    def file_started(self, item: Item, resumed_at: int) -> None:
        if resumed_at:
            self._say(f"resuming {item.file} at {_human(resumed_at)}")

    def progress(self, item: Item, sent: int) -> None:
        pass

    def skipped(self, item: Item, why: str, media_id: str | None) -> None:
        self._say(f"skipped {item.file} ({why})")

    def uploaded(self, item: Item, media_id: str, resumed: bool) -> None:
        self._say(f"{self.verb} {item.file} ({_human(item.size)}) -> {media_id}"
                  + (" (a new version)" if item.version_of else ""))

    def failed(self, item: Item, error: str) -> None:
        self._say(f"FAILED {item.file}: {error}")

    def end(self, summary: Summary, seconds: float) -> None:
        self._say(_summary_line(summary, seconds, self.verb))
        for f, e in summary.failures:
            self._say(f"  failed: {f}: {e}")


class RichReporter:
    """Progress bars on a terminal: the total (files and bytes, rate, ETA) and one per file
    being sent."""

    def __init__(self, verb: str = "uploaded") -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TaskID,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.console = Console()
        self.bars = Progress(TextColumn("{task.description}", markup=False), BarColumn(),
                             DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                             console=self.console, refresh_per_second=8)
        self._tasks: dict[str, TaskID] = {}
        self._total: TaskID | None = None
        self._files = 0
        self._count = 0
        self._lock = threading.Lock()
        self.verb = verb

    def _describe_total(self) -> str:
        return f"total {self._count}/{self._files} files"

    def begin(self, items: list[Item]) -> None:
        self._files = len(items)
        self.bars.start()
        self._total = self.bars.add_task(self._describe_total(),
                                         total=sum(i.size for i in items))

    def file_started(self, item: Item, resumed_at: int) -> None:
        with self._lock:
            self._tasks[item.key] = self.bars.add_task(item.file.name, total=item.size,
                                                       completed=resumed_at)
        if resumed_at and self._total is not None:
            self.bars.advance(self._total, resumed_at)

    def progress(self, item: Item, sent: int) -> None:
        task = self._tasks.get(item.key)
        if task is None or self._total is None:
            return
        before = self.bars.tasks[self._index(task)].completed
        self.bars.update(task, completed=sent)
        self.bars.advance(self._total, max(0, sent - int(before)))

    def _index(self, task: Any) -> int:
        return next(i for i, t in enumerate(self.bars.tasks) if t.id == task)

    def _done(self, item: Item, count_bytes: bool) -> None:
        with self._lock:
            task = self._tasks.pop(item.key, None)
            self._count += 1
        if task is not None:
            self.bars.remove_task(task)
        if self._total is not None:
            if count_bytes:
                self.bars.advance(self._total, item.size)
            self.bars.update(self._total, description=self._describe_total())

    def skipped(self, item: Item, why: str, media_id: str | None) -> None:
        self._done(item, True)

    def uploaded(self, item: Item, media_id: str, resumed: bool) -> None:
        self._done(item, False)

    def failed(self, item: Item, error: str) -> None:
        self.bars.console.print(f"[red]failed[/red] {item.file}: {error}", markup=True)
        self._done(item, True)

    def end(self, summary: Summary, seconds: float) -> None:
        self.bars.stop()
        self.console.print(_summary_line(summary, seconds, self.verb), markup=False,
                           highlight=False)
        for f, e in summary.failures:
            self.console.print(f"  failed: {f}: {e}", markup=False, highlight=False)


def reporter(as_json: bool, verb: str = "uploaded", quiet: bool = False) -> Reporter:
    if quiet:
        return QuietReporter(verb)
    if as_json:
        return JsonReporter(verb)
    return RichReporter(verb) if sys.stdout.isatty() else PlainReporter(verb)


# --- the upload -----------------------------------------------------------------------------

class Uploader:
    def __init__(self, client: Client, collection_id: str, base_path: str | None,
                 state: State, report: Reporter, *, chunk_size: int,
                 multipart_below: int) -> None:
        self.client = client
        self.collection_id = collection_id
        self.base_path = base_path
        self.state = state
        self.report = report
        self.chunk_size = chunk_size
        self.multipart_below = multipart_below
        self.summary = Summary()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._folders: dict[tuple[str, ...], str | None] = {(): base_path}
        self._present: dict[str | None, dict[str, str]] = {}  # folder -> sha256 -> id

    def folder(self, names: tuple[str, ...]) -> str | None:
        """The path of the folder these names lead to under the destination (made if
        missing; an existing folder of the same name is reused)."""
        if names in self._folders:
            return self._folders[names]
        parent = self.folder(names[:-1])
        made = self.client.create_folder(self.collection_id, names[-1], parent, reuse=True)
        self._folders[names] = made.path
        return made.path

    def present(self, path: str | None) -> dict[str, str]:
        """The sha256 of every item already in that folder, and each one's id."""
        if path not in self._present:
            self._present[path] = {m.sha256: m.id for m in self.client.iter_media(
                self.collection_id, path=path, page_size=500) if m.sha256}
        return self._present[path]

    def _count(self, **more: int) -> None:
        with self._lock:
            for k, v in more.items():
                setattr(self.summary, k, getattr(self.summary, k) + v)

    def prepare(self, item: Item) -> bool:
        """Resolve the folder and the checksum; whether the file still has to go."""
        item.dest = self.folder(item.folders)
        done = self.state.done.get(item.key)
        if done and done.get("size") == item.size:
            item.sha256 = done.get("sha256", "")
            if not item.sha256 or item.sha256 in self.present(item.dest):
                self._count(skipped=1)
                self.report.skipped(item, "uploaded before", done.get("mediaId"))
                return False
        item.sha256 = item.sha256 or sha256_of(item.file)
        there = self.present(item.dest).get(item.sha256)
        if self.state.resume_url(item) is None and there is not None:
            self._count(skipped=1)
            self.report.skipped(item, "already there (same sha256)", there)
            return False
        return True

    def send(self, item: Item) -> None:
        url = self.state.resume_url(item)
        resumed_at = 0
        if url is not None:
            try:
                status = self.client.upload_status(url)
                if status.media_id:  # it finished, the answer was lost with the process
                    self._finished(item, status.media_id, resumed=True, sent=0)
                    return
                resumed_at = status.offset
            except (Gone, NotFound):
                self.state.forget_url(item)
                url = None
        self.report.file_started(item, resumed_at)
        result = self.client.upload(
            item.file, self.collection_id, path=item.dest, name=item.name or item.file.name,
            version_of=item.version_of, chunk_size=self.chunk_size,
            multipart_below=self.multipart_below, resume_url=url,
            on_created=lambda u: self.state.started(item, u),
            on_progress=lambda sent, _total: self.report.progress(item, sent))
        self._finished(item, result.media_id, resumed=url is not None,
                       sent=item.size - resumed_at)

    def _finished(self, item: Item, media_id: str, *, resumed: bool, sent: int) -> None:
        self.state.finished(item, media_id)
        self._count(uploaded=1, resumed=int(resumed), bytes_sent=sent)
        self.report.uploaded(item, media_id, resumed)

    def one(self, item: Item) -> None:
        if self.stopping.is_set():  # Ctrl-C: a file this thread had already taken waits
            return
        try:
            if self.prepare(item):
                self.send(item)
        except (CoreVizError, OSError) as exc:
            error = common.describe(exc)
            with self._lock:
                self.summary.failed += 1
                self.summary.failures.append((item.key, error))
            self.report.failed(item, error)

    def run(self, items: list[Item], parallel: int) -> Summary:
        # Folders first, one at a time (siblings share parents), then the files in parallel.
        for names in sorted({i.folders for i in items}, key=len):
            self.present(self.folder(names))
        pool = ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="upload")
        try:
            for _ in pool.map(self.one, items):
                pass
        except KeyboardInterrupt:
            # Start no other file; those being sent finish (their state is kept either way).
            self.stopping.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return self.summary


def upload(client: Client, paths: list[Path], collection_id: str, *, base_path: str | None,
           folder: str | None, parallel: int, as_json: bool, chunk_size: int,
           multipart_below: int = MULTIPART_BELOW, name: str | None = None,
           quiet: bool = False) -> Summary:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        common.fail(f"no such file or directory: {', '.join(missing)}", profile.USAGE)
    client.get_collection(collection_id)  # a wrong id or credential fails before any work
    base_folders = tuple(p for p in (folder or "").split("/") if p)
    items = plan(paths, base_folders)
    if name is not None:
        if len(items) != 1:
            common.fail("--name names one file: give a single file", profile.USAGE)
        items[0].name = name
    state = State.for_job(collection_id, base_path, folder, paths)
    report = reporter(as_json, quiet=quiet)
    started = time.monotonic()
    report.begin(items)
    job = Uploader(client, collection_id, base_path, state, report, chunk_size=chunk_size,
                   multipart_below=multipart_below)
    try:
        summary = job.run(items, parallel)
    except (APIError, KeyboardInterrupt):
        state.flush()
        report.end(job.summary, time.monotonic() - started)
        raise
    report.end(summary, time.monotonic() - started)
    if summary.failed == 0:
        state.remove()
    else:
        state.flush()
    return summary

