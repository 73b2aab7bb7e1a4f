"""A lock file that says "a live process is recording into this folder".

The lock is an OS file lock (released by the kernel when the process dies, even by SIGKILL), so a
crashed recording is recognised on the next start without trusting stale PID files.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO

LOCK_NAME = "recording.lock"
#: an import being written into a session folder holds this one (:mod:`core.transfer.importer`)
IMPORT_LOCK_NAME = "import.lock"


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


class RecordingLock:
    """Hold the lock on ``folder`` for the lifetime of a recording."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._fh: IO[bytes] | None = open(self.path, "a+b")  # noqa: SIM115 — held open
        if not try_lock(self._fh):
            self._fh.close()
            self._fh = None
            raise RuntimeError(f"Another TheraScope process is recording into {folder}")
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(str(os.getpid()).encode())
        self._fh.flush()

    def release(self, remove: bool = True) -> None:
        if self._fh is not None:
            unlock(self._fh)
            self._fh.close()
            self._fh = None
            if remove:
                self.path.unlink(missing_ok=True)


def is_recording_live(folder: Path) -> bool:
    """True when a live process holds the recording lock of ``folder`` (or its import lock: an
    import still writing the session)."""
    for name in (LOCK_NAME, IMPORT_LOCK_NAME):
        path = folder / name
        if not path.exists():
            continue
        with open(path, "a+b") as fh:
            if not try_lock(fh):
                return True
            unlock(fh)  # nobody held it: give it straight back
    return False
