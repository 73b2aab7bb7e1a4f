"""The storage layer: a sealed session's files written and read through the same calls as a
plaintext one's, keys from the unlocked data folder, damage read as zeros and listed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.security import vault
from core.security.access import create_first_account
from core.security.sealed import HEADER_SIZE, MAGIC
from tests.accounts import FAST_KDF, TEST_PASSWORD, TEST_USER


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    unlocked, _ = create_first_account(data, TEST_USER, TEST_PASSWORD, kdf=FAST_KDF)
    vault.register(data, unlocked)
    yield data
    vault.unregister(data)


def _session(root: Path, uid: str = "20261205T120000Z-abcdef") -> Path:
    folder = root / "sessions" / uid
    (folder / "bio").mkdir(parents=True)
    assert vault.seal_new_session(folder, root, uid, "patient-uuid-1")
    return folder


def test_a_new_session_of_an_unlocked_folder_is_sealed_and_reads_back(root: Path) -> None:
    folder = _session(root)
    mark = vault.read_mark(folder)
    assert mark is not None and mark.uid == folder.name and mark.patient_uuid == "patient-uuid-1"
    f = vault.open_append(folder / "bio" / "ECG.f32")
    payload = [bytes([i]) * 1000 for i in range(5)]
    for p in payload:
        f.write(p)
        f.flush(fsync=False)  # one chunk per flush, as the recorder flushes
    assert f.tell() == 5000
    f.close()
    raw = (folder / "bio" / "ECG.f32").read_bytes()
    assert raw.startswith(MAGIC) and b"\x03" * 100 not in raw  # nothing in the clear
    assert vault.size(folder / "bio" / "ECG.f32") == 5000
    with vault.open_read(folder / "bio" / "ECG.f32") as r:
        assert r.sealed and r.read(1500, 1000) == b"\x01" * 500 + b"\x02" * 500
    # appended later (a recovered recording goes on): the same file, the numbers go on
    g = vault.open_append(folder / "bio" / "ECG.f32")
    g.write(b"\x09" * 10)
    g.close()
    assert vault.read_bytes(folder / "bio" / "ECG.f32") == b"".join(payload) + b"\x09" * 10
    # small whole files are sealed too; the marker and the lock are not
    vault.write_bytes_atomic(folder / "session.json", b'{"uid": "x"}')
    assert (folder / "session.json").read_bytes().startswith(MAGIC)
    assert vault.read_bytes_strict(folder / "session.json") == b'{"uid": "x"}'
    assert not vault.is_sealed(folder / vault.SESSION_MARK)


def test_a_plaintext_session_stays_plaintext(tmp_path: Path) -> None:
    folder = tmp_path / "demo" / "sessions" / "x"
    folder.mkdir(parents=True)
    assert not vault.seal_new_session(folder, tmp_path / "demo", "x", "p")  # not unlocked
    f = vault.open_append(folder / "journal.jsonl")
    f.write(b"hello\n")
    f.close()
    assert (folder / "journal.jsonl").read_bytes() == b"hello\n"
    with vault.open_read(folder / "journal.jsonl") as r:
        assert not r.sealed and r.read(0, 5) == b"hello"


def test_a_locked_folder_refuses_in_words(root: Path) -> None:
    folder = _session(root)
    vault.write_bytes_atomic(folder / "session.json", b"{}")
    vault.unregister(root)
    try:
        with pytest.raises(vault.FolderLockedError, match="not unlocked"):
            vault.read_bytes(folder / "session.json")
    finally:
        vault.register(root, create_first_account_unlock(root))


def create_first_account_unlock(root: Path):  # type: ignore[no-untyped-def]
    from core.security.access import unlock

    return unlock(root, TEST_USER, TEST_PASSWORD)


def test_a_tampered_chunk_reads_as_zeros_and_is_listed(root: Path) -> None:
    folder = _session(root)
    path = folder / "bio" / "EDA.f32"
    f = vault.open_append(path)
    for i in range(3):
        f.write(bytes([i + 1]) * 4000)
        f.flush(fsync=False)
    f.close()
    raw = bytearray(path.read_bytes())
    second = HEADER_SIZE + (24 + 4000 + 16) + 24 + 100  # inside the second chunk's ciphertext
    raw[second] ^= 0xFF
    path.write_bytes(bytes(raw))
    with vault.open_read(path) as r:
        got = r.read(0, r.size)
        assert got[:4000] == b"\x01" * 4000 and got[8000:] == b"\x03" * 4000
        assert got[4000:8000] == bytes(4000)
        assert [(d.plaintext_start, d.plaintext_end, d.reason) for d in r.damaged] == [
            (4000, 8000, "tag")
        ]


def test_truncation_keeps_a_prefix_and_never_reuses_a_chunk_number(root: Path) -> None:
    folder = _session(root)
    path = folder / "bio" / "ECG.idx"
    f = vault.open_append(path)
    for i in range(4):
        f.write(bytes([i + 1]) * 100)
        f.flush(fsync=False)
    f.close()
    vault.truncate(path, 250)
    assert vault.read_bytes(path) == b"\x01" * 100 + b"\x02" * 100 + b"\x03" * 50
    from core.security.sealed import SealedReader

    key, _ = vault.session_key(folder)
    with SealedReader(path, key) as r:
        assert r.chunk_numbers == [0, 1, 4]  # the cut chunks' numbers 2 and 3 are not reused
    vault.truncate(path, 200)  # on a boundary
    assert vault.read_bytes(path) == b"\x01" * 100 + b"\x02" * 100
    g = vault.open_append(path)
    g.write(b"\x07" * 5)
    g.close()
    assert vault.read_bytes(path)[-6:] == b"\x02\x07\x07\x07\x07\x07"
    with SealedReader(path, key) as r:  # a cut on a chunk boundary reuses no number either
        numbers = r.chunk_numbers
    assert numbers[:2] == [0, 1] and all(n > 4 for n in numbers[2:])
    assert numbers == sorted(set(numbers))


def test_a_torn_tail_is_cut_by_recover(root: Path) -> None:
    folder = _session(root)
    path = folder / "journal.jsonl"
    f = vault.open_append(path)
    f.write(b"line one\n")
    f.flush(fsync=True)
    f.write(b"line two\n")
    f.flush(fsync=True)
    f.close()
    whole = path.read_bytes()
    path.write_bytes(whole[:-10])  # the last chunk torn by a crash
    assert vault.size(path) == 9
    assert vault.recover(path) > 0
    assert vault.read_bytes(path) == b"line one\n"
    from core.security.sealed import SealedReader

    key, _ = vault.session_key(folder)
    with SealedReader(path, key) as r:  # the torn chunk's number 1 is recorded as used
        assert r.chunk_numbers[0] == 0 and min(r.chunk_numbers[1:]) > 1


def test_a_torn_header_is_never_followed_by_plaintext(root: Path) -> None:
    """A crash while a sealed file's header was being written leaves a few bytes that are not
    recognisably sealed: the next writer starts the file over, sealed, instead of appending
    plaintext; a larger unsealed file in a sealed session is refused."""
    folder = _session(root)
    torn = folder / "bio" / "ECG.f32"
    torn.write_bytes(MAGIC[:5])
    f = vault.open_append(torn)
    f.write(b"samples")
    f.close()
    assert vault.is_sealed(torn) and vault.read_bytes(torn) == b"samples"
    stray = folder / "bio" / "EDA.f32"
    stray.write_bytes(b"x" * 100)
    with pytest.raises(ValueError, match="not encrypted"):
        vault.open_append(stray)
