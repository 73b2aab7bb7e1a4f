"""Encrypting a data folder written before encryption at rest: in place, after a full backup,
resumable, verified before any plaintext is removed.

A data folder that TheraScope wrote before sessions were sealed (:mod:`core.security.vault`)
holds its sessions and its patients' record files in the clear. :func:`encrypt_folder` converts
it while it is unlocked:

1. a full backup first (:func:`core.privacy.backup.backup`, verified by its hashes) into a new
   folder the administrator names — unless an earlier, interrupted run already made one;
2. each plaintext session, one at a time: every file is sealed into a staging folder
   ``sessions/.encrypting-<uid>`` under the session's own key (the marker first), then each sealed
   file is decrypted again and compared with its original by SHA-256; only when all of them
   match is the plaintext folder swapped out (renamed ``sessions/.plaintext-<uid>``), the sealed
   one renamed into its place, and the plaintext removed;
3. each plaintext patient record file (``patients/<uuid>.json``) is sealed with the patient's key
   (atomically replaced, then read back and compared);
4. the catalog, when it is plaintext, is encrypted in place under the folder's catalog key
   (:meth:`core.catalog.Catalog.encrypt`: exported into a new encrypted file, its rows counted
   and checked, then renamed over the plaintext, whose WAL is gone by then).

Resumable by construction: the folders' names say where a run stopped. A staging folder with no
swap is dropped and its session done again; a swapped-out plaintext folder beside its sealed
session is removed; one whose sealed session is missing (a kill between the two renames) is put
back and done again. A session that is recording or being imported is left for a later run. A
kill while the catalog is encrypted leaves the plaintext catalog or the encrypted one, never
half of either; the next run encrypts a plaintext one.

An imported session's original video is sealed like every other file (the analysis decodes it
from a stream decrypted in memory). The copies of the catalog that schema migrations left beside
it (``catalog.sqlite.v<N>-….bak``) are encrypted with the catalog's key once the catalog is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.catalog import Catalog
from core.catalog.errors import CatalogEncryptionError
from core.recording.lock import is_recording_live
from core.security import vault
from core.security.keystore import Unlocked
from core.storage import fsync_folder

log = logging.getLogger(__name__)

STAGING_PREFIX = ".encrypting-"
PLAINTEXT_PREFIX = ".plaintext-"
#: what a run remembers between tries (plaintext JSON: the backup's folder, no patient data)
STATE_NAME = ".encryption.json"
_BLOCK = 1 << 20

Progress = Callable[[int, int, str], None]


class MigrationError(RuntimeError):
    """The folder could not be (fully) encrypted; the message says what and what to do."""


@dataclass
class MigrationResult:
    """What :func:`encrypt_folder` did.

    Parameters
    ----------
    backup : Path or None — the full backup made first (or by the interrupted run it resumed)
    sessions : list of str — uids of the sessions sealed by this run
    patients : int — patient record files sealed
    already : int — sessions that were sealed before
    left : list of str — uids left plaintext for now (recording or being imported)
    bytes : int — plaintext bytes sealed and verified
    resumed : list of str — what was found of an interrupted run and put right
    catalog : bool — the catalog was encrypted by this run
    catalog_copies : int — plaintext copies of the catalog (left by schema migrations) encrypted
    """

    backup: Path | None
    sessions: list[str] = field(default_factory=list)
    patients: int = 0
    already: int = 0
    left: list[str] = field(default_factory=list)
    bytes: int = 0
    resumed: list[str] = field(default_factory=list)
    catalog: bool = False
    catalog_copies: int = 0


def plaintext_sessions(catalog: Catalog, data_root: Path) -> list[str]:
    """The uids of the sessions whose folders are not sealed yet, oldest first."""
    out = []
    for rec in sorted(catalog.list_sessions(), key=lambda r: r.id):
        folder = Path(data_root) / rec.folder
        if folder.is_dir() and not vault.is_sealed_session(folder):
            out.append(rec.uid)
    return out


def needs_encryption(catalog: Catalog, data_root: Path) -> bool:
    """Whether the folder holds plaintext sessions or patient record files, or its catalog is
    plaintext."""
    return bool(
        not catalog.is_encrypted
        or plaintext_sessions(catalog, data_root)
        or _plaintext_patient_files(data_root)
        or _plaintext_catalog_copies(data_root)
    )


def _plaintext_catalog_copies(data_root: Path) -> list[Path]:
    """The copies of the catalog schema migrations left (``catalog.sqlite.v<N>-….bak``) that are
    still plaintext: the whole patient list in the clear beside an encrypted catalog."""
    from core.catalog import CATALOG_FILENAME
    from core.catalog.cipher import is_plaintext

    root = Path(data_root)
    return [p for p in sorted(root.glob(f"{CATALOG_FILENAME}.*.bak")) if is_plaintext(p)]


def _plaintext_patient_files(data_root: Path) -> list[Path]:
    folder = Path(data_root) / vault.PATIENTS_FOLDER
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.glob("*.json")) if p.is_file() and not vault.is_sealed(p)]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def _sealed_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with vault.open_read(path) as f:
        if f.damaged:
            raise MigrationError(f"the sealed copy {path.name} reads as damaged")
        pos = 0
        while pos < f.size:
            block = f.read(pos, _BLOCK)
            h.update(block)
            pos += len(block)
        if f.damaged:
            raise MigrationError(f"the sealed copy {path.name} reads as damaged")
    return h.hexdigest()


def _seal_copy(src: Path, dst: Path) -> int:
    """Copy ``src`` into the sealed session ``dst`` belongs to, block by block; its bytes."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if vault.kept_plain(dst):
        shutil.copyfile(src, dst)
        with open(dst, "rb+") as fh:
            os.fsync(fh.fileno())
        return src.stat().st_size
    out = vault.open_append(dst)
    n = 0
    try:
        with open(src, "rb") as fh:
            while block := fh.read(_BLOCK):
                out.write(block)
                n += len(block)
        out.flush(fsync=True)
    finally:
        out.close()
    return n


def _session_files(folder: Path) -> list[Path]:
    """The files of a session folder to carry over (not its locks or leftovers of a write)."""
    out = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.name in vault.PLAIN_NAMES or p.name.endswith(".tmp"):
            continue
        out.append(p)
    return out


def _encrypt_session(data_root: Path, uid: str, patient_uuid: str, folder: Path) -> int:
    """Seal one plaintext session folder in place (steps in the module docstring); its bytes."""
    sessions = folder.parent
    staging = sessions / f"{STAGING_PREFIX}{uid}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    if not vault.seal_new_session(staging, data_root, uid, patient_uuid):
        raise MigrationError("the data folder is not unlocked in this process")
    files = _session_files(folder)
    total = 0
    for src in files:
        total += _seal_copy(src, staging / src.relative_to(folder))
    for src in files:  # every sealed file decrypts to its original, byte for byte
        dst = staging / src.relative_to(folder)
        got = _sha256(dst) if vault.kept_plain(dst) else _sealed_sha256(dst)
        if got != _sha256(src):
            raise MigrationError(
                f"session {uid}: the sealed copy of {src.relative_to(folder)} does not match its "
                "original; nothing of this session was changed"
            )
    for d in sorted({p.parent for p in staging.rglob("*")} | {staging}, reverse=True):
        fsync_folder(d)
    plain = sessions / f"{PLAINTEXT_PREFIX}{uid}"
    os.rename(folder, plain)
    os.rename(staging, folder)
    fsync_folder(sessions)
    vault.forget_session(staging)
    shutil.rmtree(plain)
    return total


def _resume(sessions: Path) -> list[str]:
    """Put right what an interrupted run left (module docstring); what was found."""
    found: list[str] = []
    if not sessions.is_dir():
        return found
    for entry in sorted(sessions.iterdir()):
        name = entry.name
        if name.startswith(STAGING_PREFIX):
            uid = name[len(STAGING_PREFIX) :]
            if (sessions / f"{PLAINTEXT_PREFIX}{uid}").exists() and not (sessions / uid).exists():
                # killed between the two renames: the verified sealed copy goes into place
                os.rename(entry, sessions / uid)
                found.append(f"{uid}: the sealed copy was put in place")
            else:
                shutil.rmtree(entry)
                found.append(f"{uid}: an unfinished sealed copy was dropped")
        elif name.startswith(PLAINTEXT_PREFIX):
            uid = name[len(PLAINTEXT_PREFIX) :]
            target = sessions / uid
            if target.is_dir() and vault.is_sealed_session(target):
                shutil.rmtree(entry)
                found.append(f"{uid}: the plaintext left behind was removed")
            elif not target.exists():
                os.rename(entry, target)
                found.append(f"{uid}: the plaintext folder was put back")
    return found


def _state(data_root: Path) -> dict[str, str]:
    try:
        doc = json.loads((Path(data_root) / STATE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def encrypt_folder(
    catalog: Catalog,
    data_root: Path,
    unlocked: Unlocked,
    backup_to: Path | None,
    progress: Progress | None = None,
    stop_after: int | None = None,
) -> MigrationResult:
    """Encrypt a data folder's plaintext sessions, patient record files and catalog in place.

    Parameters
    ----------
    catalog : Catalog — the folder's catalog (audited through); a plaintext one is encrypted
        last, and goes on open, encrypted
    data_root : Path — the data folder; must be registered with :func:`core.security.vault.register`
    unlocked : Unlocked — the folder's key store, unlocked by an administrator
    backup_to : Path or None — a new folder for the full backup made first; None only when an
        interrupted run already made one (it is reused)
    progress : callable, optional — ``progress(done, total, what)``
    stop_after : int, optional — stop after this many sessions (tests interrupt a run so)

    Returns
    -------
    MigrationResult

    Raises
    ------
    PermissionError — not an administrator
    MigrationError — no backup named, a sealed copy did not verify (that session stays as it
        was; run again), or the catalog is in use by another program or its encrypted copy did
        not verify (it stays plaintext; run again)
    """
    from core.privacy.backup import backup

    if unlocked.account.role != "admin":
        raise PermissionError("Only an administrator can encrypt the data folder.")
    root = Path(data_root)
    if vault.unlocked_for(root) is None:
        vault.register(root, unlocked)
    sessions = root / "sessions"
    resumed = _resume(sessions)
    state = _state(root)
    todo = plaintext_sessions(catalog, root)
    patients = _plaintext_patient_files(root)
    copies = _plaintext_catalog_copies(root)
    result = MigrationResult(None, resumed=resumed)
    if not todo and not patients and not copies and catalog.is_encrypted:
        return result
    if state.get("backup") and Path(state["backup"]).is_dir():
        result.backup = Path(state["backup"])
    elif backup_to is None:
        raise MigrationError(
            "Name a folder for the full backup made before the data folder is encrypted "
            "(therascope encrypt --backup FOLDER)."
        )
    else:
        backup(root, Path(backup_to), unlocked=unlocked, catalog=catalog)
        result.backup = Path(backup_to)
        (root / STATE_NAME).write_text(json.dumps({"backup": str(backup_to)}), encoding="utf-8")
    by_uid = {r.uid: r for r in catalog.list_sessions()}
    patients_by_id = {p.id: p for p in catalog.list_patients()}
    total = len(todo) + len(patients) + (0 if catalog.is_encrypted else 1)
    for i, uid in enumerate(todo):
        if stop_after is not None and len(result.sessions) >= stop_after:
            return result
        rec = by_uid[uid]
        folder = root / rec.folder
        if is_recording_live(folder):
            result.left.append(uid)
            continue
        patient = patients_by_id.get(rec.patient_id) if rec.patient_id is not None else None
        owner = patient.uuid if patient is not None and patient.uuid else f"session-{uid}"
        if progress:
            progress(i, total, f"session {uid}")
        result.bytes += _encrypt_session(root, uid, owner, folder)
        result.sessions.append(uid)
    for j, path in enumerate(patients):
        if progress:
            progress(len(todo) + j, total, "patient records")
        raw = path.read_bytes()
        vault.write_bytes_atomic(path, raw)  # sealed with the patient's key, atomically
        if vault.read_bytes(path) != raw:
            raise MigrationError(f"the sealed patient record {path.name} does not read back")
        result.patients += 1
    catalog.audit(
        "update",
        "data folder",
        None,
        f"encrypted: {len(result.sessions)} session(s), {result.patients} patient record(s)",
    )
    if not catalog.is_encrypted:  # last: a run stopped before it finds the catalog plaintext
        if progress:
            progress(len(todo) + len(patients), total, "catalog")
        try:
            result.catalog = catalog.encrypt(unlocked.catalog_key())
        except CatalogEncryptionError as exc:
            raise MigrationError(
                f"{exc} The sessions and patient records done so far stay encrypted; run the "
                "encryption again to encrypt the catalog."
            ) from exc
    if catalog.is_encrypted:  # the copies schema migrations left: encrypted with the same key
        from core.catalog.cipher import encrypt_catalog

        for copy in _plaintext_catalog_copies(root):
            try:
                encrypt_catalog(copy, unlocked.catalog_key())
            except CatalogEncryptionError as exc:
                raise MigrationError(
                    f"The catalog copy {copy.name} could not be encrypted ({exc}); run the "
                    "encryption again."
                ) from exc
            result.catalog_copies += 1
    if progress:
        progress(total, total, "done")
    if not result.left:
        (root / STATE_NAME).unlink(missing_ok=True)
    log.info(
        "data folder encrypted: %d session(s), %d patient record(s), %d bytes%s",
        len(result.sessions),
        result.patients,
        result.bytes,
        ", the catalog" if result.catalog else "",
    )
    return result
