"""Start-up cleanup of interrupted writes, and the journal of report exports in progress.

A kill (power cut, SIGKILL, a crash) in the middle of a write leaves files nothing reads: a half
analysis generation, a report's temporary file with patient data in it, a session folder whose
recording never started. :func:`clean_interrupted_writes` removes them at the next start, and
only what is provably such a leftover; it sits in the top layer because it gathers the cleanups
of the layers below (sessions: :func:`core.recording.cleanup.clean_session_folders`; analyses:
:func:`core.analysis.results.clean_analysis_folder`; report exports: :func:`clean_pending_exports`).

A report is exported to a folder the therapist chooses, usually outside the data folder, where no
cleanup may look around. So each export in progress is journalled in the data folder
(:func:`pending_export`)::

    <data>/pending-exports/<token>.json   {"temp": "<folder>/.<name>.<token>.partial",
                                           "target": "<folder>/<name>"}
    <data>/pending-exports/<token>.lock   held by the exporting process (WriteLock)

The entry is written (and synced) before the temporary file exists and removed after it is gone
(renamed onto the target, or deleted on any error, KeyboardInterrupt included). An entry whose
lock nobody holds is a killed export: the cleanup removes exactly the file it names, and only if
that is still a regular file named as our temporary files are (with the entry's random token).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from core.analysis.results import clean_analysis_folder
from core.catalog import Catalog
from core.recording.cleanup import (
    WriteLock,
    clean_session_folders,
    inside,
    remove_stale_lock,
    write_in_progress,
)
from core.recording.lock import is_recording_live

log = logging.getLogger(__name__)

#: the journal of exports in progress, in the data folder
EXPORTS_DIR = "pending-exports"
_TOKEN = re.compile(r"[0-9a-f]{16}")
#: an export's temporary file: ``.<target name>.<token>.partial`` (the older one had no token)
_TEMP = re.compile(r"\..+?(?:\.(?P<token>[0-9a-f]{16}))?\.partial")


def export_temp_path(out: Path, token: str) -> Path:
    """The temporary file an export to ``out`` writes first (hidden, beside ``out``)."""
    return out.with_name(f".{out.name}.{token}.partial")


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


@contextmanager
def pending_export(data_root: Path, out: Path) -> Iterator[Path]:
    """Journal an export to ``out`` and give the temporary file to write it to.

    On leaving the block the temporary file is renamed onto ``out`` (one step: ``out`` is the old
    file or the whole new one); on any exception, KeyboardInterrupt included, it is deleted and
    ``out`` left as it was. Either way the journal entry is removed; after a kill the entry stays
    and :func:`clean_pending_exports` removes the temporary file at the next start.

    Parameters
    ----------
    data_root : Path — the data folder (the journal lives there)
    out : Path — the file to write (anywhere; its folder must exist)
    """
    out = Path(os.path.abspath(out))
    jdir = Path(data_root) / EXPORTS_DIR
    jdir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(8)
    tmp = export_temp_path(out, token)
    entry = jdir / f"{token}.json"
    lock = WriteLock(jdir / f"{token}.lock")
    try:
        _write_synced(entry, json.dumps({"temp": str(tmp), "target": str(out)}))
        try:
            yield tmp
            os.replace(tmp, out)
        except BaseException:
            with suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise
    finally:
        if not tmp.exists():  # else the entry stays, and the next start removes the file
            with suppress(OSError):
                entry.unlink(missing_ok=True)
        lock.release()


def _is_our_temp(temp: Path, target: Path, token: str) -> bool:
    """Whether ``temp`` is still what an export journalled with ``token`` left: a regular file
    (no link), beside its target, named as our temporary files are."""
    if not temp.is_absolute() or temp.parent != target.parent:
        return False
    if temp != export_temp_path(target, token):
        return False
    try:
        st = os.lstat(temp)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode)


def _describe(token: str) -> str:
    """A removed temporary file for the log: only its journal entry (the name the therapist gave
    the report may hold patient data)."""
    return f"a report export's temporary file ({EXPORTS_DIR}/{token})"


def clean_pending_exports(data_root: Path) -> list[str]:
    """Remove the temporary files of report exports killed in progress, and their entries.

    Only entries whose lock no live process holds; for each, only the file it names, and only when
    that is still our temporary file (see :func:`_is_our_temp`). A damaged entry (a kill while it
    was written, before any temporary file existed) is just removed.

    Returns
    -------
    list of str — the temporary files removed, described by their journal entries (not by their
    names, which may hold patient data); the entries themselves are not listed
    """
    root = Path(data_root)
    jdir = root / EXPORTS_DIR
    if not jdir.is_dir() or jdir.is_symlink():
        return []
    removed: list[str] = []
    for entry in sorted(jdir.glob("*.json")):
        token = entry.stem
        if not _TOKEN.fullmatch(token) or write_in_progress(jdir / f"{token}.lock"):
            continue
        named: tuple[Path, Path] | None
        try:
            doc = json.loads(entry.read_text(encoding="utf-8"))
            named = Path(doc["temp"]), Path(doc["target"])
        except (OSError, ValueError, KeyError, TypeError):
            named = None  # damaged: killed while written, before the temporary file existed
        try:
            if named is not None and _is_our_temp(*named, token):
                named[0].unlink()
                removed.append(_describe(token))
            entry.unlink()
        except OSError as e:
            log.warning("could not finish export %s: %s", token, e.strerror or e)
    for lock in sorted(jdir.glob("*.lock")):
        if _TOKEN.fullmatch(lock.stem) and not (jdir / f"{lock.stem}.json").exists():
            remove_stale_lock(lock)
    return removed


def _live_tokens(jdir: Path) -> set[str]:
    return {p.stem for p in jdir.glob("*.lock") if write_in_progress(p)} if jdir.is_dir() else set()


def clean_interrupted_writes(catalog: Catalog, data_root: Path) -> list[str]:
    """Remove what interrupted writes left in the data folder; call at start-up, after
    :func:`core.recording.recovery.recover_unfinished`.

    Removed (each only when no live process is writing it; never outside the data folder, except
    the one temporary file a journalled export names):

    - session folders of recordings that failed or were killed before their catalog row, and the
      temporary files of session manifests (:func:`core.recording.cleanup.clean_session_folders`);
    - in each session's ``analysis/``: unfinished and unpublished generations, temporaries, older
      generations (:func:`core.analysis.results.clean_analysis_folder`, which also publishes the
      generation the catalog names if a kill came between the catalog write and publishing);
    - the temporary files of killed report exports, wherever they were written
      (:func:`clean_pending_exports`), and hidden ``.*.partial`` report temporaries in the data
      folder itself (the older export wrote them without a journal).

    Errors on single files are logged and skipped: the start goes on.

    Parameters
    ----------
    catalog : Catalog — the open catalog (which sessions exist, which analysis each has)
    data_root : Path — the data folder

    Returns
    -------
    list of str — what was removed, for a log line: paths relative to the data folder (session
    uids, generation ids: no patient data); report temporaries described without their names
    """
    root = Path(data_root)
    removed = clean_session_folders(catalog, root)
    for rec in catalog.list_sessions():
        folder = root / rec.folder
        if rec.status == "recording" or not folder.is_dir() or not inside(folder, root):
            continue
        try:
            if is_recording_live(folder):
                continue
            latest = catalog.latest_analysis(rec.id)
            keep = latest.result_dir if latest is not None else None
            removed += [f"{rec.folder}/{p}" for p in clean_analysis_folder(folder, keep)]
        except OSError as e:
            log.warning("could not clean the analyses of session %s: %s", rec.uid, e)
    removed += clean_pending_exports(root)
    live = _live_tokens(root / EXPORTS_DIR)
    for path in sorted(root.glob(".*.partial")):
        m = _TEMP.fullmatch(path.name)
        if m is None or m["token"] in live or path.is_symlink() or not path.is_file():
            continue
        try:
            path.unlink()
            removed.append("a report's temporary file in the data folder")
        except OSError as e:
            log.warning("could not remove a report's temporary file: %s", e.strerror or e)
    return removed
