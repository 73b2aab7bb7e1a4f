"""Erasing a patient or a session for good, on request (GDPR Art. 17): keys, files, catalog rows
and the patient's code in the audit trail.

The command line (``therascope patients delete CODE --confirm CODE``, ``therascope sessions delete
UID --confirm UID``) and the GUI's delete buttons call :func:`erase_patient` and
:func:`erase_session`; they are the one way data is deleted. In order:

1. the request is checked: the patient or session exists, no session of it is recording, and
   ``unlocked`` is the data folder's own key store (a folder with accounts is not erased without
   one, so its keys cannot be left behind);
2. the keys are destroyed first (:meth:`core.security.keystore.Unlocked.destroy_patient_key`,
   ``destroy_session_key``): no wrapped copy stays in ``keys.json`` and the erasure ledger lists
   the patient's uuid and every session's uid, also those that never had a key, so a restored
   backup never brings them back. From here on nothing encrypted under them can be read, even if
   a later step fails;
3. the session folders and the catalog rows go through
   :func:`core.catalog.erasure.delete_patient_data` / ``delete_session_data`` (folders renamed,
   then removed; rows deleted in one transaction). A patient's deletion also replaces its code
   by ``[erased]`` wherever the audit trail named it, and its own audit entries (the tombstone)
   name the uuid and the ids only; the patient's record file ``patients/<uuid>.json`` goes;
4. the catalog file is rewritten (SQLite ``VACUUM``; every connection has ``secure_delete`` on)
   and its WAL file emptied, so no copy of the rows stays in free pages or in ``-wal``.

A failure in step 3 leaves the rows of what was not removed (the keys are gone already):
deleting again finishes the job. Copies outside the data folder (exported files, backups taken
before) are not reached: backups older than an erasure must be rotated out (SECURITY.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from core.catalog import Catalog, SessionRecord
from core.catalog.erasure import (
    DeletionError,
    DeletionRefused,
    delete_patient_data,
    delete_session_data,
)
from core.security import vault
from core.security.access import key_store_path
from core.security.keystore import KeyStore, KeyStoreError, Unlocked

__all__ = [
    "DeletionError",
    "DeletionRefused",
    "Erased",
    "erase_patient",
    "erase_session",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Erased:
    """What an erasure removed.

    Parameters
    ----------
    patient_code : str or None — the erased patient's code, for the message shown now (it is
        stored nowhere); ``None`` when only a session went
    patient_uuid : str or None — the erased patient's uuid (as the ledger names it)
    session_uids : tuple of str — the erased sessions' uids
    folders : tuple of str — their folders, relative to the data folder (removed)
    keys_destroyed : bool — the key store destroyed the keys and its ledger lists them (False:
        the data folder has no key store, e.g. the demo folder)
    catalog_rewritten : bool — the catalog file was rewritten and its WAL file emptied (False:
        another program was reading it; the WAL file is emptied at its next checkpoint)
    """

    patient_code: str | None
    patient_uuid: str | None
    session_uids: tuple[str, ...]
    folders: tuple[str, ...]
    keys_destroyed: bool
    catalog_rewritten: bool


def erase_patient(
    catalog: Catalog, data_root: Path, patient_id: int, unlocked: Unlocked | None = None
) -> Erased:
    """Erase a patient with every session: keys, folders, rows, its code in the audit trail.

    Parameters
    ----------
    catalog : Catalog — the data folder's catalog
    data_root : Path — the data folder
    patient_id : int — the patient's catalog id
    unlocked : Unlocked, optional — the data folder's key store, unlocked; required when the
        folder has one

    Returns
    -------
    Erased

    Raises
    ------
    KeyError — no such patient
    DeletionRefused — nothing was erased: a session is recording, or the key store is not
        unlocked (or is another folder's)
    DeletionError — the keys could not be destroyed (nothing else was touched), or a folder
        could not be removed (the keys are gone; the rows of what remains are kept: erase again)
    """
    patient = catalog.get_patient(patient_id)
    if patient is None:
        raise KeyError(f"No patient with id {patient_id}")
    sessions = catalog.list_sessions(patient_id=patient_id)
    _refuse_recording(sessions)
    store = _key_store(data_root, unlocked)
    if store is not None and unlocked is not None:
        try:
            if patient.uuid:
                unlocked.destroy_patient_key(patient.uuid)
            for rec in sessions:  # the ledger lists every session, with a key or not
                unlocked.destroy_session_key(rec.uid)
        except (KeyStoreError, OSError) as exc:
            raise DeletionError(
                f"The keys of patient {patient.code} could not be destroyed ({exc}); nothing was "
                "deleted. Try again."
            ) from exc
    gone = delete_patient_data(catalog, data_root, patient_id)
    for rec in sessions:  # no key of theirs stays in this process either
        vault.forget_session(Path(data_root) / rec.folder)
    rewritten = _rewrite(catalog)
    log.info(
        "patient %s erased: %d session(s), keys %s",
        patient.uuid,
        len(gone.session_uids),
        "destroyed" if store is not None else "none (no key store)",
    )
    return Erased(
        patient_code=patient.code,
        patient_uuid=patient.uuid,
        session_uids=gone.session_uids,
        folders=gone.folders,
        keys_destroyed=store is not None,
        catalog_rewritten=rewritten,
    )


def erase_session(
    catalog: Catalog, data_root: Path, session_id: int, unlocked: Unlocked | None = None
) -> Erased:
    """Erase one session: its key, its folder, its rows (the patient stays).

    Parameters
    ----------
    catalog : Catalog — the data folder's catalog
    data_root : Path — the data folder
    session_id : int — the session's catalog id
    unlocked : Unlocked, optional — the data folder's key store, unlocked; required when the
        folder has one

    Returns
    -------
    Erased — ``patient_code`` and ``patient_uuid`` are None

    Raises
    ------
    KeyError — no such session
    DeletionRefused — nothing was erased: the session is recording, or the key store is not
        unlocked (or is another folder's)
    DeletionError — the key could not be destroyed (nothing else was touched), or the folder
        could not be removed (the key is gone; the rows are kept: erase again)
    """
    rec = catalog.get_session(session_id)
    if rec is None:
        raise KeyError(f"No session with id {session_id}")
    _refuse_recording([rec])
    store = _key_store(data_root, unlocked)
    if store is not None and unlocked is not None:
        try:
            unlocked.destroy_session_key(rec.uid)
        except (KeyStoreError, OSError) as exc:
            raise DeletionError(
                f"The key of session {rec.uid} could not be destroyed ({exc}); nothing was "
                "deleted. Try again."
            ) from exc
    gone = delete_session_data(catalog, data_root, session_id)
    vault.forget_session(Path(data_root) / rec.folder)
    rewritten = _rewrite(catalog)
    return Erased(
        patient_code=None,
        patient_uuid=None,
        session_uids=gone.session_uids,
        folders=gone.folders,
        keys_destroyed=store is not None,
        catalog_rewritten=rewritten,
    )


def _refuse_recording(sessions: list[SessionRecord]) -> None:
    busy = [s.uid for s in sessions if s.status == "recording"]
    if busy:
        raise DeletionRefused(
            f"Session {', '.join(busy)} is still recording (or was interrupted and not recovered "
            "yet): stop or recover it first. Nothing was deleted."
        )


def _key_store(data_root: Path, unlocked: Unlocked | None) -> KeyStore | None:
    """The data folder's key store (None: it has none), checked to be the one ``unlocked``
    opened."""
    path = key_store_path(data_root)
    if not KeyStore.exists(path):
        return None
    if unlocked is None:
        raise DeletionRefused(
            "This data folder has accounts: unlock it first, so that the keys are destroyed too. "
            "Nothing was deleted."
        )
    if unlocked.store.path.resolve() != path.resolve():
        raise DeletionRefused(
            "The key store unlocked is another data folder's; nothing was deleted."
        )
    return unlocked.store


def _rewrite(catalog: Catalog) -> bool:
    """Rewrite the catalog file after a deletion (the rows are gone already: a failure here is
    logged, the erasure stands)."""
    try:
        done = catalog.erase_free_space()
    except (RuntimeError, OSError) as exc:  # StorageError is a RuntimeError
        log.warning("catalog not rewritten after an erasure: %s", exc)
        return False
    if not done:
        log.warning("catalog rewritten, but its WAL file is in use: emptied at the next checkpoint")
    return done
