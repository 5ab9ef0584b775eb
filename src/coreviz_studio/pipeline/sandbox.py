"""Run `decode` in a child process with capped memory and time.

A decoder that loops, explodes in memory or crashes (a hostile video, a PDF bomb) then takes
down only its child: the worker reports a readable failure and goes on with the next job.
Children come from a fork server that has already imported the decoders, so one costs a fork
(milliseconds), not a new interpreter, and never inherits the worker's threads or models.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import resource
import signal
from multiprocessing.connection import Connection
from pathlib import Path

from coreviz_studio.diskspace import is_out_of_space, out_of_space
from coreviz_studio.pipeline.decode import BadMedia, Decoded, Limits, decode

_context = multiprocessing.get_context("forkserver")
# "__main__" too: otherwise every child re-imports the main module (the CLI, or pytest).
# sandbox_preload loads every decoder in the fork server (decode.load_decoders).
_context.set_forkserver_preload(["__main__", "coreviz_studio.pipeline.sandbox_preload"])


_PR_SET_PDEATHSIG = 1


class DecodeFailed(Exception):
    """The child did not finish: too slow, out of memory, or crashed. The message is for
    users."""


def decode_isolated(kind: str, src: Path, out: Path, limits: Limits, *, timeout: float,
                    memory_mb: int) -> Decoded:
    """`decode(kind, src, out, limits)` in a child; BadMedia or DecodeFailed when it can't,
    an ENOSPC OSError when the disk is full."""
    receive, send = _context.Pipe(duplex=False)
    child = _context.Process(
        target=_child, args=(send, kind, str(src), str(out), limits, memory_mb, timeout),
        name="coreviz-decode", daemon=True,
    )
    child.start()
    send.close()
    try:
        if not receive.poll(timeout):
            child.kill()
            raise DecodeFailed(f"decoding took longer than {timeout:g} s "
                               "(COREVIZ_DECODE_TIMEOUT_SECONDS)")
        try:
            outcome, value = receive.recv()
        except EOFError:
            child.join(5)
            raise DecodeFailed(
                f"the decoder stopped (exit code {child.exitcode}); the file is damaged or needs "
                f"more than {memory_mb} MB (COREVIZ_DECODE_MEMORY_MB)") from None
    finally:
        receive.close()
        child.join(5)
        if child.is_alive():
            child.kill()
    if outcome == "bad":
        raise value  # the child's BadMedia (or subclass), unpickled
    if outcome == "failed":
        raise DecodeFailed(value)
    if outcome == "nospace":
        raise out_of_space(value)
    assert isinstance(value, Decoded)
    return value


def _die_with_parent() -> None:
    """Linux: be killed when the fork server goes, which it does when its worker dies, so a
    killed worker leaves no decoder running."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the CPU-time limit still ends the child


def _child(send: Connection, kind: str, src: str, out: str, limits: Limits, memory_mb: int,
           timeout: float) -> None:
    _die_with_parent()
    cap = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    # CPU seconds as a second fence: a child the parent somehow stops watching still ends.
    cpu = int(timeout * 2) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    try:
        send.send(("ok", decode(kind, Path(src), Path(out), limits)))
    except BadMedia as exc:
        send.send(("bad", type(exc)(str(exc))))  # without its traceback and causes
    except OSError as exc:
        if not is_out_of_space(exc):
            send.send(("bad", BadMedia(f"the file cannot be decoded ({type(exc).__name__})")))
        else:  # the frames could not be written: the server's trouble, retried later
            send.send(("nospace", "no space left on the server's disk to write the frames"))
    except MemoryError:
        send.send(("failed", f"decoding needs more than {memory_mb} MB "
                             "(COREVIZ_DECODE_MEMORY_MB)"))
    except Exception as exc:  # any other decoder failure is the file's, reported readably
        send.send(("bad", BadMedia(f"the file cannot be decoded ({type(exc).__name__})")))
    finally:
        send.close()
