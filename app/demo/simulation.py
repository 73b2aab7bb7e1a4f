"""Simulated sessions: the device pair for demo mode and headless simulated recording.

Everything here goes through the real path: the simulated sensor's stream-format-v1 packets are
decoded by the same decoder as a real sensor's, and the recorder writes the same files.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.catalog import Catalog, SessionRecord
from core.clock import Clock, MonotonicClock, VirtualClock
from core.config import Settings, session_seconds
from core.recording.session import RecordingSession
from core.recording.sources import DeviceFactory, DeviceSet
from core.simulation.scenario import Scenario, preset
from devices.simulated.camera import SimulatedCamera
from devices.simulated.sensor import SimulatedSensor

Progress = Callable[[float], None]


class Cancelled(Exception):
    """A simulated recording was cancelled; its partial session was removed."""


def make_devices(
    scenario: Scenario,
    clock: Clock,
    settings: Settings,
    seed: int = 0,
    drop_prob: float = 0.0,
) -> tuple[SimulatedSensor, SimulatedCamera | None, dict[str, Any]]:
    """A simulated sensor and camera following ``scenario``, and the truth to store with them.

    Raises
    ------
    ValueError — ``drop_prob`` is not a probability from 0 to below 1
    """
    if not 0.0 <= drop_prob < 1.0:  # NaN fails the comparison too
        raise ValueError(f"The packet loss is a probability from 0 to below 1, not {drop_prob!r}")
    sensor = SimulatedSensor(
        scenario, rate_hz=settings.bio_rate_hz, seed=seed, clock=clock, drop_prob=drop_prob
    )
    camera = None
    if settings.camera_fps > 0:
        camera = SimulatedCamera(
            scenario,
            clock,
            fps=settings.camera_fps,
            width=settings.camera_width,
            height=settings.camera_height,
            seed=seed,
        )
    truth = {"scenario": scenario.to_dict(), "seed": seed, "drop_prob": drop_prob}
    return sensor, camera, truth


def simulated_device_factory(settings: Settings, duration_s: float = 3600.0) -> DeviceFactory:
    """For the GUI's live recording (real time): ``factory(scenario_name, seed)``.

    The scenario is stretched over ``duration_s`` (s), an expected session length: the live course
    then unfolds at a therapy session's pace, whenever the therapist stops.

    Raises
    ------
    ValueError — ``duration_s`` is not finite or out of :func:`core.config.session_seconds`'s
        range
    """
    session_seconds(duration_s)

    def factory(scenario_name: str, seed: int) -> DeviceSet:
        sc = preset(scenario_name, duration_s)
        sensor, camera, truth = make_devices(sc, MonotonicClock(), settings, seed)
        return DeviceSet(sensor, camera, truth)

    return factory


def sensor_truth(sensor: SimulatedSensor) -> dict[str, Any]:
    """What the simulator knows and the recorder must not: its drops and its true clock."""
    return {
        "dropped_packets": [list(d) for d in sensor.dropped],
        "drift_ppm": sensor.drift_ppm,
        "true_rate": sensor.true_rate_hz,
    }


def record_simulated(
    catalog: Catalog,
    data_root: Path,
    patient_id: int,
    duration_s: float,
    *,
    scenario: str = "anxious_to_calm",
    seed: int = 0,
    virtual: bool = True,
    settings: Settings | None = None,
    drop_prob: float = 0.0,
    progress: Progress | None = None,
    consent_note: str = "simulated session",
    with_markers: bool = False,
    step_s: float = 0.1,
    cancel: Callable[[], bool] | None = None,
) -> SessionRecord:
    """Record a simulated session through the real recorder.

    Parameters
    ----------
    duration_s : float — session length (s)
    virtual : bool — virtual clock (faster than real time) or real time
    with_markers : bool — add "treatment start"/"treatment end" at one and two thirds
    step_s : float — virtual-clock step (s)
    cancel : callable, optional — polled every step; when it returns True the partial session
        is stopped, removed (it is simulated: nothing real is lost) and :class:`Cancelled` raised

    Raises
    ------
    ValueError — before anything is recorded: ``duration_s`` not finite or out of
        :func:`core.config.session_seconds`'s range (1 s to 24 h), ``step_s`` not a positive
        finite number of seconds, or ``drop_prob`` not from 0 to below 1
    Cancelled — ``cancel`` said so
    """
    duration_s = session_seconds(duration_s)
    if not (math.isfinite(step_s) and step_s > 0.0):
        raise ValueError(f"The simulation step is a positive number of seconds, not {step_s!r}")
    settings = settings or Settings()
    clock: Clock = VirtualClock() if virtual else MonotonicClock()
    sc = preset(scenario, duration_s)
    sensor, camera, truth = make_devices(sc, clock, settings, seed, drop_prob)
    session = RecordingSession.start(
        catalog,
        data_root,
        patient_id,
        sensor,
        camera,
        consent=True,
        consent_note=consent_note,
        settings=settings,
        clock=clock,
        virtual=virtual,
        simulation=truth,
    )
    marks = [(duration_s / 3, "treatment_start"), (2 * duration_s / 3, "treatment_end")]
    marks = marks if with_markers else []
    cancelled = False
    try:
        t0 = session.t0_ns
        end = t0 + int(duration_s * 1e9)
        t = t0
        while t < end:
            if cancel is not None and cancel():
                cancelled = True
                break
            t = min(end, t + int(step_s * 1e9))
            if virtual:
                session.advance(t)
            else:
                time.sleep(max(0.0, (t - clock.now_ns()) / 1e9))
            while marks and (t - t0) / 1e9 >= marks[0][0]:
                at, kind = marks.pop(0)
                session.add_marker(kind, t_s=at)
            if progress is not None:
                progress((t - t0) / (end - t0))
    finally:
        rec = session.stop(simulation_truth=lambda: sensor_truth(sensor))
    if cancelled:
        remove_session(catalog, data_root, rec)
        raise Cancelled(f"simulated session {rec.uid} cancelled")
    return rec


def remove_session(catalog: Catalog, data_root: Path, rec: SessionRecord) -> None:
    """Delete a (simulated) session: its catalog row and its folder."""
    import shutil

    catalog.delete_session(rec.id)
    shutil.rmtree(data_root / rec.folder, ignore_errors=True)
