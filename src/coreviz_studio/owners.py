"""Files named by the process that owns them, so a later start can tell a dead process's
leftovers (remove now, whatever their age) from a live one's work in progress (keep).

An owner is `<pid>-<start time>@<host>`: the start time tells a reused pid apart (as the
embedded PostgreSQL's holder files do), the host tag keeps processes of other machines that
share the directory (NFS, containers) out of the judgement.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import socket
import time
from collections.abc import Iterable
from pathlib import Path

import psutil

PATTERN = r"(\d+)-(\d+)@([0-9a-f]{8})"
_OWNER = re.compile(PATTERN)
_mine: tuple[int, str] | None = None


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def of(proc: psutil.Process) -> str:
    """The owner tag of a process of this machine."""
    return f"{proc.pid}-{int(proc.create_time())}@{_host()}"


def me() -> str:
    """This process's owner tag (computed again after a fork)."""
    global _mine
    if _mine is None or _mine[0] != os.getpid():
        _mine = (os.getpid(), of(psutil.Process()))
    return _mine[1]


def is_dead(owner: str) -> bool | None:
    """True when `owner` is a process of this machine that is gone; False when it lives;
    None when that can't be told (another machine, or not an owner tag)."""
    found = _OWNER.fullmatch(owner)
    if found is None or found.group(3) != _host():
        return None
    try:
        return of(psutil.Process(int(found.group(1)))) != owner
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return None


def owner_in(name: str, prefix: str = "") -> str | None:
    """The owner tag at the start of a file name (after `prefix`), or None."""
    found = re.match(re.escape(prefix) + PATTERN, name)
    return found.group(0)[len(prefix):] if found else None


def remove_leftovers(entries: Iterable[Path], older_than: float, prefix: str = "") -> int:
    """Remove the files and folders among `entries` whose owner (named after `prefix`) is
    dead, whatever their age, and those whose owner can't be judged once `older_than`
    seconds old; a live owner's stay. How many went."""
    removed = 0
    cutoff = time.time() - older_than
    for entry in entries:
        owner = owner_in(entry.name, prefix)
        dead = is_dead(owner) if owner else None
        with contextlib.suppress(FileNotFoundError):
            if dead or (dead is None and entry.stat().st_mtime < cutoff):
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink()
                removed += 1
    return removed
