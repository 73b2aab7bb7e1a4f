"""The device seam: the simulated and the real devices satisfy the one BioSensor and Camera
protocol (core.recording.sources), and answer its optional parts without any probing."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.demo.simulation import simulated_device_factory
from core.clock import VirtualClock
from core.config import Settings
from core.recording.sources import BatchSink, BioSensor, Camera, DeviceSet, EventSink
from core.simulation.scenario import preset
from core.types import StreamInfo
from devices.ble.profiles import make_driver
from devices.ble.sensor import BleSensor
from devices.ble.transport import BleTransport
from devices.camera import OpenCVCamera
from devices.simulated.camera import SimulatedCamera
from devices.simulated.sensor import SimulatedSensor


def test_simulated_devices_satisfy_the_protocols() -> None:
    clock = VirtualClock()
    sensor = SimulatedSensor(seed=1, clock=clock)
    camera = SimulatedCamera(preset("neutral", 60.0), clock, fps=10.0, width=160, height=120)
    assert isinstance(sensor, BioSensor) and not isinstance(sensor, Camera)
    assert isinstance(camera, Camera) and not isinstance(camera, BioSensor)
    # the optional parts: no link, no battery, no test mode of its own; nothing to open
    assert sensor.link_state is None and sensor.battery_percent is None
    assert sensor.reconnects == 0 and sensor.stats() == {}
    with pytest.raises(TypeError):
        sensor.preview(None)
    assert camera.open() == {} and camera.negotiated == {} and camera.measured_fps is None
    assert camera.requested == {"fps": 10.0, "width": 160, "height": 120}
    # and what is stored with a session is unchanged by the seam
    assert camera.describe()["fps"] == 10.0 and sensor.describe()["simulated"] is True


def test_real_devices_satisfy_the_protocols(tmp_path: Path) -> None:
    transport = BleTransport()  # its thread starts only on first use
    sensor = BleSensor("C4:7C:8D:6A:7B:8C", make_driver("polar_h10"), transport=transport)
    camera = OpenCVCamera(str(tmp_path / "none.avi"), fps=30.0, width=320, height=240)
    try:
        assert isinstance(sensor, BioSensor) and isinstance(camera, Camera)
        assert sensor.link_state == "idle" and sensor.reconnects == 0  # not connected yet
        assert sensor.stats()["reconnects"] == 0
        assert camera.requested == {"fps": 30.0, "width": 320, "height": 240}
        assert camera.negotiated == {} and camera.measured_fps is None
        with pytest.raises(OSError):
            camera.open()
    finally:
        camera.stop()
        sensor.stop()
        transport.stop()


def test_a_device_is_recognised_by_its_members_not_its_base() -> None:
    """The protocols are structural: a class with the members is a sensor, whatever its base."""

    class Bare:
        name = "bare"
        simulated = True
        streams: list[StreamInfo] = []
        link_state = None
        battery_percent = None
        reconnects = 0

        def stats(self) -> dict[str, int]:
            return {}

        def preview(self, on_batch: BatchSink | None) -> None: ...
        def start(self, on_batch: BatchSink, on_event: EventSink) -> None: ...
        def stop(self) -> None: ...
        def pump(self, until_ns: int) -> None: ...
        def describe(self) -> dict[str, object]:
            return {}

    assert isinstance(Bare(), BioSensor)
    del Bare.reconnects
    assert not isinstance(Bare(), BioSensor)
    assert not isinstance(object(), BioSensor) and not isinstance(object(), Camera)


def test_the_demo_factory_makes_a_device_set() -> None:
    settings = Settings(camera_width=160, camera_height=120)
    made = simulated_device_factory(settings, duration_s=60.0)("neutral", 3)
    assert isinstance(made, DeviceSet)
    sensor, camera, truth = made  # still a (sensor, camera, truth) triple
    assert isinstance(sensor, BioSensor) and isinstance(camera, Camera)
    assert sensor.simulated and camera.simulated and truth is not None and truth["seed"] == 3
    none = simulated_device_factory(Settings(camera_fps=0))("neutral", 3)
    assert none.camera is None
