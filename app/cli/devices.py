"""``therascope devices`` and ``therascope record --sensor …``: real sensors from the command line.

``devices`` scans for Bluetooth sensors (name, address, signal, the profile TheraScope knows it by),
lists the Lab Streaming Layer ECG/EDA streams on this computer (or the local network, as set in
Settings) and the cameras OpenCV can open. ``record`` with ``--sensor ADDRESS`` records from a BLE
sensor (the profile is found by a scan unless given), with ``--lsl NAME`` from an LSL stream (its
name, type or source id), and a camera (``--camera INDEX|PATH|none``),
in real time, until ``--duration`` ends or Ctrl+C; link losses and reconnections are printed as
they happen and stored with the session.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from app.cli.arguments import bounded


def cmd_devices(args: argparse.Namespace) -> int:
    from devices.ble.profiles import PROFILES
    from devices.ble.transport import BleTransport
    from devices.camera import list_cameras

    titles = {p.key: p.title for p in PROFILES}
    transport = BleTransport()
    try:
        found = transport.scan(args.seconds)
    except Exception as e:  # no adapter, no BlueZ, no permission: say so and go on to cameras
        # a Bluetooth or system error is already one plain sentence; anything else is ours
        why = str(e) if getattr(e, "expected", False) else f"Bluetooth scan failed: {e}"
        print(why, file=sys.stderr)
        found = []
    finally:
        transport.stop()
    known = [r for r in found if r.profile or args.all]
    print(f"Bluetooth sensors ({len(known)} of {len(found)} devices seen):")
    for r in known:
        kind = titles.get(r.profile or "", "not a supported sensor")
        print(f"  {r.address:<20} {r.rssi:>4} dBm  {kind:<28} {r.name or ''}")
    from core.config import Settings
    from devices.lsl.sensor import find_streams

    network = Settings.load().lsl_network
    try:
        streams = find_streams(1.5, network=network)
    except Exception as e:  # no liblsl here: say so and go on
        print(str(e) if getattr(e, "expected", False) else f"LSL: {e}", file=sys.stderr)
        streams = []
    where = "the local network" if network else "this computer"
    print(f"Lab Streaming Layer ECG/EDA streams on {where} ({len(streams)}):")
    for ref in streams:
        print(f"  {ref.source_id or ref.name:<30} {ref.title}")
    cams = list_cameras()
    print(f"Cameras ({len(cams)}):")
    for c in cams:
        print(f"  {c['index']:<3} {c['width']}×{c['height']} at {c['fps']:g} fps (as reported)")
    return 0


def _profile_of(transport: Any, address: str, seconds: float) -> tuple[str, str | None]:
    for r in transport.scan(seconds):
        if r.address.upper() == address.upper():
            if r.profile is None:
                raise SystemExit(f"{address} ({r.name}) is not a sensor TheraScope knows")
            return r.profile, r.name
    raise SystemExit(f"Sensor {address} not found: is it switched on, worn and in range?")


def record_real(args: argparse.Namespace, cat: Any, root: Any, patient_id: int) -> int:
    """Record from a BLE sensor (and a camera) in real time; prints the session uid.

    Raises
    ------
    ValueError — ``args.duration`` is not a session length (:func:`core.config.session_seconds`),
        before anything is opened
    """
    from core.config import Settings, session_seconds
    from core.recording.session import RecordingSession
    from devices.ble.profiles import make_driver
    from devices.ble.sensor import BleSensor
    from devices.ble.transport import BleTransport
    from devices.camera import OpenCVCamera

    duration_s = session_seconds(args.duration)
    settings = Settings.load()
    transport = BleTransport() if not getattr(args, "lsl", None) else None
    session = None
    markers = None
    try:
        sensor: Any
        if transport is None:
            from devices.lsl.channels import ChannelError
            from devices.lsl.sensor import LslError, LslSensor

            sensor = LslSensor(args.lsl, network=settings.lsl_network)
            try:
                sensor.connect()
            except (LslError, ChannelError) as err:
                raise SystemExit(str(err)) from None
            info = sensor.streams[0]
            print(
                f"connected to {sensor.name}: {'/'.join(info.channels)} {info.rate_hz:g} Hz",
                file=sys.stderr,
            )
        else:
            profile: str | None = args.profile or None
            name: str | None = None
            if profile is None:
                profile, name = _profile_of(transport, args.sensor, 5.0)
            sensor = BleSensor(args.sensor, make_driver(profile), transport=transport, name=name)
            sensor.connect()
            print(
                f"connected to {sensor.name} (battery {sensor.battery_percent} %)", file=sys.stderr
            )
        camera = None
        if args.no_video or str(args.camera).lower() == "none":
            camera = None
        else:
            src: int | str = int(args.camera) if str(args.camera).isdigit() else str(args.camera)
            camera = OpenCVCamera(
                src, settings.camera_fps, settings.camera_width, settings.camera_height
            )
        session = RecordingSession.start(
            cat,
            root,
            patient_id,
            sensor,
            camera,
            consent=True,
            consent_note="consent given (command line)",
            settings=settings,
        )
        if settings.lsl_markers:  # LabRecorder can store the markers beside its streams
            from devices.lsl.markers import publish_session_markers

            markers = publish_session_markers(session, settings.lsl_network)
        seen = 0
        end = time.monotonic() + duration_s
        try:
            while time.monotonic() < end:
                time.sleep(0.25)
                session.poll_device_notes()
                before = seen
                seen, events = session.device_events_since(seen)
                skipped = seen - before - len(events)
                if skipped and not args.quiet:  # more came than are kept between two looks
                    print(f"  ({skipped} earlier device events not shown)", file=sys.stderr)
                for e in events:
                    if not args.quiet and e.kind in ("disconnected", "reconnected", "camera_lost"):
                        t = (e.t_host_ns - session.t0_ns) / 1e9
                        print(f"  {t:7.1f} s  {e.kind} {json.dumps(e.detail)}", file=sys.stderr)
        except KeyboardInterrupt:
            print("stopping…", file=sys.stderr)
        rec = session.stop()
        session = None
        print(rec.uid)
        if not args.quiet:
            print(json.dumps(rec.quality, indent=2), file=sys.stderr)
        return 0
    finally:
        if session is not None:
            session.stop(status="failed")
        if transport is not None:
            transport.stop()
        if markers is not None:
            markers.close()


def add_device_commands(sub: Any) -> None:
    p = sub.add_parser("devices", help="scan for Bluetooth sensors and list cameras")
    p.add_argument(
        "--seconds",
        type=bounded(float, 0.0, 300.0, unit="seconds", lo_open=True),
        default=5.0,
        help="how long to scan (s)",
    )
    p.add_argument("--all", action="store_true", help="also list unsupported Bluetooth devices")
    p.set_defaults(func=cmd_devices)
