"""OpenSignals (r)evolution reader: a real BITalino file (shipped with opensignalsreader, read
by it too), written-by-the-test BITalino / biosignalsplux / two-device text files, an HDF5 file
laid out the OpenSignals way, and broken files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from core.formats.model import FormatError
from core.formats.opensignals import read_opensignals

opensignalsreader = pytest.importorskip("opensignalsreader")
SAMPLE = Path(opensignalsreader.__file__).parent / "files" / "SampleECG.txt"

MAC = "20:16:02:26:60:88"


def bitalino_ecg_mv(adc: np.ndarray, bits: int) -> np.ndarray:
    return (adc / 2**bits - 0.5) * 3.3 / 1100 * 1000


def write_text(path: Path, header: dict, rows: list[list[int]] | list[str]) -> Path:
    lines = ["# OpenSignals Text File Format", "# " + json.dumps(header), "# EndOfHeader"]
    for r in rows:
        lines.append(r if isinstance(r, str) else "\t".join(str(v) for v in r) + "\t")
    path.write_text("\n".join(lines) + "\n")
    return path


def bitalino_header(**over) -> dict:
    h = {
        "sensor": ["ECG", "EDA"],
        "device name": MAC,
        "column": ["nSeq", "I1", "I2", "O1", "O2", "A1", "A3"],
        "time": "10:20:30.5",
        "date": "2023-4-5",
        "channels": [1, 3],
        "device": "bitalino_rev",
        "sampling rate": 100,
        "label": ["A1", "A3"],
        "resolution": [4, 1, 1, 1, 1, 10, 10],
        "special": [{}, {}],
    }
    h.update(over)
    return {MAC: h}


# --------------------------------------------------------------------------- the real file


def test_real_bitalino_sample_matches_opensignalsreader():
    rec = read_opensignals(SAMPLE)
    assert rec.format == "OpenSignals text"
    assert [c.label for c in rec.channels] == ["A2"]
    ecg = rec.channel("A2")
    assert (ecg.kind, ecg.unit, ecg.rate_hz, ecg.transducer) == ("ecg", "mV", 1000.0, "ECG")
    assert ecg.resolution == pytest.approx(3.3 / 2**10 / 1100 * 1000)  # 10-bit channel
    assert rec.start == dt.datetime(2016, 6, 11, 7, 3, 47, 290000)
    assert rec.device == f"bitalino {MAC}"

    other = opensignalsreader.OpenSignalsReader(str(SAMPLE))
    raw = np.asarray(other.raw("ECG"), dtype=float)
    assert len(raw) == len(ecg.values)
    np.testing.assert_allclose(ecg.values, bitalino_ecg_mv(raw, 10), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ecg.values, np.asarray(other.signal("ECG")), atol=1e-12)

    # nSeq checked by hand: every step is +1 modulo 16, so nothing was lost
    nseq = np.loadtxt(SAMPLE, usecols=0, dtype=int)
    assert np.all(np.mod(np.diff(nseq), 16) == 1)
    assert ecg.n_lost == 0
    np.testing.assert_array_equal(ecg.sample_index, np.arange(len(nseq)))
    assert not any("lost in" in n for n in rec.notes)


def test_real_bitalino_sample_heart_rate_is_plausible():
    nk = pytest.importorskip("neurokit2")
    ecg = read_opensignals(SAMPLE).channel("A2")
    signals, _ = nk.ecg_process(ecg.values, sampling_rate=int(ecg.rate_hz))
    hr = float(np.nanmean(signals["ECG_Rate"]))
    assert 50 <= hr <= 120


# ----------------------------------------------------------------------- written by the test


def test_bitalino_ecg_eda_with_lost_rows_and_a_wrap(tmp_path):
    n = 100
    k = np.arange(n)
    dropped = {5, 6, 14, 15, 16, 17, 40}  # 14..17 crosses the 15 -> 0 wrap of the counter
    kept = np.array([i for i in k if i not in dropped])
    ecg_adc = 400 + (k * 7) % 300
    eda_adc = 100 + k
    rows = [[i % 16, 0, 0, 0, 0, int(ecg_adc[i]), int(eda_adc[i])] for i in kept]
    rec = read_opensignals(write_text(tmp_path / "b.txt", bitalino_header(), rows))

    ecg, eda = rec.channel("A1"), rec.channel("A3")
    np.testing.assert_array_equal(ecg.sample_index, kept)
    np.testing.assert_array_equal(eda.sample_index, kept)
    assert ecg.n_lost == len(dropped)
    assert (ecg.kind, ecg.unit, eda.kind, eda.unit) == ("ecg", "mV", "eda", "uS")
    np.testing.assert_allclose(ecg.values, bitalino_ecg_mv(ecg_adc[kept], 10))
    np.testing.assert_allclose(eda.values, eda_adc[kept] / 1024 * 3.3 / 0.132)
    assert eda.resolution == pytest.approx(3.3 / 1024 / 0.132)
    assert any("7 samples lost in 3 gaps" in note for note in rec.notes)
    assert rec.start == dt.datetime(2023, 4, 5, 10, 20, 30, 500000)
    assert np.isnan(ecg.grid()[5]) and ecg.grid()[4] == ecg.values[4]


def test_biosignalsplux_16_bit(tmp_path):
    mac = "00:07:80:4D:2E:76"
    header = {
        mac: {
            "sensor": ["ECG", "EDA", "RAW"],
            "device name": mac,
            "column": ["nSeq", "DI", "CH1", "CH2", "CH3"],
            "time": "9:5:7.123",
            "date": "2021-11-30",
            "channels": [1, 2, 3],
            "device": "biosignalsplux",
            "sampling rate": 500,
            "label": ["CH1", "CH2", "CH3"],
            "resolution": [16, 1, 16, 16, 16],
            "special": [{}, {}, {}],
        }
    }
    k = np.arange(40)
    kept = k[(k < 20) | (k >= 23)]  # three lost; the counter runs past 15 without wrapping
    rows = [[int(i), 0, 30000 + int(i), 12000 + int(i), 65535] for i in kept]
    rec = read_opensignals(write_text(tmp_path / "p.txt", header, rows))
    ecg, eda, raw = rec.channels
    np.testing.assert_array_equal(ecg.sample_index, kept)
    np.testing.assert_allclose(ecg.values, ((30000 + kept) / 65536 - 0.5) * 3.0 / 1019 * 1000)
    np.testing.assert_allclose(eda.values, (12000 + kept) / 65536 * 3.0 / 0.12)
    assert ecg.resolution == pytest.approx(3.0 / 65536 / 1019 * 1000)
    assert (raw.kind, raw.unit, raw.transducer) == ("other", "ADC", "RAW")
    np.testing.assert_array_equal(raw.values, 65535)
    assert rec.device == f"biosignalsplux {mac}"
    assert rec.start == dt.datetime(2021, 11, 30, 9, 5, 7, 123000)
    assert any("3 samples lost in 1 gap" in note for note in rec.notes)


def test_two_devices_in_one_file(tmp_path):
    mac2 = "20:16:07:18:13:57"
    h1 = bitalino_header(**{"device name": "left"})[MAC]
    h2 = dict(bitalino_header()[MAC], **{"device name": "right", "sensor": ["EDA", "RAW"]})
    header = {MAC: h1, mac2: h2}
    rows = []
    for i in range(32):
        if i == 10:  # the second device lost a sample here, the first did not
            continue
        rows.append([i % 16, 0, 0, 0, 0, 500, 600, i % 16, 0, 0, 0, 0, 300, 7])
    rec = read_opensignals(write_text(tmp_path / "two.txt", header, rows))
    assert [c.label for c in rec.channels] == ["left A1", "left A3", "right A1", "right A3"]
    assert [c.kind for c in rec.channels] == ["ecg", "eda", "eda", "other"]
    assert rec.channel("left A1").n_lost == 1  # both devices' rows lack it
    assert rec.device == "bitalino_rev left, bitalino_rev right"


def test_h5_written_the_opensignals_way(tmp_path):
    path = tmp_path / "rec.h5"
    n = 50
    k = np.arange(n + 3)
    kept = np.delete(k, [20, 21, 22])
    with h5py.File(path, "w") as f:
        g = f.create_group(MAC)
        g.attrs["sampling rate"] = 1000
        g.attrs["resolution"] = np.array([10, 10])
        g.attrs["channels"] = np.array([2, 3])
        g.attrs["device"] = "bitalino_rev"
        g.attrs["device name"] = MAC.encode()
        g.attrs["date"] = "2020-1-2"
        g.attrs["time"] = "13:14:15.250"
        g.attrs["comments"] = ""
        g.attrs["special"] = json.dumps([{}, {}])
        g.attrs["nsamples"] = n
        raw = g.create_group("raw")
        raw.create_dataset("nSeq", data=(kept % 16).reshape(-1, 1).astype(np.uint16))
        c2 = raw.create_dataset("channel_2", data=(500 + kept).reshape(-1, 1).astype(np.uint16))
        c2.attrs["sensor"] = b"ECG"
        c3 = raw.create_dataset("channel_3", data=(200 + kept).reshape(-1, 1).astype(np.uint16))
        c3.attrs["sensor"] = "EDA"
        dig = raw.create_group("digital")
        dig.create_dataset("digital_1", data=np.zeros((n, 1), dtype=np.uint16))
    rec = read_opensignals(path)
    assert rec.format == "OpenSignals HDF5"
    ecg, eda = rec.channels
    assert (ecg.kind, eda.kind, ecg.rate_hz) == ("ecg", "eda", 1000.0)
    np.testing.assert_array_equal(ecg.sample_index, kept)
    np.testing.assert_allclose(ecg.values, bitalino_ecg_mv(500 + kept, 10))
    np.testing.assert_allclose(eda.values, (200 + kept) / 1024 * 3.3 / 0.132)
    assert rec.start == dt.datetime(2020, 1, 2, 13, 14, 15, 250000)
    assert rec.device == f"bitalino_rev {MAC}"


def test_columns_named_after_their_labels(tmp_path):
    # OpenSignals names an analog column after the channel's label: a biosignalsplux hub
    # ("channeller") writes "PORT3_CHN1", a renamed channel "X"; the analog columns are the last
    # ones, one per sensor (as in biosignalsnotebooks' eda_slow_signal.txt and sync_acc_2.txt)
    mac = "00:07:80:3B:46:61"
    header = {
        mac: {
            "sensor": ["EDA", "XYZ"],
            "device name": mac,
            "column": ["nSeq", "DI", "PORT3_CHN1", "X"],
            "sync interval": 2,
            "time": "13:28:43.110",
            "date": "2017-1-23",
            "channels": [3, 4],
            "digital IO": [0, 1],
            "device": "channeller",
            "sampling rate": 100,
            "label": ["PORT3_CHN1", "X"],
            "resolution": [16, 16],
            "special": [{"SpO2": [80, 40, 5, 4, 5, 5]}, {}],
        }
    }
    rows = [[i, i % 2, 46888 + i, 33000 - i] for i in range(20)]
    rec = read_opensignals(write_text(tmp_path / "hub.txt", header, rows))
    eda, acc = rec.channels
    assert (eda.label, eda.kind, eda.unit, eda.rate_hz) == ("PORT3_CHN1", "eda", "uS", 100.0)
    np.testing.assert_allclose(eda.values, (46888 + np.arange(20)) / 65536 * 3.0 / 0.12)
    assert (acc.label, acc.kind, acc.unit, acc.transducer) == ("X", "other", "ADC", "XYZ")
    np.testing.assert_array_equal(acc.values, 33000 - np.arange(20))
    assert rec.device == f"channeller {mac}"


def test_h5_nseq_clipped_at_65535(tmp_path):
    # OpenSignals writes nSeq into HDF5 as uint16 that sticks at 65535 once the count passes it
    # (biosignalsnotebooks' ecg_5_min.h5: 300,000 samples, nSeq 0..65535 then 65535 on); the
    # counter still finds losses before that point, the rest is taken as consecutive
    path = tmp_path / "long.h5"
    n_grid = 70000
    kept = np.delete(np.arange(n_grid), [100, 101])  # two lost early on
    nseq = np.minimum(kept, 65535).astype(np.uint16)
    with h5py.File(path, "w") as f:
        g = f.create_group("00:07:80:58:9B:3F")
        g.attrs["sampling rate"] = np.int32(1000)
        g.attrs["resolution"] = np.array([16], dtype=np.int32)
        g.attrs["channels"] = np.array([1], dtype=np.int32)
        g.attrs["device"] = "biosignalspluxsolo"
        g.attrs["date"] = "2018-6-26"
        g.attrs["time"] = "18:32:37.236"
        raw = g.create_group("raw")
        raw.create_dataset("nSeq", data=nseq.reshape(-1, 1))
        c1 = raw.create_dataset("channel_1", data=np.full((len(kept), 1), 40000, np.uint16))
        c1.attrs["sensor"] = "ECG"
        c1.attrs["label"] = "CH1"
        c1.attrs["special"] = "{}"
    rec = read_opensignals(path)
    (ecg,) = rec.channels
    assert len(ecg.values) == len(kept)
    np.testing.assert_array_equal(ecg.sample_index[:200], kept[:200])
    assert ecg.n_lost == 2
    assert ecg.sample_index[-1] == len(kept) + 1
    assert any("stops at 65535" in note for note in rec.notes)
    assert any("2 samples lost in 1 gap" in note for note in rec.notes)
    # a biosignalsplux solo is one of PLUX's 3 V devices
    assert ecg.unit == "mV"
    np.testing.assert_allclose(ecg.values, (40000 / 65536 - 0.5) * 3.0 / 1019 * 1000)


# ------------------------------------------------------------------------------ broken files


def test_not_opensignals(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("hello\n1\t2\n")
    with pytest.raises(FormatError, match="not an OpenSignals"):
        read_opensignals(p)


def test_no_json_header(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("# OpenSignals Text File Format\n# EndOfHeader\n1\t2\n")
    with pytest.raises(FormatError, match="no OpenSignals JSON header"):
        read_opensignals(p)


def test_bad_json(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text('# OpenSignals Text File Format\n# {"a": [1,\n# EndOfHeader\n1\t2\n')
    with pytest.raises(FormatError, match="line 2.*not valid JSON"):
        read_opensignals(p)


def test_short_row_in_the_middle_names_its_line(tmp_path):
    rows: list = [[i % 16, 0, 0, 0, 0, 500, 600] for i in range(10)]
    rows[4] = "4\t0\t0"
    p = write_text(tmp_path / "x.txt", bitalino_header(), rows)
    with pytest.raises(FormatError, match="line 8: 3 values where the header's columns call for 7"):
        read_opensignals(p)


def test_truncated_last_line_is_dropped_with_a_note(tmp_path):
    rows: list = [[i % 16, 0, 0, 0, 0, 500, 600] for i in range(10)]
    p = write_text(tmp_path / "x.txt", bitalino_header(), rows)
    p.write_text(p.read_text() + "10\t0\t0\t0")  # cut mid-row, no newline
    rec = read_opensignals(p)
    assert len(rec.channels[0].values) == 10
    assert any("line 14" in n and "left out" in n for n in rec.notes)


def test_non_integer_value_names_its_line(tmp_path):
    rows: list = [[i % 16, 0, 0, 0, 0, 500, 600] for i in range(10)]
    rows[2] = "2\t0\t0\t0\t0\t5x0\t600"
    p = write_text(tmp_path / "x.txt", bitalino_header(), rows)
    with pytest.raises(FormatError, match="line 6: '5x0' is not a whole number"):
        read_opensignals(p)


def test_unknown_column(tmp_path):
    # before the analog block (one column per sensor) only nSeq and digital ports may stand
    h = bitalino_header(column=["nSeq", "Foo", "I2", "O1", "O2", "A1", "A3"])
    p = write_text(tmp_path / "x.txt", h, [[0, 0, 0, 0, 0, 1, 2]])
    with pytest.raises(FormatError, match="unknown column 'Foo'"):
        read_opensignals(p)
    # without a sensor or label list the column names alone decide
    h = bitalino_header(column=["nSeq", "I1", "I2", "O1", "O2", "A1", "Foo"])
    del h[MAC]["sensor"], h[MAC]["label"]
    p = write_text(tmp_path / "y.txt", h, [[0, 0, 0, 0, 0, 1, 2]])
    with pytest.raises(FormatError, match="unknown column 'Foo'"):
        read_opensignals(p)
