"""Sealed files (core.security.sealed): round trips, append, damage, tampering, crashes."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core.security.sealed import (
    CHUNK_HEADER_SIZE,
    HEADER_SIZE,
    TAG_SIZE,
    NotSealedError,
    SealedDamageError,
    SealedReader,
    SealedWriter,
    WrongKeyError,
    chunk_nonce,
    open_bytes,
    read_header,
    recover,
    seal_bytes,
)

KEY = bytes(range(32))
KEY_ID = b"session1"
ROOT = Path(__file__).resolve().parents[3]


def payload(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def chunk_positions(path: Path) -> list[int]:
    """File offsets of each chunk header, walked by the lengths (an intact file)."""
    raw = path.read_bytes()
    pos, out = HEADER_SIZE, []
    while pos + CHUNK_HEADER_SIZE <= len(raw):
        out.append(pos)
        pos += CHUNK_HEADER_SIZE + int.from_bytes(raw[pos + 4 : pos + 8], "little")
    return out


def write_chunks(path: Path, sizes: list[int], seed: int = 0, **kw: object) -> bytes:
    """A sealed file with one flush per size; returns its plaintext."""
    data = payload(sum(sizes), seed)
    at = 0
    with SealedWriter(path, KEY, KEY_ID, **kw) as w:  # type: ignore[arg-type]
        for n in sizes:
            w.write(data[at : at + n])
            at += n
            w.flush(fsync=False)
    return data


def test_round_trip_random_access(tmp_path: Path) -> None:
    sizes = [1, 100, 5000, 3, 70_000, 4096, 17, 250_000, 9]  # 70 kB: 2 chunks, 250 kB: 4
    path = tmp_path / "s.bin"
    data = write_chunks(path, sizes, max_chunk=65_536)
    with SealedReader(path, KEY) as r:
        assert r.size == len(data) and r.torn_bytes == 0
        assert r.n_chunks == len(sizes) + 4
        assert r.read(0, r.size) == data
        rng = random.Random(1)
        for _ in range(300):
            a = rng.randrange(0, len(data))
            n = rng.randrange(0, 150_000)
            assert r.read(a, n) == data[a : a + n]
        assert r.read(len(data) - 5, 100) == data[-5:]
        assert r.read(len(data) + 10, 5) == b""
        assert r.verify() == []
    assert read_header(path).key_id == KEY_ID


def test_tell_counts_buffered_bytes(tmp_path: Path) -> None:
    with SealedWriter(tmp_path / "t.bin", KEY, KEY_ID, max_chunk=10) as w:
        w.write(b"x" * 25)  # two full chunks sealed at once, five bytes kept
        assert w.tell() == 25
        w.flush()
        assert w.tell() == 25
    with SealedReader(tmp_path / "t.bin", KEY) as r:
        assert r.n_chunks == 3 and r.read(0, 100) == b"x" * 25


def test_new_file_mode_0600_and_no_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "m.bin"
    write_chunks(path, [10])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        SealedWriter(path, KEY, KEY_ID)
    seal_bytes(tmp_path / "m.json", b"{}", KEY, KEY_ID)
    assert stat.S_IMODE((tmp_path / "m.json").stat().st_mode) == 0o600


def test_append_continues_numbering_nonces_distinct(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    first = write_chunks(path, [100, 200, 300], seed=1)
    with SealedWriter(path, KEY, KEY_ID, append=True) as w:
        assert w.tell() == len(first)
        more = payload(900, 2)
        for k in range(3):
            w.write(more[k * 300 : (k + 1) * 300])
            w.flush()
    # a torn tail before the next append: cut off, and its number not used again
    with open(path, "ab") as fh:
        fh.write(b"TSck" + b"\x00" * 10)
    with SealedWriter(path, KEY, KEY_ID, append=True) as w:
        w.write(b"end")
    with SealedReader(path, KEY) as r:
        assert r.torn_bytes == 0 and r.verify() == []
        assert r.read(0, r.size) == first + more + b"end"
        numbers = r.chunk_numbers
        assert numbers == sorted(set(numbers)) and numbers[:6] == list(range(6))
        nonces = [chunk_nonce(r.file_id, n) for n in numbers]
        # 7 chunks of data and the empty one that records the torn chunk's number as used
        assert len(set(nonces)) == len(nonces) == 8
    with pytest.raises(WrongKeyError):
        SealedWriter(path, bytes(32), KEY_ID, append=True)
    with pytest.raises(ValueError, match="sealed with key"):
        SealedWriter(path, KEY, b"other-id", append=True)


def test_files_get_distinct_ids(tmp_path: Path) -> None:
    ids = {read_header(_sealed(tmp_path / f"{i}.bin")).file_id for i in range(20)}
    assert len(ids) == 20


def _sealed(path: Path) -> Path:
    write_chunks(path, [10])
    return path


def test_tampered_byte_damages_only_its_chunk(tmp_path: Path) -> None:
    path = tmp_path / "d.bin"
    sizes = [1000, 2000, 3000, 4000]
    data = write_chunks(path, sizes)
    pos = chunk_positions(path)
    raw = bytearray(path.read_bytes())
    raw[pos[2] + CHUNK_HEADER_SIZE + 77] ^= 0x01
    path.write_bytes(bytes(raw))
    with SealedReader(path, KEY) as r:
        assert r.read(0, 3000) == data[:3000]
        with pytest.raises(SealedDamageError) as err:
            r.read(2500, 1000)
        d = err.value.damage
        assert d is not None and (d.plaintext_start, d.plaintext_end) == (3000, 6000)
        assert d.file_offset == pos[2] and "3000–6000" in str(err.value)
        assert r.read(6000, 4000) == data[6000:]
        damage = r.verify()
        assert [(x.plaintext_start, x.plaintext_end, x.reason) for x in damage] == [
            (3000, 6000, "tag")
        ]


def test_damaged_chunk_header_does_not_shift_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "h.bin"
    sizes = [500, 600, 700, 800, 900]
    data = write_chunks(path, sizes)
    pos = chunk_positions(path)
    raw = bytearray(path.read_bytes())
    raw[pos[1] + 5] ^= 0x40  # chunk 1's length
    raw[pos[2] + 9] ^= 0x01  # chunk 2's number: two damaged headers in a row
    path.write_bytes(bytes(raw))
    with SealedReader(path, KEY) as r:
        assert r.size == len(data) and r.torn_bytes == 0
        assert [(d.plaintext_start, d.plaintext_end, d.reason) for d in r.verify()] == [
            (500, 1800, "missing")
        ]
        assert r.read(0, 500) == data[:500]
        assert r.read(1800, 5000) == data[1800:]
        with pytest.raises(SealedDamageError):
            r.read(499, 2)


def test_swapped_chunks_detected(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    data = write_chunks(path, [100, 200, 300, 400])
    pos = chunk_positions(path)
    raw = path.read_bytes()
    b = raw[pos[1] : pos[2]]
    c = raw[pos[2] : pos[3]]
    path.write_bytes(raw[: pos[1]] + c + b + raw[pos[3] :])
    with SealedReader(path, KEY) as r:
        damage = r.verify()
        # chunk 1's bytes are missing where they belong, and chunk 1 is found out of place
        assert {(d.plaintext_start, d.plaintext_end, d.reason) for d in damage} == {
            (100, 300, "missing"),
            (100, 300, "out of place"),
        }
        assert {d.file_offset for d in damage} == {pos[1], pos[1] + len(c)}
        with pytest.raises(SealedDamageError):
            r.read(150, 10)
        assert r.read(0, 100) == data[:100]
        assert r.read(300, 700) == data[300:]


def test_chunk_from_another_file_detected(tmp_path: Path) -> None:
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    write_chunks(a, [100, 100, 100], seed=1)
    write_chunks(b, [100, 100, 100], seed=2)  # same key, same sizes
    pa, pb = chunk_positions(a), chunk_positions(b)
    ra, rb = a.read_bytes(), b.read_bytes()
    a.write_bytes(ra[: pa[1]] + rb[pb[1] : pb[2]] + ra[pa[2] :])
    with SealedReader(a, KEY) as r:
        assert [(d.plaintext_start, d.reason) for d in r.verify()] == [(100, "tag")]
        assert r.read(200, 100) == payload(300, 1)[200:]


def test_header_of_another_file_detected(tmp_path: Path) -> None:
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    write_chunks(a, [100, 100], seed=1)
    write_chunks(b, [100, 100], seed=2)
    a.write_bytes(b.read_bytes()[:HEADER_SIZE] + a.read_bytes()[HEADER_SIZE:])
    with SealedReader(a, KEY) as r:
        assert [(d.plaintext_start, d.reason) for d in r.verify()] == [(0, "tag"), (100, "tag")]


def test_wrong_key_not_sealed_damaged_header(tmp_path: Path) -> None:
    path = tmp_path / "k.bin"
    write_chunks(path, [10])
    with pytest.raises(WrongKeyError, match="sealed with key 73657373696f6e31"):
        SealedReader(path, bytes(32))
    with pytest.raises(WrongKeyError):
        open_bytes(path, bytes(32))
    plain = tmp_path / "plain.json"
    plain.write_text('{"a": 1}')
    with pytest.raises(NotSealedError):
        SealedReader(plain, KEY)
    raw = bytearray(path.read_bytes())
    raw[35] ^= 1  # in the key id
    path.write_bytes(bytes(raw))
    with pytest.raises(SealedDamageError, match="header .* is damaged"):
        SealedReader(path, KEY)


def test_torn_tail_ignored_and_recovered(tmp_path: Path) -> None:
    path = tmp_path / "t.bin"
    data = write_chunks(path, [300, 400, 500])
    intact = path.stat().st_size
    last = chunk_positions(path)[-1]
    for cut in (3, CHUNK_HEADER_SIZE + 10, CHUNK_HEADER_SIZE + 500 + TAG_SIZE - 1):
        raw = path.read_bytes()[:intact]
        path.write_bytes(raw[: last + cut])
        with SealedReader(path, KEY) as r:
            assert r.size == 700 and r.torn_bytes == cut
            assert r.verify() == [] and r.read(0, 10_000) == data[:700]
        assert recover(path) == cut
        assert path.stat().st_size == last
        assert recover(path) == 0
        path.write_bytes(raw)


SIGKILL_CHILD = textwrap.dedent(
    """
    import sys, time
    from core.security.sealed import SealedWriter
    w = SealedWriter(sys.argv[1], bytes(range(32)), b"session1")
    k = 0
    while True:
        block = bytes([k % 251]) * (1000 + 37 * k)  # a recognisable pattern per flush
        w.write(block)
        w.flush()
        print(w.tell(), flush=True)
        k += 1
        time.sleep(0.05)
    """
)


def expected_stream(total: int) -> bytes:
    out = bytearray()
    k = 0
    while len(out) < total:
        out += bytes([k % 251]) * (1000 + 37 * k)
        k += 1
    return bytes(out[:total])


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_loses_only_unflushed(tmp_path: Path) -> None:
    path = tmp_path / "live.bin"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen(
        [sys.executable, "-c", SIGKILL_CHILD, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert child.stdout is not None
        reported = 0
        for _ in range(8):
            line = child.stdout.readline()
            assert line, "the writer stopped early"
            reported = int(line)
        time.sleep(0.02)  # somewhere in the next write, flush or sleep
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    with SealedReader(path, KEY) as r:
        assert r.size >= reported
        assert r.verify() == []
        assert r.read(0, r.size) == expected_stream(r.size)
    recover(path)
    with SealedWriter(path, KEY, KEY_ID, append=True) as w:  # and recording goes on
        w.write(b"after")
    with SealedReader(path, KEY) as r:
        assert r.verify() == [] and r.read(r.size - 5, 5) == b"after"


def test_seal_bytes_round_trip_and_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "session.json"
    seal_bytes(path, b'{"v": 1}', KEY, KEY_ID)
    assert open_bytes(path, KEY) == b'{"v": 1}'
    seal_bytes(path, b"", KEY, KEY_ID)
    assert open_bytes(path, KEY) == b""
    big = payload(3 << 20)
    seal_bytes(path, big, KEY, KEY_ID)
    assert open_bytes(path, KEY) == big
    seal_bytes(path, b'{"v": 2}', KEY, KEY_ID)

    def no_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_fsync)
    with pytest.raises(OSError):
        seal_bytes(path, b'{"v": 3}', KEY, KEY_ID)
    monkeypatch.undo()
    assert open_bytes(path, KEY) == b'{"v": 2}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.json"]  # no temp file left
    # cut short (or its one chunk taken away): refused, never read as empty
    raw = path.read_bytes()
    path.write_bytes(raw[:HEADER_SIZE])
    with pytest.raises(SealedDamageError, match="incomplete"):
        open_bytes(path, KEY)
    path.write_bytes(raw[:-1])
    with pytest.raises(SealedDamageError, match="incomplete"):
        open_bytes(path, KEY)


def test_failed_write_keeps_bytes_for_another_try(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.bin"
    real_write = os.write
    fails = [2]  # the next chunk's header is written, its ciphertext is not

    def flaky(fd: int, data: bytes) -> int:
        fails[0] -= 1
        if fails[0] == 0:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    with SealedWriter(path, KEY, KEY_ID, max_chunk=100) as w:
        w.write(b"a" * 50)
        w.flush()
        monkeypatch.setattr(os, "write", flaky)
        with pytest.raises(OSError):
            w.write(b"b" * 250)  # the first full chunk fails: nothing of the 250 bytes is lost
        monkeypatch.undo()
        assert w.tell() == 300
        w.flush()
    with SealedReader(path, KEY) as r:
        assert r.torn_bytes == 0 and r.verify() == []
        assert r.read(0, 1000) == b"a" * 50 + b"b" * 250
        assert len(set(r.chunk_numbers)) == r.n_chunks and 1 not in r.chunk_numbers
