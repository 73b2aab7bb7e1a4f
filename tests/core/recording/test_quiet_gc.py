"""A live recording keeps the garbage collector's full passes short (they stalled the camera
thread for up to 134 ms: 8 frames at 60 fps); it hands everything back when it stops."""

from __future__ import annotations

import gc

import pytest

from core.catalog import Catalog
from core.clock import VirtualClock
from core.recording import quiet_gc
from core.recording.session import RecordingSession
from core.simulation.scenario import preset
from devices.simulated.sensor import SimulatedSensor


@pytest.fixture
def cat(tmp_path):
    c = Catalog.open(tmp_path / "catalog.sqlite")
    yield c
    c.close()
    gc.unfreeze()  # whatever a failing test left frozen


def live(cat: Catalog, tmp_path, patient_id: int) -> RecordingSession:
    sensor = SimulatedSensor(preset(duration_s=60), seed=1)  # real time, own thread
    return RecordingSession.start(cat, tmp_path, patient_id, sensor, None, consent=True)


def test_objects_alive_at_start_are_frozen_until_the_last_live_recording_stops(cat, tmp_path):
    p = cat.add_patient("GC-1")
    assert gc.get_freeze_count() == 0
    first = live(cat, tmp_path, p.id)
    frozen = gc.get_freeze_count()
    assert frozen > 1000  # torch-free test process: still thousands of objects
    second = live(cat, tmp_path, p.id)  # two at once: nothing collected or frozen again
    assert quiet_gc.live_recordings() == 2
    first.stop()
    assert gc.get_freeze_count() > frozen // 2  # the second one still records
    second.stop()
    assert gc.get_freeze_count() == 0 and quiet_gc.live_recordings() == 0
    assert second.stop() is second.record  # stopping twice hands nothing back twice
    assert quiet_gc.live_recordings() == 0


def test_virtual_sessions_leave_the_collector_alone(cat, tmp_path):
    p = cat.add_patient("GC-2")
    clock = VirtualClock()
    sensor = SimulatedSensor(preset(duration_s=5), seed=2, clock=clock)
    s = RecordingSession.start(
        cat, tmp_path, p.id, sensor, None, consent=True, clock=clock, virtual=True
    )
    assert gc.get_freeze_count() == 0 and quiet_gc.live_recordings() == 0
    s.advance(s.t0_ns + 500_000_000)
    s.stop()


def test_a_start_that_fails_hands_the_objects_back(cat, tmp_path):
    p = cat.add_patient("GC-3")

    class Broken(SimulatedSensor):
        def start(self, on_batch, on_event):  # type: ignore[no-untyped-def]
            raise OSError("sensor refused to start")

    with pytest.raises(OSError, match="refused"):
        RecordingSession.start(
            cat, tmp_path, p.id, Broken(preset(duration_s=5)), None, consent=True
        )
    assert gc.get_freeze_count() == 0 and quiet_gc.live_recordings() == 0
    with pytest.raises(PermissionError):
        RecordingSession.start(cat, tmp_path, p.id, None, None, consent=False)
    assert quiet_gc.live_recordings() == 0
