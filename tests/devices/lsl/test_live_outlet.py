"""A real LSL outlet in another process, on loopback with the machine-only configuration
(``resources/lsl/lsl_api.cfg``): drops and jitter counted exactly, the session's marker stream read
back by an inlet, and a stream that comes back after its outlet restarted."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.catalog import Catalog
from core.config import Settings
from core.recording.reader import open_session
from core.recording.session import RecordingSession
from core.types import DeviceEvent, SampleBatch
from devices.lsl.config import MACHINE_CONFIG, applied_config, load_pylsl
from devices.lsl.markers import publish_session_markers, stream_name
from devices.lsl.sensor import LslSensor, ReconnectPolicy, find_streams
from devices.lsl.synthetic import EDA_WRAP, grid_index

ROOT = Path(__file__).resolve().parents[3]


class Outlet:
    """The synthetic outlet (devices.lsl.synthetic) in a process of its own."""

    def __init__(self, tmp: Path, tag: str, *args: str, wait: bool = True) -> None:
        self.report = tmp / f"{tag}.json"
        cmd = [sys.executable, "-m", "devices.lsl.synthetic", "--report", str(self.report)]
        self.proc = subprocess.Popen(
            [*cmd, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        if wait:
            self.ready()

    def ready(self) -> None:
        """Wait until its outlet is open."""
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    def result(self, timeout: float = 30.0) -> dict[str, Any]:
        self.proc.wait(timeout)
        return json.loads(self.report.read_text())  # type: ignore[no-any-return]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def outlets(tmp_path: Path) -> Iterator[list[Outlet]]:
    made: list[Outlet] = []
    yield made
    for o in made:
        o.kill()


@pytest.fixture
def cat(tmp_path: Path) -> Iterator[Catalog]:
    c = Catalog.open(tmp_path / "catalog.sqlite")
    yield c
    c.close()


def _grid_offsets(batches: list[SampleBatch]) -> set[int]:
    """Counter − grid number (mod EDA_WRAP) of every stored sample: one value when each is in
    its place."""
    out: set[int] = set()
    for b in batches:
        c = np.arange(b.first_counter, b.end_counter)
        out |= set(((c - grid_index(b.samples[:, 1])) % EDA_WRAP).tolist())
    return out


def test_drops_and_jitter_stored_plus_lost_is_sent(tmp_path: Path, outlets: list[Outlet]) -> None:
    # two outlets at once: one sends OpenSignals' nSeq counter, the other only time stamps
    runs = {}
    for counter in (True, False):
        sid = f"drops-{counter}-{time.monotonic_ns()}"
        args = ["--seconds", "1.5", "--source-id", sid, "--drop", "0.08", "--jitter", "0.006"]
        outlets.append(Outlet(tmp_path, sid, *args, *(["--counter"] if counter else [])))
        found = find_streams(5.0, query=sid)
        assert [r.source_id for r in found] == [sid]
        sensor = LslSensor(found[0])
        sensor.connect()
        assert sensor.streams[0].channels == ("ECG", "EDA")
        assert sensor.streams[0].units == ("mV", "uS") and sensor.plan is not None
        assert (sensor.plan.counter is not None) == counter
        got: list[SampleBatch] = []
        events: list[DeviceEvent] = []
        sensor.start(got.append, events.append)
        runs[counter] = (sensor, got, events, outlets[-1])
    assert applied_config() == MACHINE_CONFIG  # loopback only, in every test
    for sensor, got, events, outlet in runs.values():
        rep = outlet.result()
        time.sleep(0.3)
        sensor.stop()
        stored = sum(b.n for b in got)
        # sent: from the first sample the inlet was subscribed for (the outlet waits for a
        # consumer, but one that has just connected may miss what is pushed in that instant)
        first = rep["first"] + int((grid_index(got[0].samples[:1, 1])[0] - rep["first"]) % EDA_WRAP)
        assert first - rep["first"] < 200 and rep["dropped"] > 0
        # up to the last sample the outlet pushed (its final chunk is sent whole)
        assert rep["last_pushed"] == rep["last"]
        assert stored + sensor.stats()["lost_samples"] == rep["last_pushed"] - first + 1
        assert stored <= rep["pushed"] and len(_grid_offsets(got)) == 1  # each in its place
        assert events[0].kind == "sensor_connected" and events[-1].kind == "sensor_stats"


def test_a_stream_whose_outlet_restarts_is_reconnected(
    tmp_path: Path, outlets: list[Outlet]
) -> None:
    # the outlet closes after 0.6 s (the inlet sees the stream lost) and a new outlet with the
    # same source id opens 0.8 s later, its nSeq from 0 again, on the same sample grid
    sid = f"restart-{time.monotonic_ns()}"
    args = ["--source-id", sid, "--counter", "--seconds", "0.6", "--restart-gap", "0.8"]
    outlets.append(Outlet(tmp_path, "restart", *args, "--jitter", "0.004"))
    sensor = LslSensor(
        sid, policy=ReconnectPolicy(first_delay_s=0.1, max_delay_s=0.3, resolve_s=0.5)
    )
    sensor.connect()
    got: list[SampleBatch] = []
    events: list[DeviceEvent] = []
    sensor.start(got.append, events.append)
    first, second = outlets[0].result()["runs"]
    time.sleep(0.3)
    sensor.stop()
    kinds = [e.kind for e in events]
    assert kinds.count("disconnected") >= 1 and "reconnected" in kinds
    assert sensor.reconnects >= 1 and sensor.link_state == "closed"
    stored = sum(b.n for b in got)
    assert stored == first["pushed"] + second["pushed"]
    # the outage is a gap on the grid; the new outlet's samples are placed by time alone, on
    # their own grid positions to within a sample
    gap = second["first"] - first["last"] - 1
    assert gap > 500 and abs(sensor.stats()["lost_samples"] - gap) <= 1
    assert max(_grid_offsets(got)) - min(_grid_offsets(got)) <= 1


def test_session_markers_reach_an_lsl_inlet_on_time(
    tmp_path: Path, outlets: list[Outlet], cat: Catalog
) -> None:
    root = tmp_path
    pylsl = load_pylsl()
    sid = f"markers-{time.monotonic_ns()}"
    outlets.append(Outlet(tmp_path, "m", "--seconds", "1.5", "--source-id", sid, "--counter"))
    sensor = LslSensor(sid)
    sensor.connect()
    patient = cat.add_patient("LSL-7")
    session = RecordingSession.start(
        cat, root, patient.id, sensor, None, consent=True, settings=Settings()
    )
    outlet = publish_session_markers(session)
    assert outlet is not None
    name = stream_name(session.record.uid)
    assert "LSL-7" not in name and session.record.uid in name
    found = pylsl.resolve_bypred(f"name='{name}'", 1, 5.0)
    assert len(found) == 1 and found[0].type() == "Markers"
    inlet = pylsl.StreamInlet(found[0], processing_flags=pylsl.proc_clocksync)
    inlet.open_stream(5.0)
    time.sleep(0.3)
    marks = [session.add_marker("treatment_start"), session.add_marker("note", "calmer now")]
    time.sleep(0.5)
    marks.append(session.add_marker("treatment_end", t_s=session.elapsed_s() - 0.25))
    received = []
    deadline = time.monotonic() + 5.0
    while len(received) < 3 and time.monotonic() < deadline:
        sample, ts = inlet.pull_sample(timeout=0.5)
        if sample is not None:
            received.append((sample[0], ts))
    outlets[0].result()
    rec = session.stop()
    assert [r[0] for r in received] == [f"{m.kind} #{m.id}" for m in marks]
    assert "calmer" not in " ".join(r[0] for r in received)  # a note's text stays in the catalog
    offset_s = sensor.clock_offset_ns / 1e9  # host clock − LSL clock
    for m, (_, ts) in zip(marks, received, strict=True):
        host_s = session.t0_ns / 1e9 + m.t_s
        assert abs((ts + offset_s) - host_s) < 0.002  # within 2 ms of the marker's own time
    data = open_session(root / rec.folder)
    bio = data.streams[sensor.streams[0].name]
    assert bio.n_received > 1000 and bio.info.units == ("mV", "uS")
    assert data.manifest["devices"]["sensor"]["lsl"]["source_id"] == sid


def test_a_real_ecg_streamed_over_lsl_is_stored_sample_for_sample(
    tmp_path: Path, outlets: list[Outlet]
) -> None:
    """Real data over LSL: the BITalino ECG that OpenSignals saved (it ships in
    opensignalsreader), replayed in mV with OpenSignals' nSeq counter by an outlet in another
    process; every stored ECG value equals the file's value at that sample's place."""
    osr = pytest.importorskip("opensignalsreader")
    from core.formats.opensignals import read_opensignals

    sample = Path(osr.__file__).parent / "files" / "SampleECG.txt"
    (ecg_file,) = read_opensignals(sample).of_kind("ecg")[:1]
    sid = f"real-ecg-{time.monotonic_ns()}"
    args = ["--seconds", "1.5", "--source-id", sid, "--counter", "--ecg-file", str(sample)]
    outlets.append(Outlet(tmp_path, sid, *args))
    found = find_streams(5.0, query=sid)
    sensor = LslSensor(found[0])
    sensor.connect()
    assert sensor.streams[0].units == ("mV", "uS")
    got: list[SampleBatch] = []
    sensor.start(got.append, lambda e: None)
    rep = outlets[-1].result()
    time.sleep(0.3)
    sensor.stop()
    samples = np.concatenate([b.samples for b in got])
    # the outlet numbers samples from LSL's clock origin; its EDA carries k mod EDA_WRAP and the
    # replayed ECG is the file's value at k mod len(file): recover k from the first sample
    first = rep["first"] + int((grid_index(samples[:1, 1])[0] - rep["first"]) % EDA_WRAP)
    ks = first + (grid_index(samples[:, 1]) - first) % EDA_WRAP
    want = ecg_file.values[ks % len(ecg_file.values)].astype(np.float32)
    assert len(samples) > 1000 and sensor.stats()["lost_samples"] == 0
    np.testing.assert_array_equal(samples[:, 0].astype(np.float32), want)
    assert np.ptp(samples[:, 0]) > 0.5  # a real ECG with its R peaks, not a flat line (mV)
