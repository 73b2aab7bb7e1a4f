"""A recording session from start to stop: folder, catalog row, recorder, markers, finalisation.

Devices are taken through the :class:`~core.recording.sources.BioSensor` and
:class:`~core.recording.sources.Camera` protocols (which the devices implement), so ``core`` stays
independent of ``devices``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import secrets
import shutil
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from core.catalog import Catalog, Marker, SessionRecord
from core.clinical import SudsRating
from core.clock import Clock, MonotonicClock, fit_counter_clock
from core.config import Settings
from core.recording import quiet_gc
from core.recording.bio_store import read_bio_stream
from core.recording.integrity import INTEGRITY_NAME
from core.recording.lock import RecordingLock
from core.recording.manifest import (
    FORMAT,
    FORMAT_VERSION,
    compute_quality,
    read_manifest,
    seal_session,
    stream_infos,
    write_json_atomic,
)
from core.recording.recorder import Recorder
from core.recording.sources import BioSensor, Camera
from core.security import vault
from core.storage import explain
from core.types import DeviceEvent

log = logging.getLogger(__name__)

MARKER_KINDS = ("treatment_start", "treatment_end", "note")
#: device events that leave a note among the session's markers
DEVICE_EVENT_NOTES = {
    "camera_lost": "camera lost: video stopped, signals go on",
    "disconnected": "sensor disconnected",
    "reconnected": "sensor reconnected",
}
#: device events kept for the record screen
SHOWN_DEVICE_EVENTS = frozenset(
    {*DEVICE_EVENT_NOTES, "error", "timebase_reset", "battery", "sensor_connected"}
)


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def new_session_uid() -> str:
    """A folder-safe, sortable, unique id: UTC start time plus random hex."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)


def sessions_root(data_root: Path) -> Path:
    p = data_root / "sessions"
    p.mkdir(parents=True, exist_ok=True)
    return p


P = ParamSpec("P")
S = TypeVar("S", bound="RecordingSession")


def _keeps_gc_quiet(
    start: Callable[Concatenate[type[S], P], S],
) -> Callable[Concatenate[type[S], P], S]:
    """A live (not ``virtual``) session started by ``start`` keeps the garbage collector quiet
    until it stops; a start that fails hands the collector back at once."""

    @functools.wraps(start)
    def wrapper(cls: type[S], *args: P.args, **kwargs: P.kwargs) -> S:
        if kwargs.get("virtual", False):
            return start(cls, *args, **kwargs)
        quiet_gc.live_recording_started()
        try:
            self = start(cls, *args, **kwargs)
        except BaseException:
            quiet_gc.live_recording_stopped()
            raise
        self._quiet_gc = True
        return self

    return wrapper


class RecordingSession:
    """One live recording. Create with :meth:`start`; end with :meth:`stop`."""

    def __init__(
        self,
        catalog: Catalog,
        data_root: Path,
        record: SessionRecord,
        folder: Path,
        recorder: Recorder,
        sensor: BioSensor | None,
        camera: Camera | None,
        clock: Clock,
        t0_ns: int,
        lock: RecordingLock,
        manifest: dict[str, Any],
        virtual: bool,
    ) -> None:
        self.catalog = catalog
        self.data_root = data_root
        self.record = record
        self.folder = folder
        self.recorder = recorder
        self.sensor = sensor
        self.camera = camera
        self.clock = clock
        self.t0_ns = t0_ns
        self._lock = lock
        self.manifest = manifest
        self.virtual = virtual
        self.stopped = False
        self._quiet_gc = False  # this session keeps the garbage collector quiet (live)
        #: the latest device events the record screen shows (link lost/back, camera lost…)
        self.device_events: deque[DeviceEvent] = deque(maxlen=100)
        #: how many such events came in all (the deque keeps only the latest)
        self.device_events_total = 0
        #: when each kind of shown event first came (host ns), e.g. ``"camera_lost"``
        self.first_device_event_ns: dict[str, int] = {}
        self._events_lock = threading.Lock()
        # notes for device events wait here for a GUI or caller thread (see poll_device_notes):
        # a catalog write must never hold up the BLE loop or the camera thread
        self._pending_notes: deque[tuple[float, str]] = deque()

    @classmethod
    @_keeps_gc_quiet
    def start(
        cls,
        catalog: Catalog,
        data_root: Path,
        patient_id: int,
        sensor: BioSensor | None,
        camera: Camera | None,
        *,
        consent: bool,
        consent_note: str = "",
        settings: Settings | None = None,
        clock: Clock | None = None,
        virtual: bool = False,
        simulation: dict[str, Any] | None = None,
    ) -> RecordingSession:
        """Create the session folder and catalog row, then start the devices.

        Parameters
        ----------
        consent : bool — the patient's consent was obtained; recording is refused without it
        virtual : bool — virtual-clock mode: nothing runs in threads; drive with :meth:`advance`
        simulation : dict — for simulated sessions, the truth to store (scenario, seeds)

        A live session keeps the garbage collector's full passes from stalling the device
        threads until it stops (:mod:`core.recording.quiet_gc`); its one collection comes
        before the session's time zero, so it delays no frame.
        """
        if not consent:
            raise PermissionError(
                "Recording needs the patient's consent: tick the consent box first."
            )
        if sensor is None and camera is None:
            raise ValueError("Nothing to record: no sensor and no camera")
        settings = settings or Settings()
        clock = clock or MonotonicClock()
        uid = new_session_uid()
        patient = catalog.get_patient(patient_id)  # before the folder: nothing to undo if it fails
        folder = data_root / "sessions" / uid
        try:
            folder.mkdir(parents=True)
            lock = RecordingLock(folder)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise explain(exc, "start the session", folder.parent) from exc
        try:  # an unlocked data folder: every file of the session is sealed with its own key
            if patient is not None and patient.uuid:
                vault.seal_new_session(folder, data_root, uid, patient.uuid)
        except BaseException as exc:
            lock.release()
            shutil.rmtree(folder, ignore_errors=True)
            if isinstance(exc, OSError):
                raise explain(exc, "start the session", folder.parent) from exc
            raise
        simulated = bool(
            (sensor is not None and sensor.simulated) or (camera is not None and camera.simulated)
        )
        devices: dict[str, Any] = {
            "sensor": sensor.describe() if sensor is not None else None,
            "camera": camera.describe() if camera is not None else None,
        }
        streams = sensor.streams if sensor is not None else []
        consent_at = utc_now()
        t0 = clock.now_ns()
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "uid": uid,
            "status": "recording",
            "started_at": consent_at,
            "t0_host_ns": t0,
            "clock": "host monotonic (ns); virtual" if virtual else "host monotonic (ns)",
            "streams": [s.to_dict() for s in streams],
            "camera": camera.describe() if camera is not None else None,
            "devices": devices,
            "settings": settings.to_dict(),
            "simulated": simulated,
            # whose session it is, so a lost catalog can be rebuilt from the folders
            "patient_uuid": patient.uuid if patient is not None else None,
        }
        try:
            write_json_atomic(folder / "session.json", manifest)
            if simulation is not None:
                write_json_atomic(folder / "simulation.json", simulation)
            record = catalog.create_session(
                patient_id=patient_id,
                uid=uid,
                started_at=consent_at,
                devices=devices,
                settings=settings.to_dict(),
                consent_at=consent_at,
                consent_note=consent_note,
                simulated=simulated,
                folder=str(folder.relative_to(data_root)),
            )
        except BaseException as exc:
            # the folder and its catalog row exist together or not at all: nothing was recorded
            lock.release()
            shutil.rmtree(folder, ignore_errors=True)
            if isinstance(exc, OSError):
                raise explain(exc, "start the session", folder.parent) from exc
            raise
        try:
            catalog.audit("record", "session", record.id, f"uid={uid}")
            recorder = Recorder(
                folder,
                streams,
                clock,
                t0,
                record_video=camera is not None,
                jpeg_quality=settings.jpeg_quality,
                threaded=not virtual,
            )
        except Exception:
            # nothing was recorded: do not leave a row that claims to be recording
            catalog.set_session_status(record.id, "failed")
            lock.release()
            raise
        self = cls(
            catalog,
            data_root,
            record,
            folder,
            recorder,
            sensor,
            camera,
            clock,
            t0,
            lock,
            manifest,
            virtual,
        )
        recorder.log_event("start", uid=uid, simulated=simulated)
        # in virtual-clock mode devices only register the sinks here; advance() drives them
        try:
            if sensor is not None:
                sensor.start(recorder.on_batch, self.on_device_event)
            if camera is not None:
                camera.start(recorder.on_frame, self.on_device_event)
        except Exception:
            self.stop(status="failed")
            raise
        return self

    def on_device_event(self, event: DeviceEvent) -> None:
        """A device's event (any thread): into the journal, and a visible note for a lost device.

        A camera that disappears stops only the video; a sensor that drops out reconnects. Either
        way the therapist finds the moment among the session's markers.
        """
        self.recorder.on_event(event)
        if event.kind in SHOWN_DEVICE_EVENTS:
            with self._events_lock:
                self.device_events.append(event)
                self.device_events_total += 1
                self.first_device_event_ns.setdefault(event.kind, event.t_host_ns)
        note = DEVICE_EVENT_NOTES.get(event.kind)
        if note is not None:
            self._pending_notes.append((max(0.0, (event.t_host_ns - self.t0_ns) / 1e9), note))

    def device_events_since(self, seen: int) -> tuple[int, list[DeviceEvent]]:
        """The shown device events after the first ``seen`` (those still kept), and the new total."""
        with self._events_lock:
            new = min(self.device_events_total - seen, len(self.device_events))
            return self.device_events_total, list(self.device_events)[
                len(self.device_events) - new :
            ]

    def poll_device_notes(self) -> int:
        """Add the notes of device events received since the last call to the session's markers.

        Called by the record screen's timer, by :meth:`advance` and at :meth:`stop`; returns how
        many were added.
        """
        n = 0
        while self._pending_notes:
            t_s, note = self._pending_notes.popleft()
            try:
                self.catalog.add_marker(self.record.id, round(t_s, 3), "note", note)
                n += 1
            except Exception:  # the journal has the event; a catalog hiccup must not stop capture
                log.exception("could not add the marker for a device event")
        return n

    def elapsed_s(self) -> float:
        return (self.clock.now_ns() - self.t0_ns) / 1e9

    def advance(self, until_ns: int) -> None:
        """Virtual-clock mode: pump the devices up to ``until_ns`` and store what they gave."""
        from core.clock import VirtualClock

        if isinstance(self.clock, VirtualClock):
            self.clock.advance_to(until_ns)
        if self.sensor is not None:
            self.sensor.pump(until_ns)
        if self.camera is not None:
            self.camera.pump(until_ns)
        self.recorder.process_pending()
        self.poll_device_notes()

    def add_marker(self, kind: str, label: str = "", t_s: float | None = None) -> Marker:
        """Add a phase marker or a free-text note at ``t_s`` (s since start; default now)."""
        if kind not in MARKER_KINDS:
            raise ValueError(f"Unknown marker kind {kind!r}")
        t = self.elapsed_s() if t_s is None else float(t_s)
        m = self.catalog.add_marker(self.record.id, round(t, 3), kind, label)
        self.recorder.log_event("marker", marker_kind=kind, marker_id=m.id, marker_t_s=m.t_s)
        return m

    def move_marker(self, marker_id: int, t_s: float) -> Marker:
        """Move a marker of this session to ``t_s`` (s since start); returns it as moved.
        KeyError: no such marker."""
        m = self.catalog.update_marker(marker_id, t_s=round(float(t_s), 3))
        self.recorder.log_event(
            "marker_moved", marker_kind=m.kind, marker_id=m.id, marker_t_s=m.t_s
        )
        return m

    def delete_marker(self, marker_id: int) -> Marker:
        """Withdraw a marker of this session (an undo); returns it as it was. KeyError: no such
        marker in this session."""
        m = next((x for x in self.catalog.list_markers(self.record.id) if x.id == marker_id), None)
        if m is None:
            raise KeyError(marker_id)
        self.catalog.delete_marker(m.id)
        self.recorder.log_event("marker_deleted", marker_kind=m.kind, marker_id=m.id)
        return m

    def add_suds(self, rating: int, t_s: float | None = None) -> SudsRating:
        """Store a SUDS rating (0–100) at ``t_s`` (s since start; default now) — the moment the
        therapist asked, not when the number was typed. Out of range: ValueError, nothing stored."""
        t = self.elapsed_s() if t_s is None else float(t_s)
        r = self.catalog.add_suds(self.record.id, round(max(t, 0.0), 3), rating)
        self.recorder.log_event("suds", suds_id=r.id, suds_t_s=r.t_s)  # the value: catalog only
        return r

    def stop(
        self,
        status: str = "finalised",
        simulation_truth: Callable[[], dict[str, Any]] | None = None,
    ) -> SessionRecord:
        """Stop the devices, flush and close the stores, finalise the folder and the catalog.

        ``simulation_truth`` (simulated sessions) is called once the devices have stopped; what it
        returns (the simulator's drops, its drift…) is added to ``simulation.json``.

        Raises
        ------
        RuntimeError — the data are on disk but the session could not be finalised (e.g. the disk
            is full); the session stays marked as recording and is recovered at the next start.
        """
        if self.stopped:
            return self.record
        self.stopped = True
        for dev in (self.sensor, self.camera):
            if dev is not None:
                try:
                    dev.stop()
                except Exception as e:  # a device that fails to stop must not lose the data
                    log.error("device %s failed to stop: %s", dev.name, e)
        self.poll_device_notes()
        try:
            self.recorder.log_event("stop")
            self.recorder.close()
            if simulation_truth is not None:
                sim_path = self.folder / "simulation.json"
                sim = json.loads(vault.read_bytes(sim_path)) if sim_path.exists() else {}
                sim.update(simulation_truth())
                write_json_atomic(sim_path, sim)
            self.record = finalise_folder(
                self.catalog,
                self.data_root,
                self.record,
                self.folder,
                status,
                error=self.recorder.error,
                recorder=recorder_figures(self.recorder),
            )
        except (OSError, ValueError) as e:
            log.error("session %s could not be finalised: %s", self.record.uid, e)
            raise RuntimeError(
                f"The recording is saved up to this moment, but the session could not be "
                f"finalised ({e}). Free some disk space; TheraScope recovers it at the next start."
            ) from e
        finally:
            self._lock.release(remove=False)
            if self._quiet_gc:
                self._quiet_gc = False
                quiet_gc.live_recording_stopped()
        (self.folder / "recording.lock").unlink(missing_ok=True)
        return self.record


def recorder_figures(recorder: Recorder) -> dict[str, Any]:
    """What only the recorder knew (kept with the quality figures): per stream the batches it
    rejected (overlapping what was stored) and the samples it could not store; frames rejected
    (repeated or out of order) and not stored; items it failed to handle."""
    st = recorder.stats()
    return {
        "rejected_batches": {k: v.rejected for k, v in st.streams.items()},
        "samples_not_stored": {k: v.not_stored for k, v in st.streams.items()},
        "frames_rejected": st.frames_rejected,
        "frames_not_stored": st.frames_not_stored,
        "item_errors": st.item_errors,
    }


def finalise_folder(
    catalog: Catalog,
    data_root: Path,
    record: SessionRecord,
    folder: Path,
    status: str,
    error: str | None = None,
    recorder: dict[str, Any] | None = None,
    clock_fits: dict[str, dict[str, float]] | None = None,
) -> SessionRecord:
    """Write the final manifest (quality, clock fits), seal the files and close the catalog row.

    ``clock_fits``: the streams' counter→time maps when they are known exactly (an imported
    file's sample clock); otherwise they are fitted to the stored arrival times.

    ``recorder``: the recorder's own figures (:func:`recorder_figures`); a recovered session has
    none. Every file of the recording is hashed here, once it is complete (never while
    recording): :func:`~core.recording.manifest.seal_session`; ``integrity.json`` is written
    before ``session.json``, whose quality figures (the catalog's too) say the files were sealed.
    """
    manifest = read_manifest(folder)
    quality = compute_quality(folder, manifest)
    if error:
        quality["error"] = error
    if recorder is not None:
        quality["recorder"] = recorder
    fits = dict(clock_fits or {})
    for info in stream_infos(manifest):
        if info.name in fits:
            continue
        s = read_bio_stream(folder / "bio", info)
        if len(s.index):
            fits[info.name] = fit_counter_clock(
                s.index["first_counter"] + s.index["n"] - 1, s.index["arrival_ns"], info.rate_hz
            )
    if status == "recovered" or manifest.get("origin") == "imported":
        # the recording ended when its last data were written (an import: long before now)
        start = dt.datetime.fromisoformat(str(manifest["started_at"]))
        ended_at = (start + dt.timedelta(seconds=quality["duration_s"])).isoformat(
            timespec="seconds"
        )
    else:
        ended_at = utc_now()
    manifest.update(
        status=status,
        ended_at=ended_at,
        duration_s=quality["duration_s"],
        clock_fits=fits,
        quality=quality,
    )
    seal = seal_session(folder, manifest)  # hashes every file; the seal covers session.json
    write_json_atomic(folder / INTEGRITY_NAME, seal)
    write_json_atomic(folder / "session.json", manifest)
    catalog.finalise_session(
        record.id,
        ended_at=ended_at,
        duration_s=quality["duration_s"],
        quality=quality,
        status=status,
    )
    action = "recover" if status == "recovered" else "finalise"
    catalog.audit(action, "session", record.id, f"uid={record.uid}")
    got = catalog.get_session(record.id)
    assert got is not None
    return got
