"""Telling "the disk is full" apart from every other OSError, and measuring free space.

A full disk is the server's trouble, not the user's file: uploads answer 507 and processing
waits for space instead of recording the media as undecodable.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

OUT_OF_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_out_of_space(exc: BaseException | None) -> bool:
    """Whether `exc`, or an exception it was raised from, is a full disk or quota."""
    seen = 0
    while exc is not None and seen < 10:  # a bounded walk: cause chains can loop
        if isinstance(exc, OSError) and exc.errno in OUT_OF_SPACE:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def out_of_space(message: str) -> OSError:
    """An ENOSPC error with our own message (the decoder child reports one this way)."""
    return OSError(errno.ENOSPC, message)


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged process may still write on `path`'s filesystem."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize
