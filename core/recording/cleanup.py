"""What an interrupted write leaves in session folders, and the lock that tells a live write.

A kill (power cut, SIGKILL, a crash) between the steps of a write leaves files that nothing reads:
a session folder whose recording never started, the temporary file of
:func:`~core.recording.manifest.write_json_atomic`. :func:`clean_session_folders` removes them at
the next start (:func:`core.report.cleanup.clean_interrupted_writes` calls it with the other
layers' cleanups), and only where that is provable: never in the folder of a live recording (its
``recording.lock`` is held, :mod:`core.recording.lock`), never a session still marked
``recording`` (recovery's, :mod:`core.recording.recovery`), never outside the data folder.

:class:`WriteLock` is the same kind of OS lock for other writes (an analysis, a report export):
held from the write's first file to its last step and released by the kernel when the process
dies, so a cleanup in another process leaves a live write alone (:func:`write_in_progress`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import IO

from core.catalog import Catalog, SessionRecord
from core.filelock import try_lock, unlock
from core.recording.lock import IMPORT_LOCK_NAME, LOCK_NAME, is_recording_live
from core.security import vault

log = logging.getLogger(__name__)

#: what a session folder holds before its catalog row exists (``RecordingSession.start`` writes
#: them in this order: lock, manifest, simulation truth), besides ``*.tmp`` files
PRE_RECORDING_FILES = frozenset({LOCK_NAME, "session.json", "simulation.json"})
#: the suffix :func:`~core.recording.manifest.write_json_atomic` gives its temporary file
JSON_TMP_SUFFIX = ".json.tmp"
#: an import builds its session in ``sessions/.importing-<uid>`` under a :class:`WriteLock` named
#: ``import.lock`` (:mod:`core.transfer.importer`), kept in the session folder until it is final
IMPORT_STAGING_PREFIX = ".importing-"


def _same_file(fh: IO[bytes], path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fh`` (a cleanup may have removed it)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fh.fileno())
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


class WriteLock:
    """An OS lock on ``path`` that says "a live process is writing this" (see the module).

    Parameters
    ----------
    path : Path — the lock file (created; removed by :meth:`release`)

    Raises
    ------
    RuntimeError — another live process holds it
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        while True:
            fh = open(self.path, "a+b")  # noqa: SIM115 — held open until release
            if not try_lock(fh):
                fh.close()
                raise RuntimeError(f"another process is writing {self.path.name}")
            # a cleanup removes a lock file nobody holds; if it did so between our open and our
            # lock, ours is a removed file: take a fresh one
            if sys.platform == "win32" or _same_file(fh, self.path):
                break
            fh.close()
        self._fh: IO[bytes] | None = fh

    def release(self) -> None:
        """Unlock and remove the lock file (again: nothing). A lock file that cannot be removed
        stays, unheld: the start-up cleanup removes it."""
        fh, self._fh = self._fh, None
        if fh is None:
            return
        try:
            if sys.platform == "win32":
                unlock(fh)
                fh.close()
            with contextlib.suppress(OSError):  # removed while held (POSIX): never found unheld
                self.path.unlink(missing_ok=True)
        finally:
            fh.close()

    def __enter__(self) -> WriteLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def write_in_progress(path: Path) -> bool:
    """True when a live process holds the :class:`WriteLock` at ``path`` (False: no such file)."""
    try:
        fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))  # never creates it
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot even look: assume a live write
    with os.fdopen(fd, "r+b") as fh:
        if not try_lock(fh):
            return True
        unlock(fh)
        return False


def remove_stale_lock(path: Path) -> bool:
    """Remove the lock file at ``path`` when no live process holds it; True when removed."""
    try:
        fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    except OSError:
        return False
    with os.fdopen(fd, "r+b") as fh:
        if not try_lock(fh):
            return False
        if sys.platform == "win32":
            unlock(fh)
            fh.close()
        try:
            os.unlink(path)  # while held (POSIX): a writer that opened it meanwhile starts over
        except OSError:
            return False
    return True


def inside(path: Path, root: Path) -> bool:
    """Whether ``path`` (symbolic links resolved) lies inside ``root``."""
    try:
        return Path(path).resolve().is_relative_to(Path(root).resolve())
    except OSError:
        return False


def _failed_start(folder: Path) -> bool:
    """Whether a session folder holds only what a start writes before its catalog row."""
    for entry in folder.iterdir():
        if entry.is_symlink() or not entry.is_file():
            return False
        if entry.name not in PRE_RECORDING_FILES and not entry.name.endswith(".tmp"):
            return False
    return True


def _abandoned_import(folder: Path) -> bool:
    """Whether a folder without a catalog row is an import killed before its row was written:
    its ``import.lock`` is left (no live process holds it: the caller checked) and its manifest
    says it was imported. The source files are still where the user keeps them."""
    if not (folder / IMPORT_LOCK_NAME).is_file():
        return False
    try:
        manifest = json.loads(vault.read_bytes(folder / "session.json"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("origin") == "imported"


def clean_session_folders(catalog: Catalog, data_root: Path) -> list[str]:
    """Remove what interrupted writes left in ``<data_root>/sessions/``.

    Removed, in folders no live process records into (``recording.lock`` not held):

    - a folder without a catalog row that holds only what a start writes before the row
      (``recording.lock``, ``session.json``, ``simulation.json``, ``*.tmp``): a start that
      failed or was killed before the session existed, so nothing was recorded;
    - in the folder of a session whose row is no longer ``recording``, the temporary files of
      :func:`~core.recording.manifest.write_json_atomic` (``*.json.tmp``, empty or not: their
      writer, the recording or its recovery, is over).

    - a hidden import staging folder (``.importing-<uid>``) whose ``import.lock`` no live
      process holds, and a session folder without a row that an import left with its
      ``import.lock`` (its manifest says imported): an import killed before its session
      existed (the source files are still where the user keeps them).

    Left alone: folders of sessions still marked ``recording`` (recovered by
    :func:`~core.recording.recovery.recover_unfinished`; call that first), folders being
    deleted (``.deleting-…``, :mod:`core.catalog.erasure`), folders without a row that hold
    recorded data, symbolic links, anything outside the data folder.

    Returns
    -------
    list of str — what was removed, relative to ``data_root`` (POSIX; session uids, no patient
    data)
    """
    root = Path(data_root)
    sessions = root / "sessions"
    if not sessions.is_dir() or not inside(sessions, root):
        return []
    rows: dict[Path, SessionRecord] = {}
    for row in catalog.list_sessions():
        try:
            rows[(root / row.folder).resolve()] = row
        except OSError:
            continue
    removed: list[str] = []
    for folder in sorted(sessions.iterdir()):
        if folder.is_symlink() or not folder.is_dir():
            continue
        if folder.name.startswith(IMPORT_STAGING_PREFIX):
            try:
                if inside(folder, root) and not write_in_progress(folder / IMPORT_LOCK_NAME):
                    shutil.rmtree(folder)
                    removed.append(folder.relative_to(root).as_posix())
            except OSError as e:
                log.warning("could not clean an unfinished import: %s", e.strerror or e)
            continue
        if folder.name.startswith("."):
            continue
        rel = folder.relative_to(root).as_posix()
        try:
            if not inside(folder, root) or is_recording_live(folder):
                continue
            rec = rows.get(folder.resolve())
            if rec is None:
                if _failed_start(folder) or _abandoned_import(folder):
                    shutil.rmtree(folder)
                    removed.append(rel)
                continue
            if rec.status == "recording":
                continue
            for entry in sorted(folder.iterdir()):
                tmp = entry.name.endswith(JSON_TMP_SUFFIX)
                if tmp and entry.is_file() and not entry.is_symlink():
                    entry.unlink()
                    removed.append(f"{rel}/{entry.name}")
        except OSError as e:
            log.warning("could not clean %s: %s", rel, e.strerror or e)
    return removed
