"""The recorder through the real path: simulated packets → decoder → recorder → files → reader."""

from __future__ import annotations

import errno
import json

import numpy as np
import pytest

from app.demo.simulation import record_simulated
from core.catalog import Catalog
from core.config import Settings
from core.recording import open_session
from core.recording.bio_store import BioStoreWriter, read_bio_stream, truncate_bio_stream
from core.recording.live import SignalRing
from core.types import SampleBatch, StreamInfo


@pytest.fixture
def cat(tmp_path):
    c = Catalog.open(tmp_path / "catalog.sqlite")
    yield c
    c.close()


@pytest.fixture
def patient(cat):
    return cat.add_patient("T-01")


SMALL = Settings(camera_width=160, camera_height=120)


def test_losses_counted_from_counters_equal_simulator_drops(cat, patient, tmp_path):
    rec = record_simulated(cat, tmp_path, patient.id, 40.0, seed=7, drop_prob=0.02, settings=SMALL)
    data = open_session(tmp_path / rec.folder)
    sim = data.simulation()
    assert sim is not None
    stream = data.streams["bio"]
    first, end = stream.first_counter, stream.end_counter
    # the recorder can only see drops between the first and the last packet it received
    truth = [(c, n) for c, n in sim["dropped_packets"] if c >= first and c + n <= end]
    found = [(g.first_counter, g.n) for g in stream.gaps()]
    assert len(truth) > 5
    assert found == truth
    q = rec.quality["streams"]["bio"]
    assert q["lost"] == sum(n for _, n in truth)
    assert q["received"] + q["lost"] == q["expected"] == end - first
    # every gap is also in the journal, in order
    journal = [json.loads(x) for x in (data.folder / "journal.jsonl").read_text().splitlines()]
    assert [(e["first_counter"], e["n"]) for e in journal if e["event"] == "gap"] == truth
    assert journal[0]["event"] == "start" and journal[-1]["event"] == "stop"


def test_samples_and_frames_correctly_timed(cat, patient, tmp_path):
    rec = record_simulated(cat, tmp_path, patient.id, 20.0, seed=3, settings=SMALL)
    data = open_session(tmp_path / rec.folder)
    ecg = data.signal("ECG")
    # sample spacing is exactly the nominal period (no drift simulated), offset within latency
    assert np.allclose(np.diff(ecg.t_s), 1 / 800, atol=1e-9)
    sim_latency_floor = 0.003 + 0.0075  # base latency + one connection interval
    assert 0.0 <= ecg.t_s[0] <= 1 / 800 + sim_latency_floor
    ft = data.frame_times_s()
    assert len(ft) == 20 * 60 + 1
    assert np.allclose(np.diff(ft), 1 / 60, atol=1e-6)
    assert rec.quality["video"]["dropped"] == 0
    v = data.video()
    assert v is not None and v.read(100).shape == (120, 160, 3)
    assert rec.status == "finalised" and rec.duration_s == pytest.approx(20.0, abs=0.05)


def test_clock_fit_recovers_drift(cat, patient, tmp_path):
    from core.clock import VirtualClock
    from core.recording.session import RecordingSession
    from core.simulation.scenario import preset
    from devices.simulated.sensor import SimulatedSensor

    clock = VirtualClock()
    sensor = SimulatedSensor(preset(duration_s=60), seed=1, clock=clock, drift_ppm=120.0)
    s = RecordingSession.start(
        cat, tmp_path, patient.id, sensor, None, consent=True, clock=clock, virtual=True
    )
    for k in range(1, 601):
        s.advance(s.t0_ns + k * 100_000_000)
    rec = s.stop()
    data = open_session(tmp_path / rec.folder)
    # arrivals are quantised to 7.5 ms connection events: over one minute that bounds the
    # slope to a few ppm; what matters is the sample times, checked below
    assert data.fits["bio"]["drift_ppm"] == pytest.approx(120.0, abs=10.0)
    ecg = data.signal("ECG")
    true_t = np.arange(len(ecg.t_s)) / sensor.true_rate_hz
    err = (ecg.t_s - ecg.t_s[0]) - true_t
    assert np.abs(err).max() < 1e-3  # spacing kept within 1 ms over the minute


def test_consent_required(cat, patient, tmp_path):
    from core.recording.session import RecordingSession

    with pytest.raises(PermissionError):
        RecordingSession.start(cat, tmp_path, patient.id, None, None, consent=False)


def test_markers_stored_in_catalog_and_journal(cat, patient, tmp_path):
    rec = record_simulated(cat, tmp_path, patient.id, 9.0, with_markers=True, settings=SMALL)
    ms = cat.list_markers(rec.id)
    assert [(m.kind, m.t_s) for m in ms] == [("treatment_start", 3.0), ("treatment_end", 6.0)]
    lines = (tmp_path / rec.folder / "journal.jsonl").read_text().splitlines()
    kinds = [json.loads(x).get("marker_kind") for x in lines]
    assert "treatment_start" in kinds and "treatment_end" in kinds


def test_full_disk_keeps_what_was_flushed(cat, patient, tmp_path, monkeypatch):
    from core.clock import VirtualClock
    from core.recording.session import RecordingSession
    from core.simulation.scenario import preset
    from devices.simulated.sensor import SimulatedSensor

    clock = VirtualClock()
    sensor = SimulatedSensor(preset(duration_s=10), seed=2, clock=clock)
    s = RecordingSession.start(
        cat, tmp_path, patient.id, sensor, None, consent=True, clock=clock, virtual=True
    )
    for k in range(1, 31):
        s.advance(s.t0_ns + k * 100_000_000)
    s.recorder.flush()
    stored_before = s.recorder.stats().streams["bio"].received
    writer = s.recorder._bio[0]

    class FullDisk:
        def write(self, b: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):  # flush/fileno/close of the real file
            return getattr(real, name)

    real = writer._data
    writer._data = FullDisk()
    for k in range(31, 61):
        s.advance(s.t0_ns + k * 100_000_000)
    st = s.recorder.stats()
    assert st.error is not None and "No space left" in st.error
    assert st.streams["bio"].not_stored > 0
    writer._data = real
    rec = s.stop()
    assert "No space left" in rec.quality["error"]
    data = open_session(tmp_path / rec.folder)
    assert data.streams["bio"].n_received == stored_before


def test_bio_store_torn_tail_is_ignored_and_truncated(tmp_path):
    info = StreamInfo(0, "bio", ("ECG", "EDA"), ("mV", "uS"), 800.0)
    w = BioStoreWriter(tmp_path, info)
    for i in range(10):
        w.append(SampleBatch(0, i * 40, np.full((40, 2), i, np.float32), 1000 + i))
    w.close()
    data = tmp_path / "bio.f32"
    idx = tmp_path / "bio.idx"
    # a crash mid-write: the last batch's samples half written, an index record torn
    data.write_bytes(data.read_bytes()[: 9 * 320 + 100])
    idx.write_bytes(idx.read_bytes()[:-7])
    s = read_bio_stream(tmp_path, info)
    assert s.n_received == 9 * 40 and len(s.index) == 9
    assert np.all(s.samples[-40:] == 8)
    kept = truncate_bio_stream(tmp_path, info)
    assert kept["samples"] == 360 and data.stat().st_size == 360 * 8


def test_signal_ring_marks_gaps_with_nan():
    r = SignalRing(100.0, 1, seconds=1.0)
    r.write(0, np.ones((30, 1), np.float32))
    r.write(50, np.full((20, 1), 2.0, np.float32))
    c, x = r.snapshot()
    assert c[0] == 0 and c[-1] == 69
    assert np.isnan(x[30:50]).all() and (x[50:] == 2).all()
    r.write(10_000, np.zeros((5, 1), np.float32))  # a long gap wipes the history
    c, x = r.snapshot()
    assert c[-1] == 10_004 and np.isnan(x[:-5]).all()


def test_which_devices_were_simulated_is_read_from_the_manifest() -> None:
    from core.recording.manifest import simulated_devices

    real = {"name": "Polar H10", "simulated": False}
    sim = {"name": "Simulated camera", "simulated": True}
    assert simulated_devices({"devices": {"sensor": real, "camera": sim}}) == "camera"
    assert simulated_devices({"devices": {"sensor": sim, "camera": None}}) == "sensor"
    assert simulated_devices({"devices": {"sensor": sim, "camera": sim}}) == "sensor and camera"
    assert simulated_devices({"devices": {"sensor": real, "camera": None}}) is None
    assert simulated_devices({"simulated": True}) == "sensor and camera"  # an older manifest


def test_device_events_past_the_shown_window_are_counted_never_repeated(cat, patient, tmp_path):
    """A flaky sensor sends more events than the record screen keeps: a caller sees each kept one
    once and can tell how many it missed; the camera's loss stays known after leaving the window;
    every event still becomes a marker."""
    from core.clock import VirtualClock
    from core.recording.session import RecordingSession
    from core.simulation.scenario import preset
    from core.types import DeviceEvent
    from devices.simulated.sensor import SimulatedSensor

    clock = VirtualClock()
    sensor = SimulatedSensor(preset("neutral", 5.0), seed=1, clock=clock)
    s = RecordingSession.start(
        cat,
        tmp_path,
        patient.id,
        sensor,
        None,
        consent=True,
        settings=SMALL,
        clock=clock,
        virtual=True,
    )
    s.on_device_event(DeviceEvent("camera_lost", s.t0_ns + 1000, {"source": "0"}))
    seen, got = s.device_events_since(0)
    assert (seen, [e.kind for e in got]) == (1, ["camera_lost"])
    for i in range(250):
        kind = "disconnected" if i % 2 == 0 else "reconnected"
        s.on_device_event(DeviceEvent(kind, s.t0_ns + 2000 + i, {}))
        if i == 40:
            seen, got = s.device_events_since(seen)
            assert seen == 42 and [e.t_host_ns for e in got] == [
                s.t0_ns + 2000 + k for k in range(41)
            ]
    seen, got = s.device_events_since(seen)
    assert seen == 251
    # 209 came since; the window keeps the last 100 of them, in order (109 missed: 251-42-100)
    assert [e.t_host_ns for e in got] == [s.t0_ns + 2000 + k for k in range(150, 250)]
    assert s.device_events_since(seen) == (251, [])
    assert "camera_lost" not in {e.kind for e in s.device_events}
    assert s.first_device_event_ns["camera_lost"] == s.t0_ns + 1000
    s.advance(s.t0_ns + 5 * 10**9)
    rec = s.stop()
    labels = [m.label for m in cat.list_markers(rec.id)]
    assert labels.count("sensor disconnected") == 125 and labels.count("sensor reconnected") == 125
    assert any(label.startswith("camera lost") for label in labels)


def test_stored_keys_stay_as_first_written(cat, patient, tmp_path):
    # the code calls every sampling rate rate_hz; what is on disk keeps its first names
    rec = record_simulated(cat, tmp_path, patient.id, 3.0, seed=5, settings=SMALL)
    folder = tmp_path / rec.folder
    manifest = json.loads((folder / "session.json").read_text())
    assert manifest["settings"] == SMALL.to_dict() and manifest["settings"]["bio_rate"] == 800.0
    assert "bio_rate_hz" not in manifest["settings"]
    assert [s["rate"] for s in manifest["streams"]] == [800.0]
    assert rec.settings == SMALL.to_dict()
    assert cat.get_session(rec.id).settings["bio_rate"] == 800.0
    assert "true_rate" in json.loads((folder / "simulation.json").read_text())
