"""OS file locks that the kernel releases when their holder dies (even by SIGKILL): the one
way TheraScope tells a live writer from a crashed one (recordings, imports, exports, the key
store), without trusting stale PID files."""

from __future__ import annotations

import sys
from typing import IO


def try_lock(fh: IO[bytes]) -> bool:
    """Take an exclusive OS lock on the open file without waiting; False when another process
    holds it (released by the kernel when the holder dies, even by SIGKILL)."""
    if sys.platform == "win32":
        import msvcrt

        # msvcrt locks bytes from the current position, and "a+b" opens at the end of the file:
        # every process must lock the same byte, byte 0
        fh.seek(0)
        try:
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def unlock(fh: IO[bytes]) -> None:
    """Release a lock taken by :func:`try_lock` (closing the file releases it too)."""
    if sys.platform == "win32":
        import msvcrt

        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
    # POSIX flock locks end with the file description: closing is enough
