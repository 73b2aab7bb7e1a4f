"""Faults during recording: a bad item, a sensor that stops, a disk that fails at stop."""

from __future__ import annotations

import datetime as dt
import errno

import numpy as np
import pytest

from core.catalog import Catalog
from core.clock import VirtualClock
from core.recording.lock import is_recording_live
from core.recording.recorder import Recorder
from core.recording.recovery import recover_unfinished
from core.recording.session import RecordingSession
from core.simulation.scenario import preset
from core.types import Frame, SampleBatch, StreamInfo
from devices.simulated.sensor import SimulatedSensor

INFO = StreamInfo(0, "bio", ("ECG", "EDA"), ("mV", "uS"), 800.0)


def _batch(i: int, t_ns: int) -> SampleBatch:
    return SampleBatch(0, i * 40, np.zeros((40, 2), np.float32), t_ns)


def test_a_bad_item_is_counted_and_recording_goes_on(tmp_path):
    clock = VirtualClock()
    rec = Recorder(tmp_path, [INFO], clock, clock.now_ns(), threaded=True)
    for i in range(10):
        rec.on_batch(_batch(i, clock.now_ns()))
    rec.on_frame(Frame(0, clock.now_ns(), np.zeros((0, 0, 3), np.uint8)))  # cv2 cannot encode
    rec.on_batch(SampleBatch(0, 400, np.zeros((40, 3), np.float32), clock.now_ns()))  # bad shape
    for i in range(11, 51):
        rec.on_batch(_batch(i, clock.now_ns()))
    rec.close()
    st = rec.stats()
    assert st.item_errors == 2 and st.frames_not_stored == 1
    assert st.streams["bio"].not_stored == 40
    assert st.streams["bio"].received == 50 * 40  # everything after the bad items was stored
    assert st.error is None


def test_rates_fall_to_zero_when_data_stop(tmp_path):
    clock = VirtualClock()
    t0 = clock.now_ns()
    rec = Recorder(tmp_path, [INFO], clock, t0, record_video=False, threaded=False)
    for i in range(80):  # 4 s at 800 Hz
        t = t0 + int((i + 1) * 0.05e9)
        clock.advance_to(t)
        rec.on_batch(_batch(i, t))
        rec.process_pending()
    assert rec.stats().streams["bio"].achieved_rate_hz == pytest.approx(800, rel=0.05)
    clock.advance_to(clock.now_ns() + 3_000_000_000)  # the sensor went silent
    assert rec.stats().streams["bio"].achieved_rate_hz == 0.0
    rec.close()


def test_finalising_on_a_full_disk_fails_clearly_then_recovers(tmp_path, monkeypatch):
    import core.recording.session as session_mod

    cat = Catalog.open(tmp_path / "catalog.sqlite")
    pid = cat.add_patient("F-01").id
    clock = VirtualClock()
    sensor = SimulatedSensor(preset(duration_s=10), seed=4, clock=clock)
    s = RecordingSession.start(
        cat, tmp_path, pid, sensor, None, consent=True, clock=clock, virtual=True
    )
    for k in range(1, 51):
        s.advance(s.t0_ns + k * 100_000_000)
    real = session_mod.write_json_atomic

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(session_mod, "write_json_atomic", full)
    with pytest.raises(RuntimeError, match="recovers it at the next start"):
        s.stop()
    assert not is_recording_live(s.folder)  # the lock is released all the same
    assert cat.get_session(s.record.id).status == "recording"
    monkeypatch.setattr(session_mod, "write_json_atomic", real)
    res = recover_unfinished(cat, tmp_path)
    assert [r["status"] for r in res] == ["recovered"]
    rec = cat.get_session(s.record.id)
    assert rec.quality["streams"]["bio"]["received"] > 3500
    # a recovered session ends when its data end, not when it was recovered
    start = dt.datetime.fromisoformat(rec.started_at)
    end = dt.datetime.fromisoformat(rec.ended_at)
    assert (end - start).total_seconds() == pytest.approx(rec.duration_s, abs=1.0)


def test_demo_build_cancels_cleanly_and_resumes(tmp_path):
    from app.demo.patient import DEMO_CODE, ensure_demo_patient
    from app.demo.simulation import Cancelled

    cat = Catalog.open(tmp_path / "catalog.sqlite")
    plan = (("anxious_to_calm", 0.05, 1, 0.0), ("anxious_to_calm", 0.05, 2, 0.0))
    polls = [0]

    def cancel() -> bool:
        polls[0] += 1
        return polls[0] > 40  # 30 polls a session: during the second one

    with pytest.raises(Cancelled):
        ensure_demo_patient(cat, tmp_path, sessions=plan, cancel=cancel)
    demo = cat.patient_by_code(DEMO_CODE)
    kept = cat.list_sessions(patient_id=demo.id)
    assert [s.status for s in kept] == ["finalised"]  # the partial second one was removed
    assert [p.name for p in (tmp_path / "sessions").iterdir()] == [kept[0].uid]
    ensure_demo_patient(cat, tmp_path, sessions=plan)
    assert [s.status for s in cat.list_sessions(patient_id=demo.id)] == ["finalised"] * 2


def test_the_rate_meters_keep_only_their_window_when_nobody_reads_them() -> None:
    """A headless recording (nobody asks for stats) must not grow memory with every batch."""
    from core.recording.recorder import _RateMeter

    m = _RateMeter(0, window_s=2.0)
    for i in range(200_000):  # 100 s of 2 kHz events
        m.add(i * 500_000, 1)
    assert len(m._ev) <= 4001
    assert m.rate_hz(200_000 * 500_000) == pytest.approx(2000.0, rel=0.01)
