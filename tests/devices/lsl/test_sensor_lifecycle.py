"""LslSensor's start and stop against the inlet thread, on real pylsl outlets in this process
(loopback, machine-only configuration): one inlet at a time, every inlet opened is closed, and
nothing is delivered after stop(); and the host ↔ LSL clock pairing (one per process, taken right
after the host clock ticks).

pylsl's ``StreamInlet`` is replaced by a subclass that counts the inlets opened and closed; the
inlets themselves are liblsl's."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from core.clock import MonotonicClock
from core.types import DeviceEvent, SampleBatch
from devices.lsl.channels import ChannelError
from devices.lsl.config import clock_offset_ns, load_pylsl
from devices.lsl.markers import MarkerOutlet
from devices.lsl.sensor import LslSensor, ReconnectPolicy
from devices.timebase import pair_clocks

pylsl = load_pylsl()


class Inlets:
    """Every inlet the sensor opens, and which were closed."""

    def __init__(self) -> None:
        self.opened: list[Any] = []
        self.closed: set[int] = set()
        self.hold_open = threading.Event()  # set: open_stream waits on `release`
        self.release = threading.Event()
        self.in_open = threading.Event()

    def open_now(self) -> int:
        return len(self.opened) - len(self.closed)


@pytest.fixture
def inlets(monkeypatch: pytest.MonkeyPatch) -> Inlets:
    book = Inlets()

    class CountedInlet(pylsl.StreamInlet):  # type: ignore[misc, name-defined]
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            book.opened.append(self)

        def open_stream(self, timeout: float = 32000000.0) -> None:
            if book.hold_open.is_set():  # a liblsl call that takes its time
                book.in_open.set()
                book.release.wait(10.0)
            super().open_stream(timeout)

        def close_stream(self) -> None:
            book.closed.add(id(self))
            super().close_stream()

    monkeypatch.setattr(pylsl, "StreamInlet", CountedInlet)
    return book


class Pusher:
    """An in-process ECG outlet pushing 10-sample chunks at 500 Hz until closed."""

    def __init__(self, source_id: str, channels: tuple[str, ...] = ("ECG",)) -> None:
        info = pylsl.StreamInfo("lifecycle", "ECG", len(channels), 500.0, "float32", source_id)
        chans = info.desc().append_child("channels")
        for label in channels:
            c = chans.append_child("channel")
            c.append_child_value("label", label)
            c.append_child_value("unit", "mV")
        self.outlet = pylsl.StreamOutlet(info)
        self.n = len(channels)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.outlet.push_chunk(np.zeros((10, self.n), dtype=np.float32))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        del self.outlet


@pytest.fixture
def pushers() -> Iterator[list[Pusher]]:
    made: list[Pusher] = []
    yield made
    for p in made:
        if not p._stop.is_set():
            p.close()


def _wait(pred: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_start_during_a_reconnect_opens_no_second_inlet(
    inlets: Inlets, pushers: list[Pusher]
) -> None:
    sid = f"lifecycle-{time.monotonic_ns()}"
    pushers.append(Pusher(sid))
    sensor = LslSensor(
        sid, policy=ReconnectPolicy(first_delay_s=0.05, max_delay_s=0.2, resolve_s=0.3)
    )
    preview: list[SampleBatch] = []
    sensor.preview(preview.append)  # the set-up's test: the inlet thread runs
    _wait(lambda: len(preview) > 0)
    pushers[0].close()  # the outlet goes: the thread looks for it again
    _wait(lambda: sensor.link_state == "reconnecting")
    got: list[SampleBatch] = []
    events: list[DeviceEvent] = []
    sensor.start(got.append, events.append)  # the session starts while it looks
    assert events[0].kind == "sensor_connected"
    pushers.append(Pusher(sid))  # the outlet is back
    _wait(lambda: sensor.link_state == "connected" and len(got) > 0)
    assert inlets.open_now() == 1  # the thread's inlet only
    sensor.stop()
    assert len(inlets.opened) == 2 and inlets.open_now() == 0  # none leaked
    assert [e.kind for e in events][-2:] == ["reconnected", "sensor_stats"]


def test_an_inlet_whose_channels_are_refused_is_closed(
    inlets: Inlets, pushers: list[Pusher]
) -> None:
    sid = f"lifecycle-eeg-{time.monotonic_ns()}"
    pushers.append(Pusher(sid, channels=("Fz", "Cz")))
    sensor = LslSensor(sid)
    with pytest.raises(ChannelError, match="no ECG or EDA"):
        sensor.connect()
    assert len(inlets.opened) == 1 and inlets.open_now() == 0


def test_stop_while_the_thread_opens_an_inlet_leaves_nothing_behind(
    inlets: Inlets, pushers: list[Pusher]
) -> None:
    sid = f"lifecycle-stop-{time.monotonic_ns()}"
    pushers.append(Pusher(sid))
    sensor = LslSensor(
        sid, policy=ReconnectPolicy(first_delay_s=0.05, max_delay_s=0.2, resolve_s=0.3)
    )
    sensor.stop_join_s = 0.2  # stop() stops waiting while liblsl still opens the stream
    sensor.connect()
    got: list[SampleBatch] = []
    events: list[DeviceEvent] = []
    sensor.start(got.append, events.append)
    _wait(lambda: len(got) > 0)
    inlets.hold_open.set()
    pushers[0].close()
    pushers.append(Pusher(sid))  # the stream comes back; the thread is inside open_stream
    assert inlets.in_open.wait(10.0)
    sensor.stop()
    n_batches, n_events = len(got), len(events)
    assert events[-1].kind == "sensor_stats"
    inlets.release.set()  # liblsl returns: the late inlet is closed, not kept or delivered from
    _wait(lambda: inlets.open_now() == 0)
    assert sensor._thread is not None
    sensor._thread.join(5.0)
    time.sleep(0.2)
    assert len(got) == n_batches and len(events) == n_events  # nothing after stop()
    assert len(inlets.opened) == 2


def test_clocks_are_paired_right_after_the_host_clock_ticks() -> None:
    # a host clock that ticks every 15.625 ms (time.monotonic_ns on Windows before 3.13) against
    # a fine clock 123.456789 ms behind the true time: a reading at a random moment lags by up to
    # a tick, the pairing after the tick by the time the fine reading takes
    tick = 15_625_000

    def coarse() -> int:
        return time.perf_counter_ns() // tick * tick

    def fine() -> int:
        return time.perf_counter_ns() - 123_456_789

    for _ in range(3):
        assert abs(pair_clocks(coarse, fine) - 123_456_789) < 2_000_000  # not up to 15.6 ms


def test_one_host_lsl_pairing_per_process_shared_by_inlets_and_markers(
    inlets: Inlets, pushers: list[Pusher]
) -> None:
    sid = f"lifecycle-offset-{time.monotonic_ns()}"
    pushers.append(Pusher(sid))
    sensor = LslSensor(sid)
    sensor.connect()
    outlet = MarkerOutlet("offset-test", time.monotonic_ns())
    try:
        assert sensor.clock_offset_ns == outlet._offset_ns == clock_offset_ns(MonotonicClock())
        # the pairing holds: LSL's clock now, mapped to the host, is the host's now
        lsl_now = int(round(pylsl.local_clock() * 1e9))
        assert abs(lsl_now + sensor.clock_offset_ns - time.monotonic_ns()) < 10_000_000
    finally:
        outlet.close()
        sensor.stop()
