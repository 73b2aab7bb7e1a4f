"""Our EDF/EDF+/BDF/BDF+ reader and writer: round trips, cross-checks with pyedflib, edfio and MNE
(test-only), EDFlib's generator files that ship in the pyedflib wheel, and broken files."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import time

import numpy as np
import pytest

from core.formats.edf import LOST_TEXT, read_edf, write_edf
from core.formats.model import Annotation, Channel, FormatError

START = dt.datetime(2024, 5, 6, 7, 8, 9, 250000)


def _channels(seconds: int = 20, seed: int = 1) -> list[Channel]:
    """ECG at 800 Hz (mV, 1 µV resolution), EDA at 4 Hz and at 32 Hz (µS)."""
    rng = np.random.default_rng(seed)
    t = np.arange(800 * seconds) / 800
    ecg = np.round(np.sin(2 * np.pi * 1.2 * t) + rng.normal(0, 0.05, t.size), 3)
    eda4 = 5 + 0.1 * np.sin(np.arange(4 * seconds) / 7)
    eda32 = 2 + rng.normal(0, 0.01, 32 * seconds)
    return [
        Channel("ECG", "ecg", "mV", 800.0, ecg, np.arange(ecg.size), resolution=0.001),
        Channel("EDA", "eda", "uS", 4.0, eda4, np.arange(eda4.size), transducer="AgAgCl"),
        Channel("EDA fast", "eda", "uS", 32.0, eda32, np.arange(eda32.size), resolution=0.0001),
    ]


def _drop(ch: Channel, lo: int, hi: int) -> Channel:
    """``ch`` without its samples at grid positions lo..hi-1."""
    keep = (ch.sample_index < lo) | (ch.sample_index >= hi)
    return Channel(
        ch.label,
        ch.kind,
        ch.unit,
        ch.rate_hz,
        ch.values[keep],
        ch.sample_index[keep],
        resolution=ch.resolution,
        transducer=ch.transducer,
    )


def _same(written: list[Channel], info: dict, path: pathlib.Path) -> None:
    """What our reader gives back matches ``written`` within one step, gaps identical."""
    rec = read_edf(path)
    assert [c.label for c in rec.channels] == [c.label for c in written]
    for w, r, ci in zip(written, rec.channels, info["channels"], strict=True):
        assert r.rate_hz == w.rate_hz
        assert r.unit == w.unit
        assert r.kind == w.kind
        np.testing.assert_array_equal(r.sample_index, w.sample_index)
        np.testing.assert_allclose(r.times_s(), w.times_s(), atol=1e-9)
        assert np.max(np.abs(r.values - w.values)) <= ci["step"] * 0.5 + 1e-12
        assert r.resolution == pytest.approx(ci["step"])


# ---------------------------------------------------------------------------------------------
# round trips


def test_round_trip_continuous(tmp_path: pathlib.Path) -> None:
    chans = _channels()
    notes = [
        Annotation(0.0, 0.0, "start"),
        Annotation(3.25, 1.5, "Entspannung: Übung «ruhig» 深呼吸"),
        Annotation(3.25, 0.0, "same onset"),
        Annotation(19.999, 0.0, "at the end"),
    ]
    path = tmp_path / "c.edf"
    info = write_edf(path, chans, notes, start=START, patient_code="P 07", recording="test run")
    assert info["format"] == "EDF+C"
    assert info["record_duration_s"] == 1.0
    assert info["skipped_records"] == 0 and info["lost_runs"] == 0
    assert [c["step_ok"] for c in info["channels"]] == [True, None, True]
    _same(chans, info, path)
    rec = read_edf(path)
    assert rec.format == "EDF+C"
    assert rec.start == START
    assert [(a.text, a.duration_s) for a in rec.annotations] == [
        (a.text, a.duration_s) for a in notes
    ]
    for a, b in zip(rec.annotations, notes, strict=True):
        assert abs(a.onset_s - b.onset_s) < 1e-3
    assert rec.channels[1].transducer == "AgAgCl"
    head = path.read_bytes()[:256].decode("ascii")
    assert head[8:88].split() == ["P_07", "X", "X", "X"]
    assert head[88:168].split() == ["Startdate", "06-MAY-2024", "X", "X", "X", "test", "run"]
    assert head[168:184] == "06.05.2407.08.09"


def test_round_trip_lost_records_and_runs(tmp_path: pathlib.Path) -> None:
    ecg, eda4, eda32 = _channels()
    # seconds 5..8 lost on every channel (whole records) → EDF+D
    ecg, eda4, eda32 = _drop(ecg, 5 * 800, 8 * 800), _drop(eda4, 20, 32), _drop(eda32, 160, 256)
    # partial runs inside written records: ECG 10.1..10.35 s, the 4 Hz EDA's whole second 12,
    # the first 3 samples of the 32 Hz EDA, and the ECG's last 0.5 s (the file ends at 20 s)
    ecg = _drop(_drop(ecg, 8080, 8280), 15600, 16000)
    eda4 = _drop(eda4, 48, 52)
    eda32 = _drop(eda32, 0, 3)
    chans = [ecg, eda4, eda32]
    path = tmp_path / "d.edf"
    info = write_edf(path, chans, [Annotation(6.0, 0.0, "in the gap")], start=START)
    assert info["format"] == "EDF+D"
    assert info["skipped_records"] == 3 and info["n_records"] == 17
    assert info["lost_runs"] == 4
    _same(chans, info, path)
    rec = read_edf(path)
    assert rec.format == "EDF+D"
    assert [(a.onset_s, a.text) for a in rec.annotations] == [(6.0, "in the gap")]
    assert not any(LOST_TEXT in n for n in [a.text for a in rec.annotations])
    assert rec.channels[0].n_lost == 3 * 800 + 200


def test_round_trip_bdf_chosen_for_fine_resolution(tmp_path: pathlib.Path) -> None:
    rng = np.random.default_rng(3)
    # a ±500 mV range with a 1 µV step needs 20 bits
    v = np.round(rng.uniform(-500, 500, 2560), 3)
    ch = Channel("ECG", "ecg", "mV", 256.0, v, np.arange(v.size), resolution=0.001)
    path = tmp_path / "b.bdf"
    info = write_edf(path, [ch], [Annotation(1.0, 0.5, "µ-step")], start=START)
    assert info["format"] == "BDF+C"
    assert info["channels"][0]["step_ok"] is True
    assert info["channels"][0]["step"] <= 0.001
    _same([ch], info, path)
    rec = read_edf(path)
    assert rec.format == "BDF+C" and rec.annotations == [Annotation(1.0, 0.5, "µ-step")]
    # forced EDF: the step is reported as too coarse
    info16 = write_edf(tmp_path / "e.edf", [ch], [], start=START, bdf=False)
    assert info16["format"] == "EDF+C" and info16["channels"][0]["step_ok"] is False
    _same([ch], info16, tmp_path / "e.edf")


def test_bdf_with_lost_records(tmp_path: pathlib.Path) -> None:
    ecg, eda4, _ = _channels(seconds=6)
    chans = [_drop(ecg, 800, 1600), _drop(eda4, 4, 8)]
    path = tmp_path / "d.bdf"
    info = write_edf(path, chans, [], start=START, bdf=True)
    assert info["format"] == "BDF+D"
    _same(chans, info, path)


def test_record_duration_follows_the_rates(tmp_path: pathlib.Path) -> None:
    v = np.zeros(50)
    ch = Channel("x", "other", "a.u.", 2.5, v + np.arange(50), np.arange(50))
    info = write_edf(tmp_path / "r.edf", [ch], [], start=START)
    assert info["record_duration_s"] == 2.0
    rec = read_edf(tmp_path / "r.edf")
    assert rec.channels[0].rate_hz == 2.5 and rec.channels[0].n_grid == 50
    odd = Channel("odd", "other", "a.u.", 7.77, v, np.arange(50))
    with pytest.raises(FormatError, match="odd"):
        write_edf(tmp_path / "o.edf", [odd], [], start=START)
    assert not (tmp_path / "o.edf").exists()


def test_constant_and_awkward_values(tmp_path: pathlib.Path) -> None:
    """Physical ranges that need outward rounding in 8 characters; a constant channel."""
    rng = np.random.default_rng(5)
    big = 123456.789 + rng.uniform(-0.3, 0.3, 100)
    tiny = rng.uniform(-3.3e-7, 7.7e-7, 100)
    chans = [
        Channel("big", "other", "a.u.", 10.0, big, np.arange(100)),
        Channel("tiny", "other", "V", 10.0, tiny, np.arange(100)),
        Channel("flat", "other", "a.u.", 10.0, np.full(100, -2.5), np.arange(100)),
        Channel("neg", "other", "a.u.", 10.0, -0.1 - rng.uniform(0, 1e-3, 100), np.arange(100)),
    ]
    info = write_edf(tmp_path / "a.edf", chans, [], start=START)
    for c, ci in zip(chans, info["channels"], strict=True):
        assert ci["physical_min"] <= c.values.min() and ci["physical_max"] >= c.values.max()
    _same(chans, info, tmp_path / "a.edf")


def test_patient_and_start_fields(tmp_path: pathlib.Path) -> None:
    ch = _channels(2)[1]
    start = dt.datetime(1999, 12, 31, 23, 59, 58)
    write_edf(
        tmp_path / "p.edf",
        [ch],
        [],
        start=start,
        patient_code="Zoë 1",
        patient_name="Anna Müller",
        recording="x" * 100,
    )
    head = (tmp_path / "p.edf").read_bytes()[:256]
    assert head[8:88].decode("ascii").split() == ["Zo?_1", "X", "X", "Anna_M?ller"]
    assert len(head[88:168].decode("ascii").rstrip()) == 80
    rec = read_edf(tmp_path / "p.edf")
    assert rec.start == start


def test_one_hour_800_hz_reads_fast(tmp_path: pathlib.Path) -> None:
    n = 800 * 3600
    rng = np.random.default_rng(2)
    chans = [
        Channel("ECG", "ecg", "mV", 800.0, rng.normal(0, 1, n), np.arange(n), resolution=0.001),
        Channel("EDA", "eda", "uS", 800.0, rng.normal(5, 1, n), np.arange(n)),
    ]
    write_edf(tmp_path / "h.edf", chans, [], start=START)
    t = time.perf_counter()
    rec = read_edf(tmp_path / "h.edf")
    elapsed = time.perf_counter() - t
    assert rec.channels[0].values.size == n
    assert elapsed < 1.0, f"reading 1 h at 800 Hz took {elapsed:.2f} s"


# ---------------------------------------------------------------------------------------------
# the writer's failures leave nothing


def test_failed_write_leaves_nothing(tmp_path: pathlib.Path) -> None:
    ch = _channels(2)[1]
    folder = tmp_path / "folder.edf"
    folder.mkdir()
    with pytest.raises(OSError):
        write_edf(folder, [ch], [], start=START)
    assert list(folder.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.edf"]
    if os.name == "posix" and os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            with pytest.raises(OSError):
                write_edf(locked / "x.edf", [ch], [], start=START)
            assert list(locked.iterdir()) == []
        finally:
            locked.chmod(0o700)
    # an existing file is replaced only by a complete new one
    good = tmp_path / "good.edf"
    write_edf(good, [ch], [], start=START)
    before = good.read_bytes()
    with pytest.raises(FormatError):
        write_edf(good, [Channel("odd", "other", "", 7.77, [1.0], [0])], [], start=START)
    assert good.read_bytes() == before


# ---------------------------------------------------------------------------------------------
# our files read by other readers


def _continuous_file(tmp_path: pathlib.Path, bdf: bool = False) -> tuple[pathlib.Path, dict]:
    chans = _channels(10)
    notes = [Annotation(1.5, 0.0, "Übung"), Annotation(4.0, 2.0, "rest")]
    path = tmp_path / ("c.bdf" if bdf else "c.edf")
    info = write_edf(path, chans, notes, start=START.replace(microsecond=0), bdf=bdf)
    return path, info


@pytest.mark.parametrize("bdf", [False, True])
def test_pyedflib_reads_our_files(tmp_path: pathlib.Path, bdf: bool) -> None:
    pyedflib = pytest.importorskip("pyedflib")
    path, info = _continuous_file(tmp_path, bdf)
    chans = _channels(10)
    with pyedflib.EdfReader(str(path)) as r:
        assert r.getSignalLabels() == ["ECG", "EDA", "EDA fast"]
        for i, (c, ci) in enumerate(zip(chans, info["channels"], strict=True)):
            assert r.getSampleFrequency(i) == c.rate_hz
            assert np.max(np.abs(r.readSignal(i) - c.values)) <= ci["step"]
        onsets, durations, texts = r.readAnnotations()
        assert list(texts) == ["Übung", "rest"]
        np.testing.assert_allclose(onsets, [1.5, 4.0])
        assert r.getStartdatetime() == START.replace(microsecond=0)


def test_other_readers_on_our_discontinuous_file(tmp_path: pathlib.Path) -> None:
    """EDF+D elsewhere: pyedflib (EDFlib) refuses a discontinuous file; edfio and MNE read its
    records one after the other (the gap closed up) and show our lost-sample mark as an ordinary
    annotation. Only our reader puts the samples back on their grid."""
    ecg, eda4, _ = _channels(6)
    chans = [_drop(_drop(ecg, 800, 1600), 4000, 4100), _drop(eda4, 4, 8)]
    path = tmp_path / "d.edf"
    info = write_edf(path, chans, [], start=START.replace(microsecond=0))
    assert info["format"] == "EDF+D"
    step = info["channels"][0]["step"]
    kept = chans[0].sample_index < 4000
    pyedflib = pytest.importorskip("pyedflib")
    with pytest.raises(OSError, match="discontinuous"):
        pyedflib.EdfReader(str(path))
    edfio = pytest.importorskip("edfio")
    edf = edfio.read_edf(path)
    sig = edf.signals[0].data
    assert sig.size == 5 * 800
    assert np.max(np.abs(sig[: kept.sum()] - chans[0].values[kept])) <= step
    assert [a.text for a in edf.annotations] == [f"{LOST_TEXT} (ECG)"]
    mne = pytest.importorskip("mne")
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    assert raw.get_data().shape == (2, 5 * 800)
    assert list(raw.annotations.description) == [f"{LOST_TEXT} (ECG)"]


def test_edfio_reads_our_file(tmp_path: pathlib.Path) -> None:
    edfio = pytest.importorskip("edfio")
    path, info = _continuous_file(tmp_path)
    edf = edfio.read_edf(path)
    chans = _channels(10)
    assert [s.label for s in edf.signals] == ["ECG", "EDA", "EDA fast"]
    for s, c, ci in zip(edf.signals, chans, info["channels"], strict=True):
        assert s.sampling_frequency == c.rate_hz
        assert np.max(np.abs(s.data - c.values)) <= ci["step"]
    assert [(a.onset, a.text) for a in edf.annotations] == [(1.5, "Übung"), (4.0, "rest")]


@pytest.mark.parametrize("bdf", [False, True])
def test_mne_reads_our_files(tmp_path: pathlib.Path, bdf: bool) -> None:
    mne = pytest.importorskip("mne")
    path, info = _continuous_file(tmp_path, bdf)
    chans = _channels(10)[:1]  # MNE resamples to one rate: compare the 800 Hz ECG
    read = mne.io.read_raw_bdf if bdf else mne.io.read_raw_edf
    raw = read(path, preload=True, verbose="error")
    assert raw.info["sfreq"] == 800.0
    data = raw.get_data(picks=["ECG"])[0] * 1e3  # MNE gives volts; ours is mV
    assert np.max(np.abs(data - chans[0].values)) <= info["channels"][0]["step"] * 1.0001
    assert list(raw.annotations.description) == ["Übung", "rest"]
    np.testing.assert_allclose(raw.annotations.onset, [1.5, 4.0])
    np.testing.assert_allclose(raw.annotations.duration, [0.0, 2.0])


# ---------------------------------------------------------------------------------------------
# EDFlib's files that ship with pyedflib


def _pyedflib_files() -> list[pathlib.Path]:
    try:
        import pyedflib
    except ImportError:
        return []
    root = pathlib.Path(pyedflib.__file__).parent
    found = [root / "data" / "test_generator.edf"]
    found += sorted((root / "tests" / "data").glob("*.[eb]df"))
    return [p for p in found if p.exists()]


@pytest.mark.parametrize("path", _pyedflib_files(), ids=lambda p: "/".join(p.parts[-3:]))
def test_agrees_with_pyedflib_on_real_files(path: pathlib.Path) -> None:
    pyedflib = pytest.importorskip("pyedflib")
    rec = read_edf(path)
    with pyedflib.EdfReader(str(path)) as r:
        # a plain EDF file's "EDF Annotations" signal is an ordinary signal to pyedflib; we read
        # its annotations (test_legacy.edf)
        ordinary = [
            i for i in range(r.signals_in_file) if r.getLabel(i) not in ("EDF Annotations",)
        ]
        assert [c.label for c in rec.channels] == [r.getLabel(i) for i in ordinary]
        for i, c in zip(ordinary, rec.channels, strict=True):
            ref = r.readSignal(i)
            step = abs(r.getPhysicalMaximum(i) - r.getPhysicalMinimum(i)) / (
                r.getDigitalMaximum(i) - r.getDigitalMinimum(i)
            )
            assert c.rate_hz == r.getSampleFrequency(i)
            assert c.resolution == pytest.approx(step)
            values = c.values
            if c.unit != r.getPhysicalDimension(i):  # normalised (none in these files)
                pytest.fail(f"unexpected unit change {r.getPhysicalDimension(i)} → {c.unit}")
            assert values.size == ref.size
            assert np.max(np.abs(values - ref)) <= step
        onsets, durations, texts = r.readAnnotations()
        if len(texts):  # pyedflib leaves a plain EDF's annotations signal unread
            assert [a.text for a in rec.annotations] == list(texts)
            np.testing.assert_allclose([a.onset_s for a in rec.annotations], onsets, atol=1e-6)
        # pyedflib's getStartdatetime() divides the 100-ns subsecond by 100 (not 10): compare
        # the whole seconds and the subsecond count itself
        assert rec.start is not None
        assert rec.start.replace(microsecond=0) == r.getStartdatetime().replace(microsecond=0)
        if rec.format.endswith(("+C", "+D")):
            assert rec.start.microsecond == round(r.starttime_subsecond / 10)


def test_subsecond_and_utf8_files() -> None:
    files = {p.name: p for p in _pyedflib_files()}
    if "test_utf8.edf" not in files:
        pytest.skip("pyedflib's test files are not installed")
    rec = read_edf(files["test_subsecond.edf"])
    assert rec.start == dt.datetime(2020, 1, 24, 4, 5, 56, 394531)
    assert rec.format == "EDF+C" and rec.channels[0].rate_hz == 128.0
    texts = [a.text for a in read_edf(files["test_utf8.edf"]).annotations]
    assert "中文测试八个字" in texts


# ---------------------------------------------------------------------------------------------
# broken files: FormatError with a plain message, nothing else


@pytest.fixture()
def good_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "g.edf"
    write_edf(path, _channels(4), [Annotation(1.0, 0.0, "x")], start=START)
    return path


def _broken(tmp_path: pathlib.Path, data: bytes) -> pathlib.Path:
    path = tmp_path / "broken.edf"
    path.write_bytes(data)
    return path


def test_truncated_mid_record(tmp_path: pathlib.Path, good_file: pathlib.Path) -> None:
    data = good_file.read_bytes()
    ns = int(data[252:256])
    header = 256 * (ns + 1)
    record = (len(data) - header) // 4
    path = _broken(tmp_path, data[: header + 2 * record + record // 2])
    with pytest.raises(FormatError, match=r"truncated") as e:
        read_edf(path)
    assert "only 2 records are complete" in str(e.value)
    assert "4 data records" in str(e.value)


def test_truncated_mid_header(tmp_path: pathlib.Path, good_file: pathlib.Path) -> None:
    data = good_file.read_bytes()
    with pytest.raises(FormatError, match=r"header.*truncated"):
        read_edf(_broken(tmp_path, data[:600]))
    with pytest.raises(FormatError, match=r"256 bytes.*truncated"):
        read_edf(_broken(tmp_path, data[:100]))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes(range(256)) * 8,
        np.random.default_rng(0).bytes(5000),
        b"time,ecg\n0.0,1.2\n0.1,1.3\n" * 50,
        b"0",
    ],
    ids=["empty", "bytes", "random", "text", "one byte"],
)
def test_not_an_edf_file(tmp_path: pathlib.Path, data: bytes) -> None:
    with pytest.raises(FormatError, match=r"not an EDF or BDF file|empty|truncated"):
        read_edf(_broken(tmp_path, data))


@pytest.mark.parametrize(
    ("start", "width", "text", "words"),
    [
        (236, 8, "abc", "number of data records"),
        (244, 8, "one", "duration of a data record"),
        (252, 4, "  x", "number of signals"),
        (252, 4, "0", "no signals"),
        (184, 8, "999", "header bytes"),
    ],
)
def test_bad_main_header_fields(
    tmp_path: pathlib.Path, good_file: pathlib.Path, start: int, width: int, text: str, words: str
) -> None:
    data = bytearray(good_file.read_bytes())
    data[start : start + width] = text.ljust(width).encode("ascii")
    with pytest.raises(FormatError, match=words):
        read_edf(_broken(tmp_path, bytes(data)))


def _signal_field(data: bytearray, name_offset: int, width: int, signal: int, text: str) -> None:
    ns = int(data[252:256])
    at = 256 + name_offset * ns + signal * width
    data[at : at + width] = text.ljust(width).encode("ascii")


def test_bad_signal_header_fields(tmp_path: pathlib.Path, good_file: pathlib.Path) -> None:
    data = bytearray(good_file.read_bytes())
    _signal_field(data, 16 + 80 + 8, 8, 1, "1,5")  # physical minimum of signal 2
    with pytest.raises(FormatError, match=r"physical minimum of signal 2 \('EDA'\) is '1,5'"):
        read_edf(_broken(tmp_path, bytes(data)))
    data = bytearray(good_file.read_bytes())
    _signal_field(data, 16 + 80 + 8 * 5 + 80, 8, 0, "many")
    with pytest.raises(FormatError, match=r"samples per data record of signal 1"):
        read_edf(_broken(tmp_path, bytes(data)))
    data = bytearray(good_file.read_bytes())
    _signal_field(data, 16 + 80 + 8 * 3, 8, 0, "32767")  # digital minimum = maximum
    with pytest.raises(FormatError, match=r"digital maximum"):
        read_edf(_broken(tmp_path, bytes(data)))


def test_zero_record_duration(tmp_path: pathlib.Path, good_file: pathlib.Path) -> None:
    data = bytearray(good_file.read_bytes())
    data[244:252] = b"0       "
    with pytest.raises(FormatError, match=r"duration of a data record is 0"):
        read_edf(_broken(tmp_path, bytes(data)))


def test_unknown_record_count_and_trailing_bytes(
    tmp_path: pathlib.Path, good_file: pathlib.Path
) -> None:
    data = bytearray(good_file.read_bytes())
    data[236:244] = b"-1      "
    rec = read_edf(_broken(tmp_path, bytes(data) + b"\x00" * 10))
    assert rec.channels[0].values.size == 4 * 800
    assert any("-1" in n for n in rec.notes)


def test_zero_samples_signal_skipped(tmp_path: pathlib.Path) -> None:
    """A signal with 0 samples per record is left out (the header is edited by hand)."""
    path = tmp_path / "z.edf"
    write_edf(path, _channels(2)[:2], [], start=START)
    data = bytearray(path.read_bytes())
    ns = int(data[252:256])
    # EDA's samples per record → 0, its bytes taken out of every record
    spr_at = 256 + (16 + 80 + 8 * 5 + 80) * ns
    spr = [int(data[spr_at + 8 * i : spr_at + 8 * i + 8]) for i in range(ns)]
    data[spr_at + 8 : spr_at + 16] = b"0       "
    header = 256 * (ns + 1)
    records = np.frombuffer(bytes(data[header:]), dtype=np.uint8).reshape(-1, 2 * sum(spr))
    records = np.delete(records, np.arange(2 * spr[0], 2 * spr[0] + 2 * spr[1]), axis=1)
    data = data[:header] + records.tobytes()
    rec = read_edf(_broken(tmp_path, bytes(data)))
    assert [c.label for c in rec.channels] == ["ECG"]
    assert any("EDA" in n and "skipped" in n for n in rec.notes)


def test_damaged_files_raise_only_format_errors(
    tmp_path: pathlib.Path, good_file: pathlib.Path
) -> None:
    """Cuts anywhere and header bytes overwritten at random: a Recording or a FormatError."""
    data = good_file.read_bytes()
    rng = np.random.default_rng(7)
    header = 256 * (int(data[252:256]) + 1)
    variants = [data[:n] for n in rng.integers(0, len(data), 60)]
    for i in range(400):
        damaged = bytearray(data)
        # header bytes, then anywhere (the annotations signal's TALs included)
        for at in rng.integers(0, header if i < 300 else len(data), rng.integers(1, 4)):
            damaged[at] = int(rng.choice(list(b"0123456789 .-+eE\x00\x14\xffX")))
        variants.append(bytes(damaged))
    path = tmp_path / "damaged.edf"
    outcomes = {"read": 0, "refused": 0}
    for v in variants:
        path.write_bytes(v)
        try:
            read_edf(path)
            outcomes["read"] += 1
        except FormatError as e:
            assert str(e)
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0 and outcomes["read"] > 0


def test_broken_annotations(tmp_path: pathlib.Path, good_file: pathlib.Path) -> None:
    data = good_file.read_bytes()
    assert data.count(b"+1.25\x14x\x14") == 1
    with pytest.raises(FormatError, match=r"data record 2.*not an onset"):
        read_edf(_broken(tmp_path, data.replace(b"+1.25\x14x\x14", b"+1.2?\x14x\x14")))
    # the first record's time keeping gone
    assert data.count(b"+0.25\x14\x14\x00") == 1
    with pytest.raises(FormatError, match=r"data record 1 has no time-keeping"):
        read_edf(_broken(tmp_path, data.replace(b"+0.25\x14\x14\x00", b"\x00" * 8)))


def test_lost_mark_without_label_applies_to_every_channel(tmp_path: pathlib.Path) -> None:
    ecg, eda4, _ = _channels(4)
    path = tmp_path / "m.edf"
    write_edf(path, [ecg, eda4], [Annotation(1.0, 0.5, LOST_TEXT)], start=START)
    rec = read_edf(path)
    assert rec.annotations == []
    assert rec.channels[0].n_lost == 400 and rec.channels[1].n_lost == 2
    assert not np.any((rec.channels[1].sample_index >= 4) & (rec.channels[1].sample_index < 6))


def test_a_first_record_seconds_after_the_header_time_keeps_annotations_with_samples(tmp_path):
    """The first data record starts 5.25 s after the header's time: an annotation at the first
    sample stays at the first sample, and ``start`` is when time zero is."""
    n = 256 * 10
    path = tmp_path / "late.edf"
    ch = Channel("ECG", "ecg", "mV", 256.0, np.sin(np.arange(n) / 10), np.arange(n), t0_s=5.25)
    marks = [Annotation(5.25, 0.0, "at first sample"), Annotation(7.0, 0.0, "later")]
    write_edf(path, [ch], marks, start=dt.datetime(2025, 1, 1, 10, 0, 0))
    rec = read_edf(path)
    (got,) = rec.channels
    assert got.times_s()[0] == pytest.approx(rec.annotations[0].onset_s, abs=1e-6)
    assert [a.onset_s for a in rec.annotations] == pytest.approx([5.25, 7.0])
    assert rec.start is not None
    first = rec.start + dt.timedelta(seconds=float(got.times_s()[0]))
    assert first == dt.datetime(2025, 1, 1, 10, 0, 5, 250000)


def _plain_edf(path: pathlib.Path, labels: list[str], digital: list[np.ndarray]) -> None:
    """A plain EDF (one 1 s record per 100 samples, physical -1.5..1.5 over the int16 range)
    written byte by byte, the way OpenSignals' export lays it out."""
    ns, n = len(labels), len(digital[0]) // 100

    def field(values: list[str], width: int) -> bytes:
        return b"".join(v.ljust(width).encode("ascii") for v in values)

    head = (
        b"0".ljust(8)
        + b"X X X X".ljust(80)
        + b"Startdate 03-DEC-2019 PluxFile X X".ljust(80)
        + b"03.12.1914.56.49"
        + str(256 * (ns + 1)).encode().ljust(8)
        + b"".ljust(44)
        + str(n).encode().ljust(8)
        + b"1".ljust(8)
        + str(ns).encode().ljust(4)
    )
    head += field(labels, 16) + field(["00:07:80:D8:A8:82,0"] * ns, 80) + field([""] * ns, 8)
    head += field(["-1.5"] * ns, 8) + field(["1.5"] * ns, 8)
    head += field(["-32768"] * ns, 8) + field(["32767"] * ns, 8)
    head += field(["1,16"] * ns, 80) + field(["100"] * ns, 8) + field([""] * ns, 32)
    data = np.stack([d.reshape(n, 100) for d in digital], axis=1).astype("<i2")
    path.write_bytes(head + data.tobytes())


def test_repeated_labels_are_told_apart(tmp_path: pathlib.Path) -> None:
    # OpenSignals' EDF export labels every channel without a sensor "RAW" (biosignalsnotebooks'
    # eeg_acoustic.edf: two signals "RAW"); each must still be choosable by its label
    from core.formats.reading import read_recording

    k = np.arange(1000)
    a, b = (k * 7 - 3000).astype(np.int16), (3000 - k * 5).astype(np.int16)
    path = tmp_path / "raw.edf"
    _plain_edf(path, ["RAW", "RAW", "RAW-0"], [a, b, np.zeros(1000, np.int16)])
    assert [c.label for c in read_edf(path).channels] == ["RAW", "RAW", "RAW-0"]
    rec = read_recording(path)
    assert [c.label for c in rec.channels] == ["RAW-1", "RAW-2", "RAW-0"]
    np.testing.assert_allclose(rec.channel("RAW-2").values, -1.5 + (b + 32768.0) * 3 / 65535)
    assert any("told apart" in n and "RAW-1, RAW-2" in n for n in rec.notes)
