"""Deleting a session or a patient for good: the session folders on disk and the catalog rows,
together, with an audit trail.

:mod:`core.privacy.erasure` (which the command line and the GUI call) destroys the keys first,
then calls :func:`delete_session_data` and :func:`delete_patient_data`, so data is removed in
one way everywhere. A patient's deletion also takes its code out of the audit trail
(:meth:`core.catalog.Catalog.delete_patient`).

Crash safety — the rows go only after the folders are gone:

1. a session still ``recording`` is refused (recover an interrupted one first);
2. each session folder is renamed to ``.deleting-<name>`` beside it (one atomic step: from here
   on nothing reads it as a session), then removed;
3. an audit entry ``delete session_folder`` records each folder removed;
4. the rows (session with its markers, self-reports, analyses and report records; the patient)
   are deleted in one transaction, with their own audit entries.

A crash or an error between the steps leaves the catalog rows of whatever is not fully removed,
so the session still shows, and deleting it again finishes the job (a ``.deleting-`` folder left
over is removed then). :class:`DeletionError` says which folder remains.

PDF reports exported to folders the therapist chose are not inside the data directory and are
not touched.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.catalog.db import Catalog
from core.catalog.models import SessionRecord

TOMBSTONE_PREFIX = ".deleting-"
"""A session folder being deleted is renamed to this prefix + its name (a uid never starts with
a dot, so it cannot collide with a session)."""


class DeletionRefused(ValueError):
    """Nothing was deleted: the request cannot be carried out (e.g. a session is recording)."""


class DeletionError(RuntimeError):
    """A folder could not be removed; the catalog rows of what remains are kept."""


@dataclass(frozen=True)
class Deleted:
    """What a deletion removed.

    Parameters
    ----------
    patient_code : str or None — the deleted patient's code; ``None`` when only a session went
    session_uids : tuple of str — the deleted sessions' uids
    folders : tuple of str — their folders, relative to the data directory (removed, or already
        missing)
    """

    patient_code: str | None
    session_uids: tuple[str, ...]
    folders: tuple[str, ...]


def confirmation_matches(expected: str, typed: str | None) -> bool:
    """Whether the therapist typed exactly ``expected`` (the patient code or the session uid).

    Surrounding spaces are ignored; case is not, so the text must be typed as shown.
    """
    return typed is not None and typed.strip() == expected and bool(expected)


def delete_session_data(catalog: Catalog, data_root: Path, session_id: int) -> Deleted:
    """Delete one session: its folder, then its catalog rows (see the module docstring).

    Parameters
    ----------
    catalog : Catalog — the catalog listing the session
    data_root : Path — the data directory the session folder is relative to
    session_id : int — the session's catalog id

    Returns
    -------
    Deleted

    Raises
    ------
    KeyError — no such session
    DeletionRefused — the session is still recording (or was interrupted and not recovered yet)
    DeletionError — the folder could not be removed; the rows are kept
    """
    rec = catalog.get_session(session_id)
    if rec is None:
        raise KeyError(f"No session with id {session_id}")
    _refuse_recording([rec])
    _remove_folder(catalog, data_root, rec)
    catalog.delete_session(rec.id)
    return Deleted(None, (rec.uid,), (rec.folder,))


def delete_patient_data(catalog: Catalog, data_root: Path, patient_id: int) -> Deleted:
    """Delete a patient with every session: the folders, then all their catalog rows.

    Parameters
    ----------
    catalog : Catalog — the catalog listing the patient
    data_root : Path — the data directory the session folders are relative to
    patient_id : int — the patient's catalog id

    Returns
    -------
    Deleted

    Raises
    ------
    KeyError — no such patient
    DeletionRefused — one of the sessions is recording, or one was started while the folders
        were being removed (the patient and that session are kept)
    DeletionError — a folder could not be removed; the rows of what remains are kept
    """
    patient = catalog.get_patient(patient_id)
    if patient is None:
        raise KeyError(f"No patient with id {patient_id}")
    sessions = catalog.list_sessions(patient_id=patient_id)
    _refuse_recording(sessions)
    for rec in sessions:
        _remove_folder(catalog, data_root, rec)
    try:
        catalog.delete_patient(
            patient_id, with_sessions=True, expected_sessions=[s.id for s in sessions]
        )
    except ValueError as exc:
        raise DeletionRefused(str(exc)) from None
    for rec in sessions:
        _prune_empty_parents(data_root, rec.folder)
    return Deleted(patient.code, tuple(s.uid for s in sessions), tuple(s.folder for s in sessions))


def _refuse_recording(sessions: list[SessionRecord]) -> None:
    busy = [s.uid for s in sessions if s.status == "recording"]
    if busy:
        raise DeletionRefused(
            f"Session {', '.join(busy)} is still recording (or was interrupted and not recovered "
            "yet): stop or recover it first. Nothing was deleted."
        )


def _session_folder(data_root: Path, rec: SessionRecord) -> Path:
    """The session's folder, checked to lie inside a folder of the data directory (so a damaged
    row never takes the data directory, ``sessions`` or the catalog with it)."""
    root = data_root.resolve()
    folder = (root / rec.folder).absolute()
    parts = [p for p in PurePosixPath(rec.folder).parts if p not in ("", ".")]
    if len(parts) < 2 or ".." in parts or root not in folder.parents:
        raise DeletionRefused(
            f"Session {rec.uid}'s folder {rec.folder!r} is not a session folder inside the data "
            "directory; nothing was deleted"
        )
    return folder


def _remove_folder(catalog: Catalog, data_root: Path, rec: SessionRecord) -> None:
    """Rename the session folder out of the way, remove it, and audit that it is gone."""
    folder = _session_folder(data_root, rec)
    tomb = folder.with_name(TOMBSTONE_PREFIX + folder.name)
    try:
        if folder.exists() or folder.is_symlink():
            if tomb.exists() or tomb.is_symlink():
                _remove_path(tomb)  # left by an earlier attempt
            folder.rename(tomb)
        if tomb.exists() or tomb.is_symlink():
            _remove_path(tomb)
    except OSError as exc:
        left = folder if folder.exists() else tomb
        raise DeletionError(
            f"Session {rec.uid}: the folder {left} could not be removed ({exc.strerror or exc}). "
            "The session stays in the catalog; close what uses its files and delete it again."
        ) from exc
    catalog.audit("delete", "session_folder", rec.id, f"uid={rec.uid}; folder={rec.folder}")


def _remove_path(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    else:
        shutil.rmtree(path)


def _prune_empty_parents(data_root: Path, folder: str) -> None:
    """Remove the folders that held only this session (e.g. ``sessions/<code>``), up to but not
    including the top folder (``sessions``)."""
    parts = PurePosixPath(folder).parts
    for depth in range(len(parts) - 1, 1, -1):
        try:
            (data_root / PurePosixPath(*parts[:depth])).rmdir()
        except OSError:  # not empty, or already gone
            return
