"""Encryption at rest (issue 16): a session recorded in an unlocked data folder is sealed file by
file with its own key, reads back through the same readers, reports a tampered chunk as damage
like any damaged file, cannot be opened while the folder is locked, and after erasure no key that
remains opens what was left of it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.demo.simulation import record_simulated
from core.catalog import Catalog
from core.config import Settings
from core.recording import open_session
from core.recording.manifest import compute_quality, read_manifest
from core.security import vault
from core.security.access import create_first_account
from core.security.keystore import KeyDestroyedError, Unlocked
from core.security.sealed import HEADER_SIZE, SealedReader, WrongKeyError
from tests.accounts import FAST_KDF, TEST_PASSWORD, TEST_USER

SMALL = Settings(camera_width=160, camera_height=120, camera_fps=10)
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF"


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Unlocked]]:
    root = tmp_path_factory.mktemp("clinic")
    unlocked, _ = create_first_account(root, TEST_USER, TEST_PASSWORD, kdf=FAST_KDF)
    vault.register(root, unlocked)
    yield root, unlocked
    vault.unregister(root)


@pytest.fixture(scope="module")
def recorded(clinic: tuple[Path, Unlocked]) -> Path:
    root, _ = clinic
    cat = Catalog.open(root / "catalog.sqlite")
    p = cat.add_patient("ENC-0001", name="Ada Lovelace-Example")
    rec = record_simulated(cat, root, p.id, 6.0, settings=SMALL, seed=4)
    cat.close()
    return root / rec.folder


def _copy(folder: Path, name: str) -> Path:
    """A copy of the session inside the same data folder (its marker names the same key)."""
    out = folder.parent / f"{folder.name}-{name}"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(folder, out)
    return out


def test_every_file_of_the_session_is_sealed_and_reads_back(recorded: Path) -> None:
    files = [p for p in recorded.rglob("*") if p.is_file()]
    plain = {p.name for p in files if not vault.is_sealed(p)}
    assert plain <= {vault.SESSION_MARK, "recording.lock"}
    names = {p.relative_to(recorded).as_posix() for p in files}
    assert {"session.json", "journal.jsonl", "integrity.json", "catalog.json"} <= names
    assert {"video/frames.mjpeg", "video/frames.idx"} <= names
    assert JPEG_HEAD not in (recorded / "video" / "frames.mjpeg").read_bytes()
    for p in files:  # the patient's code and name are in no file of the folder in the clear
        raw = p.read_bytes()
        assert b"ENC-0001" not in raw and b"Lovelace" not in raw, p.name
    data = open_session(recorded)
    q = compute_quality(recorded, read_manifest(recorded), deep=True)
    assert q["integrity"]["state"] == "verified"  # checksums of the plaintext, all intact
    bio = next(iter(data.streams.values()))
    assert bio.n_received > 5.5 * 800 and bio.lost_samples == 0
    video = data.video(verify=True)
    assert video is not None and len(video) >= 50 and video.n_corrupt == 0
    assert video.read(len(video) // 2).shape == (120, 160, 3)
    video.close()


def test_the_patients_record_file_is_sealed_with_the_patients_key(
    clinic: tuple[Path, Unlocked], recorded: Path
) -> None:
    root, _ = clinic
    (record,) = (root / "patients").glob("*.json")
    assert vault.is_sealed(record)
    assert b"ENC-0001" in vault.read_bytes(record)


def test_a_tampered_chunk_is_reported_as_damage_and_the_rest_stays_readable(
    recorded: Path,
) -> None:
    folder = _copy(recorded, "tampered")
    data_file = next((folder / "bio").glob("*.f32"))
    raw = bytearray(data_file.read_bytes())
    raw[HEADER_SIZE + 24 + 200] ^= 0xFF  # inside the first chunk's ciphertext
    data_file.write_bytes(bytes(raw))
    q = compute_quality(folder, read_manifest(folder), deep=True)
    assert q["integrity"]["state"] == "damaged"
    (entry,) = [f for f in q["integrity"]["files"] if f["file"].endswith(".f32")]
    assert entry["status"] == "damaged" and entry["samples_lost"] > 0
    bio = next(iter(open_session(folder).streams.values()))
    # what the damaged chunk held is lost (within one 2-s checksum chunk), not the rest
    assert sum(d.samples for d in bio.damage) <= 1600 and bio.n_received > 3.5 * 800
    shutil.rmtree(folder)


def test_a_damaged_header_loses_that_file_not_the_session(recorded: Path) -> None:
    folder = _copy(recorded, "header")
    data_file = next((folder / "bio").glob("*.f32"))
    raw = bytearray(data_file.read_bytes())
    raw[20] ^= 0xFF  # inside the file id: the header's checksum fails
    data_file.write_bytes(bytes(raw))
    q = compute_quality(folder, read_manifest(folder), deep=True)
    assert q["integrity"]["state"] == "damaged"
    (entry,) = [f for f in q["integrity"]["files"] if f["file"].endswith(".f32")]
    assert entry["status"] == "damaged"
    data = open_session(folder)  # the session opens; its video is whole
    bio = next(iter(data.streams.values()))
    assert bio.n_received == 0 and bio.damage
    video = data.video(verify=True)
    assert video is not None and len(video) >= 50 and video.n_corrupt == 0
    video.close()
    shutil.rmtree(folder)


def test_damage_found_when_sealing_stays_reported(recorded: Path) -> None:
    """A chunk damaged before the checksums are made (a crash recovery seals what it finds) is
    read as zeros; the seal records it as lost instead of vouching for the zeros."""
    from core.recording.integrity import check_file, seal_file

    folder = _copy(recorded, "late")
    path = folder / "journal.jsonl"
    raw = bytearray(path.read_bytes())
    raw[HEADER_SIZE + 24 + 5] ^= 0xFF  # the first chunk's ciphertext
    path.write_bytes(bytes(raw))
    seal = seal_file(folder, "journal.jsonl", 1 << 16)
    check = check_file(path, seal)
    assert not check.ok and check.bad and check.bad[0][0] == 0
    shutil.rmtree(folder)


def test_the_patients_export_holds_readable_data_not_ciphertext(
    clinic: tuple[Path, Unlocked], recorded: Path, tmp_path: Path
) -> None:
    import zipfile

    from core.privacy.patient_export import export_patient

    root, _ = clinic
    cat = Catalog.open(root / "catalog.sqlite")
    (patient,) = [p for p in cat.list_patients() if p.code == "ENC-0001"]
    out = tmp_path / "ENC-0001.zip"
    export_patient(cat, root, patient.id, out)
    cat.close()
    with zipfile.ZipFile(out) as zf:
        video = zf.read(f"sessions/{recorded.name}/video/frames.mjpeg")
    assert video.startswith(b"\xff\xd8") and video == vault.read_bytes(
        recorded / "video" / "frames.mjpeg"
    )


def test_a_locked_folder_refuses_in_words(clinic: tuple[Path, Unlocked], recorded: Path) -> None:
    root, unlocked = clinic
    vault.unregister(root)
    try:
        with pytest.raises(vault.FolderLockedError, match="not unlocked"):
            open_session(recorded)
    finally:
        vault.register(root, unlocked)


def test_after_erasure_no_remaining_key_opens_what_was_left(
    clinic: tuple[Path, Unlocked], recorded: Path, tmp_path: Path
) -> None:
    from core.privacy.erasure import erase_patient

    root, unlocked = clinic
    cat = Catalog.open(root / "catalog.sqlite")
    other = cat.add_patient("ENC-0002")
    kept = record_simulated(cat, root, other.id, 2.0, settings=SMALL, seed=5)
    # a copy an attacker kept (an old backup, a stolen disk image)
    leaked = tmp_path / "leaked.mjpeg"
    shutil.copy(recorded / "video" / "frames.mjpeg", leaked)
    mark = vault.read_mark(recorded)
    assert mark is not None
    (patient,) = [p for p in cat.list_patients() if p.code == "ENC-0001"]
    erase_patient(cat, root, patient.id, unlocked)
    assert not recorded.exists()
    assert not (root / "patients" / f"{patient.uuid}.json").exists()
    with pytest.raises(KeyDestroyedError):
        unlocked.session_key(mark.uid, mark.patient_uuid, create=False)
    remaining = [unlocked.session_key(kept.uid, other.uuid, create=False)]
    remaining += [unlocked.patient_key(other.uuid, create=False), unlocked.catalog_key()]
    for key in remaining:
        with pytest.raises(WrongKeyError):
            SealedReader(leaked, key)
    assert open_session(root / kept.folder).streams  # the other patient is untouched
    cat.close()
