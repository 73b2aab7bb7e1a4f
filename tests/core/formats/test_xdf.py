"""XDF: files written by write_xdf, read by our reader and cross-checked with pyxdf (clock
offsets applied the same way, lost samples at the right grid positions, markers on the same
time base), and broken files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from core.formats.model import FormatError
from core.formats.xdf import read_xdf, write_xdf

pyxdf = pytest.importorskip("pyxdf")

ECG_RATE = 800.0
N_ECG = 8000
LOST = np.arange(3000, 3040)  # a run of 40 dropped ECG samples
EDA_RATE = 15.6
N_EDA = 160


def make_streams() -> list[dict]:
    rng = np.random.default_rng(1)
    k = np.arange(N_ECG)
    keep = np.ones(N_ECG, dtype=bool)
    keep[LOST] = False
    # LSL clock of the ECG host: jitter of ±0.3 ms, drift of 20 ppm in its clock offset
    t_ecg = 1000.0 + k / ECG_RATE + rng.uniform(-3e-4, 3e-4, N_ECG)
    ecg = {
        "name": "PolarH10",
        "type": "ECG",
        "channel_format": "float32",
        "nominal_srate": ECG_RATE,
        "labels": ["ECG"],
        "units": ["mV"],
        "hostname": "lab-pc",
        "timestamps": t_ecg[keep],
        "values": np.sin(2 * np.pi * 1.2 * k[keep] / ECG_RATE).astype(np.float32)[:, None],
        "clock_offsets": [(1000.0 + 2 * i, 0.25 + 20e-6 * 2 * i) for i in range(6)],
        "datetime": dt.datetime(2024, 3, 1, 14, 30, 0),
    }
    t_eda = 1000.4 + np.arange(N_EDA) / EDA_RATE
    t_eda[50] = np.nan  # a sample written without a timestamp
    eda = {
        "name": "Shimmer",
        "type": "GSR",
        "channel_format": "double64",
        "nominal_srate": EDA_RATE,
        "labels": ["GSR"],
        "units": ["microsiemens"],
        "timestamps": t_eda,
        "values": np.linspace(2.0, 3.0, N_EDA)[:, None],
        "clock_offsets": [(1000.0, -0.1), (1008.0, -0.1)],
    }
    markers = {
        "name": "Task",
        "type": "Markers",
        "channel_format": "string",
        "nominal_srate": 0.0,
        "timestamps": [1001.0, 1004.5, 1009.25],
        "values": ["rest", "speech", "end"],
        "clock_offsets": [(1000.0, 0.25)],
    }
    return [ecg, eda, markers]


@pytest.fixture(scope="module")
def xdf_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("xdf") / "session.xdf"
    write_xdf(path, make_streams())
    return path


def pyxdf_streams(path: Path) -> dict[str, dict]:
    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    return {s["info"]["name"][0]: s for s in streams}


def test_channels_and_metadata(xdf_file):
    rec = read_xdf(xdf_file)
    assert rec.format == "XDF"
    assert [(c.label, c.kind, c.unit) for c in rec.channels] == [
        ("ECG", "ecg", "mV"),
        ("GSR", "eda", "uS"),
    ]
    # timed by the recording's clock (the clock offsets drift 20 ppm), not the declared rate
    assert [c.rate_hz for c in rec.channels] == pytest.approx([ECG_RATE, EDA_RATE], rel=50e-6)
    assert rec.start == dt.datetime(2024, 3, 1, 14, 30, 0)
    assert rec.device == "PolarH10 (lab-pc), Shimmer"


def test_clock_corrected_times_match_pyxdf(xdf_file):
    rec = read_xdf(xdf_file)
    ref = pyxdf_streams(xdf_file)
    t_start = min(ref["PolarH10"]["time_stamps"][0], ref["Shimmer"]["time_stamps"][0])
    for label, name in (("ECG", "PolarH10"), ("GSR", "Shimmer")):
        ours = rec.channel(label).times_s() + t_start
        theirs = ref[name]["time_stamps"]
        assert len(ours) == len(theirs)
        assert np.max(np.abs(ours - theirs)) < 1e-3
        np.testing.assert_allclose(
            rec.channel(label).values, ref[name]["time_series"][:, 0], rtol=1e-6
        )


def test_lost_samples_land_at_their_positions(xdf_file):
    ecg = read_xdf(xdf_file).channel("ECG")
    expected = np.setdiff1d(np.arange(N_ECG), LOST)
    np.testing.assert_array_equal(ecg.sample_index, expected)
    assert ecg.n_lost == len(LOST)
    eda = read_xdf(xdf_file).channel("GSR")
    np.testing.assert_array_equal(eda.sample_index, np.arange(N_EDA))


def test_markers_on_the_same_time_base(xdf_file):
    rec = read_xdf(xdf_file)
    ref = pyxdf_streams(xdf_file)
    t_start = min(ref["PolarH10"]["time_stamps"][0], ref["Shimmer"]["time_stamps"][0])
    assert [a.text for a in rec.annotations] == ["rest", "speech", "end"]
    onsets = np.array([a.onset_s for a in rec.annotations])
    np.testing.assert_allclose(onsets, ref["Task"]["time_stamps"] - t_start, atol=2e-3)
    # and against the recording's ECG: 'rest' came 1 s after the first ECG sample (same offset)
    assert onsets[0] - rec.channel("ECG").t0_s == pytest.approx(1.0, abs=2e-3)


def test_truncated_last_chunk_reads_with_a_note(xdf_file, tmp_path):
    data = xdf_file.read_bytes()
    cut = tmp_path / "cut.xdf"
    cut.write_bytes(data[:-7])
    rec = read_xdf(cut)
    assert len(rec.channel("ECG").values) == N_ECG - len(LOST)
    assert any("ends inside its last chunk" in n for n in rec.notes)


def test_truncated_inside_samples(tmp_path):
    streams = make_streams()[:1]
    path = tmp_path / "a.xdf"
    write_xdf(path, streams)
    data = path.read_bytes()
    # drop the footer and half of the last samples chunk: a LabRecorder crash mid-write
    footer_at = data.rfind(b"\x06\x00\x01\x00\x00\x00<?xml")
    cut = tmp_path / "cut.xdf"
    cut.write_bytes(data[: footer_at - 2 - 200])
    rec = read_xdf(cut)
    assert 0 < len(rec.channel("ECG").values) < N_ECG - len(LOST)
    assert any("ends inside its last chunk" in n for n in rec.notes)


def test_corrupt_length_in_the_middle_is_an_error(xdf_file, tmp_path):
    data = bytearray(xdf_file.read_bytes())
    data[4] = 3  # the FileHeader's length field width
    bad = tmp_path / "bad.xdf"
    bad.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="byte 4"):
        read_xdf(bad)


def test_bad_magic(tmp_path):
    p = tmp_path / "x.xdf"
    p.write_bytes(b"XDX:" + b"\x00" * 20)
    with pytest.raises(FormatError, match="not an XDF file"):
        read_xdf(p)


def test_only_markers_is_an_error_listing_the_streams(tmp_path):
    p = tmp_path / "m.xdf"
    write_xdf(p, [make_streams()[2]])
    with pytest.raises(FormatError, match="no regular numeric stream.*'Task' \\(type 'Markers'\\)"):
        read_xdf(p)


def test_bunched_stamps_and_samples_without_timestamps(tmp_path):
    n = 600
    # a device pushing chunks of ten samples under one stamp (that of the chunk's last sample),
    # with one whole chunk run lost (samples 200..229)
    bunched = 50.0 + np.repeat(np.arange(n // 10) * 10 / 250.0, 10) + 9 / 250.0
    keep = np.ones(n, dtype=bool)
    keep[200:230] = False
    # an int16 stream whose samples after the first carry no timestamp: previous + 1/rate
    bare = np.full(n, np.nan)
    bare[0] = 50.0
    streams = [
        {
            "name": "Chunky",
            "type": "EEG",
            "channel_format": "float32",
            "nominal_srate": 250.0,
            "timestamps": bunched[keep],
            "values": np.arange(n)[keep, None].astype(np.float32),
        },
        {
            "name": "ExG",
            "type": "EXG",
            "channel_format": "int16",
            "nominal_srate": 250.0,
            "labels": ["ch1", "ch2"],
            "timestamps": bare,
            "values": np.stack([np.arange(n), -np.arange(n)], axis=1).astype(np.int16),
        },
    ]
    p = tmp_path / "i.xdf"
    write_xdf(p, streams)
    rec = read_xdf(p)
    chunky, ch1, ch2 = rec.channels
    assert chunky.label == "Chunky 1"
    np.testing.assert_array_equal(chunky.sample_index, np.flatnonzero(keep))
    np.testing.assert_array_equal(ch1.sample_index, np.arange(n))
    np.testing.assert_array_equal(ch2.values, -np.arange(n))
    assert ch1.kind == "other" and ch1.n_lost == 0
    ref = {s["info"]["name"][0]: s for s in pyxdf.load_xdf(str(p), dejitter_timestamps=False)[0]}
    np.testing.assert_allclose(ref["ExG"]["time_stamps"], 50.0 + np.arange(n) / 250.0)
    assert ch1.times_s()[-1] == pytest.approx((n - 1) / 250.0 + ch1.t0_s)


def test_a_device_clock_off_its_declared_rate_stays_with_the_markers(tmp_path):
    """Declared 256 Hz, sampled at 256.128 Hz (500 ppm fast) for 10 minutes: timed by the
    declared rate the last samples would sit 0.3 s away from a marker at the same instant."""
    true_rate = 256.0 * (1 + 500e-6)
    n = int(600 * true_rate)
    t = 50.0 + np.arange(n) / true_rate
    path = tmp_path / "fast.xdf"
    write_xdf(
        path,
        [
            {
                "name": "Amp",
                "type": "ECG",
                "channel_format": "float32",
                "nominal_srate": 256.0,
                "labels": ["ECG"],
                "units": ["mV"],
                "timestamps": t,
                "values": np.zeros((n, 1), np.float32),
            },
            {
                "name": "Events",
                "type": "Markers",
                "channel_format": "string",
                "nominal_srate": 0.0,
                "labels": ["Event"],
                "units": [""],
                "timestamps": np.array([t[-1]]),
                "values": ["last sample"],
            },
        ],
    )
    rec = read_xdf(path)
    (ecg,) = rec.channels
    assert ecg.rate_hz == pytest.approx(true_rate, rel=1e-7)
    assert ecg.times_s()[-1] == pytest.approx(rec.annotations[0].onset_s, abs=1e-3)
    assert any("+500 ppm" in note for note in rec.notes)


def test_clock_reset_of_the_sending_machine(tmp_path):
    # LSL's clock restarts when the sending machine reboots: its timestamps and the clock
    # offsets' collection times jump back (as in xdf-modules' example clock_resets.xdf). Each
    # part must be corrected with its own offsets, not sorted and fitted as one.
    rate = 100.0
    k = np.arange(2000)
    host = 5000.0 + k / rate  # the recording machine's time of each sample
    # the sender's clock, reset at k = 1000
    local = np.where(k < 1000, host - 4000.0, host - 4990.0)
    ecg = {
        "name": "ECGhost",
        "type": "ECG",
        "channel_format": "float32",
        "nominal_srate": rate,
        "labels": ["ECG"],
        "units": ["mV"],
        "timestamps": local,
        "values": np.sin(k / 10.0).astype(np.float32)[:, None],
        "clock_offsets": [(1000.0 + 2 * i, 4000.0) for i in range(5)]
        + [(12.0 + 2 * i, 4990.0) for i in range(5)],
    }
    markers = {
        "name": "Task",
        "type": "Markers",
        "channel_format": "string",
        "nominal_srate": 0.0,
        "timestamps": [5004.0, 5015.0],  # the recording machine's own clock
        "values": ["before", "after"],
        "clock_offsets": [(5000.0, 0.0)],
    }
    path = tmp_path / "reset.xdf"
    write_xdf(path, [ecg, markers])
    rec = read_xdf(path)
    (ch,) = rec.channels
    assert ch.rate_hz == pytest.approx(rate)
    assert ch.n_lost == 0
    np.testing.assert_array_equal(ch.sample_index, k)
    np.testing.assert_allclose(ch.values, np.sin(k / 10.0).astype(np.float32))  # not reordered
    assert ch.t0_s == pytest.approx(0.0, abs=1e-6)
    assert [a.onset_s for a in rec.annotations] == pytest.approx([4.0, 15.0], abs=1e-6)
    assert any("clock was reset" in n for n in rec.notes)
    assert not any("sorted" in n for n in rec.notes)
