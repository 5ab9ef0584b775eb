"""A fork server for the tests' commands (tests/processes.py): it imports the command once,
then forks one child per request, each running `coreviz_studio.cli.main` with its own argv,
environment and output files, as `python -m coreviz_studio` would after its imports.

Protocol, one JSON object per line. In on stdin: {"id", "argv", "env", "stdout", "stderr"}.
Out on stdout: {"id", "pid"} once the child is forked, {"pid", "exit"} once it has ended
(exit as subprocess gives it: the code, or minus the signal). EOF on stdin ends the server
(its children live on).

Only this process's main thread ever runs, so forking it is safe (no lock held by a thread
the child would not have); the multiprocessing fork server of the decoder sandbox is not
shared, so its children's memory caps see what they see in a real server.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import selectors
import signal
import sys
import traceback
from typing import Any

PRELOAD = ("uvicorn", "coreviz_studio.cli", "coreviz_studio.app", "coreviz_studio.pipeline.process",
           "coreviz_studio.pipeline.worker")  # what serve and worker import as they start


def _preload() -> None:
    for name in PRELOAD:
        importlib.import_module(name)


def _child(request: dict[str, Any], close: list[int]) -> None:
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        # Ctrl-C as a terminal gives it: a suite started in the background (`cmd &`) has SIGINT
        # ignored, and a forked child would inherit that (Python installs its handler only at
        # start, and only when SIGINT is not ignored).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd in close:
            os.close(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
            opened = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(opened, fd)
            os.close(opened)
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["coreviz-studio", *request["argv"]]
        from coreviz_studio.cli import main

        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
    except BaseException:  # the child reports, then ends, whatever happened
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def main() -> None:
    _preload()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that the wakeup fd is written
    out = sys.stdout
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    pending = b""

    def say(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    while True:
        for key, _ in selector.select():
            if key.fd == wake_r:
                try:
                    while os.read(wake_r, 4096):
                        pass
                except BlockingIOError:
                    pass
                while True:
                    try:
                        pid, status = os.waitpid(-1, os.WNOHANG)
                    except ChildProcessError:
                        break
                    if pid == 0:
                        break
                    say({"pid": pid, "exit": os.waitstatus_to_exitcode(status)})
                continue
            chunk = os.read(0, 65536)
            if not chunk:
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    _child(request, [wake_r, wake_w])
                say({"id": request["id"], "pid": pid})


if __name__ == "__main__":
    main()
