"""A lock file that says "a live process is recording into this folder".

The lock is an OS file lock (released by the kernel when the process dies, even by SIGKILL), so a
crashed recording is recognised on the next start without trusting stale PID files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from core.filelock import try_lock, unlock

LOCK_NAME = "recording.lock"
#: an import being written into a session folder holds this one (:mod:`core.transfer.importer`)
IMPORT_LOCK_NAME = "import.lock"

__all__ = [
    "IMPORT_LOCK_NAME",
    "LOCK_NAME",
    "RecordingLock",
    "is_recording_live",
    "try_lock",
    "unlock",
]


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
