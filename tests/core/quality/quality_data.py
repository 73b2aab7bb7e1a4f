"""A short simulated session with known faults, for the data-quality summary, panel and report.

20 s, virtual clock: the sensor loses packets 60–99 (samples 2400–3999, 3.0–5.0 s: one gap of
1600 samples); the camera (10 frames/s, 160 × 120) drops frames 5 and 6. Device events go in
through :meth:`RecordingSession.on_device_event`, as a BLE sensor and a camera send them:
connected with 80 % battery; link lost at 3.0 s and back at 5.0 s; lost again at 16.0 s and not
back (an outage to the end, 20.0 s); battery 78 % at 10.0 s; camera lost at 19.5 s; one decoder
error; the driver's counts at stop with 3 bad CRCs, 2 malformed and 1 duplicate packet.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.catalog import Catalog, SessionRecord
from core.clock import VirtualClock
from core.config import Settings
from core.recording.session import RecordingSession
from core.simulation.scenario import preset
from core.types import DeviceEvent
from devices.simulated.camera import SimulatedCamera
from devices.simulated.sensor import SimulatedSensor

S = 1_000_000_000
DURATION_S = 20.0
SETTINGS = Settings(camera_width=160, camera_height=120, camera_fps=10)
STATS = {
    "notifications": 400,
    "batches": 360,
    "samples": 14400,
    "lost_samples": 1600,
    "malformed": 2,
    "crc_errors": 3,
    "duplicates": 1,
    "out_of_order": 0,
    "timebase_resets": 0,
    "disconnects": 2,
    "reconnects": 1,
    "handler_errors": 0,
}
#: (time s, kind, detail) of the injected events
EVENTS: list[tuple[float, str, dict[str, object]]] = [
    (
        0.0,
        "sensor_connected",
        {"address": "E8:31:CD:00:00:01", "profile": "sim", "battery_percent": 80},
    ),
    (3.0, "disconnected", {"address": "E8:31:CD:00:00:01", "auto_reconnect": True}),
    (5.0, "reconnected", {"address": "E8:31:CD:00:00:01", "attempts": 2, "down_s": 2.0}),
    (10.0, "battery", {"percent": 78}),
    (12.0, "error", {"error": "decoder: ValueError: bad frame"}),
    (16.0, "disconnected", {"address": "E8:31:CD:00:00:01", "auto_reconnect": True}),
    (19.5, "camera_lost", {"source": "0", "frames": 195}),
    (20.0, "sensor_stats", STATS),
]


def record_with_faults(
    catalog: Catalog, data_root: Path, patient_id: int, events: bool = True
) -> SessionRecord:
    """Record the session described above (``events=False``: the same data, no device events)."""
    clock = VirtualClock()
    sc = preset("anxious_to_calm", DURATION_S)
    sensor = SimulatedSensor(sc, seed=5, clock=clock, drop_packets=range(60, 100))
    camera = SimulatedCamera(sc, clock, fps=10, width=160, height=120, seed=5, drop_frames=[5, 6])
    s = RecordingSession.start(
        catalog,
        data_root,
        patient_id,
        sensor,
        camera,
        consent=True,
        settings=SETTINGS,
        clock=clock,
        virtual=True,
    )
    todo = list(EVENTS) if events else []
    for k in range(0, int(DURATION_S * 10) + 1):
        t = s.t0_ns + k * S // 10
        s.advance(t)
        while todo and todo[0][0] * S <= k * S // 10:
            at, kind, detail = todo.pop(0)
            s.on_device_event(DeviceEvent(kind, s.t0_ns + int(at * S), dict(detail)))
        if k == 67:
            s.add_marker("treatment_start", t_s=DURATION_S / 3)
        if k == 134:
            s.add_marker("treatment_end", t_s=2 * DURATION_S / 3)
    return s.stop()


@pytest.fixture(scope="module", name="recorded")
def recorded_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with two sessions with faults: with device events, and without."""
    root = tmp_path_factory.mktemp("quality")
    cat = Catalog.open(root / "catalog.sqlite")
    p = cat.add_patient("Q-0001")
    record_with_faults(cat, root, p.id)
    record_with_faults(cat, root, p.id, events=False)
    cat.close()
    return root


@pytest.fixture(name="store")
def store_fixture(recorded: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """(catalog, data root, [with events, without]) on a fresh copy of the recordings."""
    root = tmp_path / "data"
    shutil.copytree(recorded, root)
    cat = Catalog.open(root / "catalog.sqlite")
    yield cat, root, sorted(cat.list_sessions(), key=lambda r: r.id)
    cat.close()
