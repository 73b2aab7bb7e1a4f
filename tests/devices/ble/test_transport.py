"""The BLE transport and sensor through bleak's real BlueZ backend on a fake BlueZ: connection
failures, reconnection with back-off, link loss outside a session, preview and a sensor reboot."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from core.types import DeviceEvent, SampleBatch
from tests.devices.ble.fake_bluez import DBUS_DAEMON, FakeBluez
from tests.devices.ble.fake_peripherals import LinkModel, OpenProfileSim, PolarH10Sim

pytestmark = pytest.mark.skipif(
    DBUS_DAEMON is None,
    reason="dbus-daemon not installed (Debian package dbus-daemon): no private bus for the fake BlueZ",
)


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeBluez]:
    f = FakeBluez(tmp_path).start()
    yield f
    f.stop()


def _wait(cond: Callable[[], bool], timeout_s: float = 10.0) -> None:
    end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def _policy(**kw: float):  # type: ignore[no-untyped-def]
    from devices.ble.transport import ReconnectPolicy

    base = dict(first_delay_s=0.1, max_delay_s=0.4, factor=2.0, scan_timeout_s=0.3)
    base.update(kw)
    return ReconnectPolicy(**base)


def test_an_absent_device_fails_to_connect_clearly_and_stops_cleanly(fake: FakeBluez) -> None:
    from bleak.exc import BleakDeviceNotFoundError

    from devices.ble.polar import PolarH10Driver
    from devices.ble.sensor import BleSensor
    from devices.ble.transport import BluetoothError

    s = BleSensor("C4:7C:8D:00:00:99", PolarH10Driver(), policy=_policy(), connect_timeout_s=2.0)
    t = time.monotonic()
    with pytest.raises(BluetoothError, match="^Polar H10 C4:7C:8D:00:00:99 was not found — ") as e:
        s.connect()
    assert isinstance(e.value.__cause__, BleakDeviceNotFoundError)  # bleak's words: in the log
    assert time.monotonic() - t < 3.0
    assert s.link_state in ("connecting", "idle")
    s.stop()
    s.stop()
    assert not any(t.name == "ble-loop" and t.is_alive() for t in threading.enumerate())


def test_reconnection_backs_off_until_the_device_is_back(fake: FakeBluez) -> None:
    from devices.ble.polar import PolarH10Driver
    from devices.ble.sensor import BleSensor

    m = PolarH10Sim("C4:7C:8D:00:00:01", LinkModel(seed=1))
    link = fake.add(m)
    s = BleSensor(m.address, PolarH10Driver(), policy=_policy())
    batches: list[SampleBatch] = []
    events: list[DeviceEvent] = []
    try:
        s.start(batches.append, events.append)
        _wait(lambda: len(batches) >= 3)
        fake.call(link.drop, 2.0)
        _wait(lambda: s.link_state == "reconnecting", 2.0)
        _wait(lambda: any(e.kind == "reconnected" for e in events), 10.0)
        n = len(batches)
        _wait(lambda: len(batches) > n + 2)
    finally:
        s.stop()
    kinds = [e.kind for e in events if e.kind in ("disconnected", "reconnected")]
    assert kinds == ["disconnected", "reconnected"]
    lost, back = (e for e in events if e.kind in ("disconnected", "reconnected"))
    assert back.detail["attempts"] >= 3  # scans at 0.1, 0.3, 0.7, 1.5 s … find nothing first
    assert 2.0 <= back.detail["down_s"] < 4.0  # type: ignore[operator]
    assert (back.t_host_ns - lost.t_host_ns) / 1e9 == pytest.approx(back.detail["down_s"])
    c = np.concatenate([b.first_counter + np.arange(b.n) for b in batches])
    v = np.concatenate([b.samples[:, 0] for b in batches])
    g = PolarH10Sim.g_of(v)
    assert (g - c == g[0] - c[0]).all()  # the strap's clock sized the gap exactly
    assert s.stats()["lost_samples"] == c[-1] - c[0] + 1 - len(c) > 2.0 * 130
    assert s.link_state == "closed" and link.writes[-1][1] == b"\x03\x00"  # stopped, then left


def test_a_link_lost_before_the_session_waits_for_start_and_preview_works(
    fake: FakeBluez,
) -> None:
    from devices.ble.open_profile import OpenProfileDriver
    from devices.ble.sensor import BleSensor
    from devices.ble.transport import BleTransport

    m = OpenProfileSim("E8:31:CD:00:00:07", LinkModel(seed=2))
    link = fake.add(m)
    tr = BleTransport()
    found = tr.scan(0.3)
    assert [(r.name, r.profile) for r in found] == [(m.name, "therascope_open_v1")]
    s = BleSensor(m.address, OpenProfileDriver(rates_hz={0: 800.0}), transport=tr, policy=_policy())
    try:
        s.connect()
        assert s.battery_percent == 87 and [x.name for x in s.streams] == ["bio"]
        seen: list[SampleBatch] = []
        s.preview(seen.append)  # the set-up screen's test signal
        _wait(lambda: len(seen) >= 2)
        assert (link.writes[-2][1], link.writes[-1][1]) == (b"\x03\x00\x00\x00\x48\x44", b"\x01")
        s.preview(None)
        fake.call(link.drop, 0.2)
        _wait(lambda: s.link_state == "disconnected")
        time.sleep(0.5)
        assert s.link_state == "disconnected" and link.connects == 1  # no session: no reconnect
        batches: list[SampleBatch] = []
        s.start(batches.append, lambda e: None)
        _wait(lambda: len(batches) >= 3)
        assert link.connects == 2 and link.writes[-1][1] == b"\x01"  # no rate write once running
    finally:
        s.stop()
        assert not tr._links  # a closed link is not kept by the shared transport
        tr.stop()


def test_a_sensor_that_rebooted_while_away_is_placed_back_by_host_time(fake: FakeBluez) -> None:
    from devices.ble.open_profile import OpenProfileDriver
    from devices.ble.sensor import BleSensor

    m = OpenProfileSim("E8:31:CD:00:00:08", LinkModel(seed=3, drift_ppm=-50.0))
    m.reboot_on_drop = True
    m.default_rate_hz = 250.0  # a power cycle restores its default rate: the session's is 800 Hz
    link = fake.add(m)
    s = BleSensor(m.address, OpenProfileDriver(rates_hz={0: 800.0}, hold_s=0.3), policy=_policy())
    batches: list[SampleBatch] = []
    events: list[DeviceEvent] = []
    try:
        s.start(batches.append, events.append)
        _wait(lambda: sum(b.n for b in batches) >= 1600)
        fake.call(link.drop, 0.5)
        _wait(lambda: any(e.kind == "reconnected" for e in events), 10.0)
        _wait(lambda: sum(b.n for b in batches if b.arrival_ns > events[-1].t_host_ns) >= 1600)
    finally:
        s.stop()
    assert any(e.kind == "timebase_reset" for e in events)
    set_rate = [i for i, w in enumerate(link.writes) if w[1] == b"\x03\x00\x00\x00\x48\x44"]
    assert len(set_rate) == 2 and m.rate_hz == 800.0  # configured again after the reboot
    assert s.stats()["rejected_config"] == 0
    c = np.concatenate([b.first_counter + np.arange(b.n) for b in batches])
    s0 = np.concatenate([b.samples for b in batches])
    g = OpenProfileSim.g_of(s0[:, 0], s0[:, 1])
    off = g - c
    assert (np.diff(c) > 0).all()
    before, after = off[g < m.g_epoch], off[g >= m.g_epoch]
    assert len(set(before)) == 1 and len(set(after)) == 1 and len(after) >= 1600
    assert abs(int(after[0]) - int(before[0])) <= 2  # within 2 samples (2.5 ms) of the truth


class _DropsDuringSetUp(PolarH10Sim):
    """A strap whose link breaks again while the central sets it up after a reconnection."""

    def __init__(self, address: str, link: LinkModel | None = None) -> None:
        super().__init__(address, link)
        self.battery_reads = 0
        self.drop_on_read = 2  # the first reconnection's battery read (the first is at connect)

    def on_read(self, uuid: str) -> bytes:
        from devices.ble.driver import BATTERY_LEVEL

        if uuid == BATTERY_LEVEL:
            self.battery_reads += 1
            if self.battery_reads == self.drop_on_read:
                self.link.drop(0.3)
        return super().on_read(uuid)


def test_a_drop_during_a_reconnection_set_up_is_one_outage(fake: FakeBluez) -> None:
    from devices.ble.polar import PolarH10Driver
    from devices.ble.sensor import BleSensor

    m = _DropsDuringSetUp("C4:7C:8D:00:00:02", LinkModel(seed=4))
    link = fake.add(m)
    s = BleSensor(m.address, PolarH10Driver(), policy=_policy())
    batches: list[SampleBatch] = []
    events: list[DeviceEvent] = []
    try:
        s.start(batches.append, events.append)
        _wait(lambda: len(batches) >= 3)
        fake.call(link.drop, 0.5)
        _wait(lambda: any(e.kind == "reconnected" for e in events), 10.0)
        n = len(batches)
        _wait(lambda: len(batches) > n + 2)
    finally:
        s.stop()
    assert m.battery_reads >= 3  # the attempt that dropped, then the one that held
    link_events = [e for e in events if e.kind in ("disconnected", "reconnected")]
    assert [e.kind for e in link_events] == ["disconnected", "reconnected"]
    lost, back = link_events
    assert back.detail["attempts"] >= 2
    assert (back.t_host_ns - lost.t_host_ns) / 1e9 == pytest.approx(back.detail["down_s"])
    assert s.stats()["disconnects"] == s.stats()["reconnects"] == 1


def test_start_after_a_drop_during_the_preview_reconnects_and_records(fake: FakeBluez) -> None:
    from devices.ble.polar import PolarH10Driver
    from devices.ble.sensor import BleSensor

    m = PolarH10Sim("C4:7C:8D:00:00:03", LinkModel(seed=5))
    link = fake.add(m)
    s = BleSensor(m.address, PolarH10Driver(), policy=_policy())
    batches: list[SampleBatch] = []
    events: list[DeviceEvent] = []
    try:
        s.connect()
        seen: list[SampleBatch] = []
        s.preview(seen.append)
        _wait(lambda: len(seen) >= 2)
        fake.call(link.drop, 1.0)  # out of range during the preview, still when the session starts
        _wait(lambda: s.link_state == "disconnected")
        t = time.monotonic()
        s.start(batches.append, events.append)
        assert time.monotonic() - t < 1.0  # the session starts; the link comes back by itself
        _wait(lambda: any(e.kind == "reconnected" for e in events), 10.0)
        _wait(lambda: len(batches) >= 3)
    finally:
        s.stop()
    assert [e.kind for e in events if e.kind in ("disconnected", "reconnected")] == [
        "disconnected",
        "reconnected",
    ]
    assert link.connects == 2 and s.stats()["reconnects"] == 1
    starts = [w for w in link.writes if w[1] == b"\x02\x00\x00\x01\x82\x00\x01\x01\x0e\x00"]
    assert len(starts) == 2  # the preview's, then again after the reconnection


@pytest.mark.parametrize("lost", [True, False])
def test_stop_is_short_and_journals_figures_when_the_peripheral_hangs(
    fake: FakeBluez, lost: bool
) -> None:
    # lost: the link dropped and a reconnection hangs in Connect (and BlueZ's Disconnect hangs);
    # not lost: a healthy link whose Disconnect hangs
    from devices.ble.polar import PolarH10Driver
    from devices.ble.sensor import BleSensor

    m = PolarH10Sim("C4:7C:8D:00:00:04", LinkModel(seed=6))
    link = fake.add(m)
    s = BleSensor(m.address, PolarH10Driver(), policy=_policy())
    events: list[DeviceEvent] = []
    batches: list[SampleBatch] = []
    s.start(batches.append, events.append)
    _wait(lambda: len(batches) >= 3)

    def hang() -> None:
        link.disconnect_hang_s = 30.0
        if lost:
            link.connect_hang_s = 30.0
            link.drop(0.1)

    calls = link.connect_calls
    fake.call(hang)
    if lost:
        _wait(lambda: link.connect_calls > calls)  # a reconnection attempt waits in Connect
    t = time.monotonic()
    s.stop()
    took = time.monotonic() - t
    assert took < 6.0, f"stop took {took:.1f} s"
    assert [e.kind for e in events].count("sensor_stats") == 1
    assert s.link_state == "closed"
    assert not any(t.name == "ble-loop" and t.is_alive() for t in threading.enumerate())


def test_transport_shutdown_reports_a_link_that_fails_to_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from devices.ble.transport import BleTransport

    tr = BleTransport()
    lk = tr.link("C4:7C:8D:00:00:05", lambda *a: None, lambda *a: None)

    async def broken(final_ops: object) -> None:
        raise OSError("D-Bus went away")

    lk.aclose = broken  # type: ignore[method-assign]
    with caplog.at_level("WARNING", logger="devices.ble.transport"):
        tr.stop()
    assert any(
        "C4:7C:8D:00:00:05" in r.getMessage() and "D-Bus" in r.getMessage() for r in caplog.records
    )


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("no bus", "system message bus (D-Bus)"),
        ("no bluez", "Bluetooth service (BlueZ) is not running"),
        ("no adapter", "no Bluetooth adapter"),
        ("powered off", "Bluetooth is switched off — switch it on"),
    ],
)
def test_bluetooth_that_cannot_be_used_is_explained_plainly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str, says: str
) -> None:
    """Through bleak's BlueZ backend: no D-Bus, no BlueZ, no adapter, adapter off."""
    from devices.ble.polar import PolarH10Driver
    from devices.ble.sensor import BleSensor
    from devices.ble.transport import BleTransport, BluetoothUnavailable

    fake = None
    if setting == "no bus":
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'absent'}")
    else:
        fake = FakeBluez(tmp_path, bluez=setting != "no bluez", adapter=setting != "no adapter")
        fake.start()
        fake.adapter.powered = setting != "powered off"
    tr = BleTransport()
    try:
        with pytest.raises(BluetoothUnavailable, match=re.escape(says)):
            tr.scan(0.2)
        s = BleSensor("C4:7C:8D:00:00:99", PolarH10Driver(), transport=tr, policy=_policy())
        with pytest.raises(BluetoothUnavailable, match=re.escape(says)):
            s.connect()
        s.stop()
    finally:
        tr.stop()
        if fake is not None:
            fake.stop()


def test_the_reasons_bleak_and_bluez_give_are_put_plainly() -> None:
    """The errors that do not need a fake to raise: as bleak builds them from BlueZ's replies."""
    from bleak.exc import BleakBluetoothNotAvailableError, BleakDBusError, BleakError
    from bleak.exc import BleakBluetoothNotAvailableReason as Reason

    from devices.ble.transport import bluetooth_unavailable

    def said(e: BaseException) -> str | None:
        u = bluetooth_unavailable(e)
        return None if u is None else str(u)

    assert "add the user to the 'bluetooth' group" in str(
        said(BleakDBusError("org.freedesktop.DBus.Error.AccessDenied", ["policy"]))
    )
    for name in (
        "org.freedesktop.systemd1.NoSuchUnit",
        "org.freedesktop.systemd1.UnitMasked",
        "org.freedesktop.DBus.Error.Spawn.ChildExited",
    ):
        assert said(BleakDBusError(name, ["x"])) == (
            "The Bluetooth service (BlueZ) is not running — start it (systemctl start bluetooth), "
            "then try again."
        )
    user = said(BleakBluetoothNotAvailableError("denied", Reason.DENIED_BY_USER))
    assert user is not None and user.startswith("TheraScope is not allowed to use Bluetooth")
    system = said(BleakBluetoothNotAvailableError("auth", Reason.DENIED_BY_SYSTEM))
    assert system is not None and "message bus (D-Bus)" in system  # on Linux
    assert said(BleakBluetoothNotAvailableError("odd", Reason.UNKNOWN)) == (
        "Bluetooth is not available on this computer now — check that it is switched on in the "
        "system settings, then try again."
    )
    # not a reason Bluetooth is unavailable: left as it is
    assert said(BleakDBusError("org.bluez.Error.Failed", ["le-connection-abort-by-local"])) is None
    assert said(BleakError("device not found")) is None
    assert said(TimeoutError("slow")) is None


#: what must never reach the screen: D-Bus and BlueZ error names, errno texts, bleak's class names
TECHNICAL = ("org.", "Error.", "Errno", "Bleak", "Traceback", "[")


def _plain(text: str) -> bool:
    """One sentence in words: a capital first, a full stop last, no technical names."""
    return (
        text[:1].isupper()
        and text.endswith(".")
        and text.count(". ") == 0
        and not any(t in text for t in TECHNICAL)
    )


def test_every_error_of_a_scan_or_connection_is_one_plain_sentence() -> None:
    """What bleak raises (its own classes and messages, BlueZ's D-Bus errors as bleak wraps them)
    and what the system raises, for a scan and for a connection."""
    import errno

    from bleak.exc import (
        BleakCharacteristicNotFoundError,
        BleakDBusError,
        BleakDeviceNotFoundError,
        BleakError,
        BleakGATTProtocolError,
        BleakGATTProtocolErrorCode,
    )

    from devices.ble.link import CharacteristicMissing
    from devices.ble.transport import BluetoothUnavailable, plain_error

    addr = "C4:7C:8D:6A:7B:8C"
    no_socket = FileNotFoundError(
        errno.ENOENT, "No such file or directory", "/var/run/dbus/system_bus_socket"
    )
    cases: list[tuple[str, BaseException, str]] = [
        ("scan", BleakDBusError("org.bluez.Error.NotReady", ["Resource Not Ready"]), "not ready"),
        ("scan", BleakDBusError("org.bluez.Error.Failed", ["Not Powered"]), "not ready"),
        (
            "scan",
            BleakDBusError("org.bluez.Error.InProgress", ["Operation already in progress"]),
            "then scan again",
        ),
        (
            "scan",
            BleakDBusError("org.bluez.Error.Failed", ["Rejected"]),
            "The Bluetooth scan failed",
        ),
        (
            "scan",
            BleakDBusError("org.freedesktop.DBus.Error.NoReply", ["Did not receive a reply."]),
            "did not answer in time",
        ),
        (
            "scan",
            BleakDBusError("org.freedesktop.DBus.Error.UnknownObject", ["/org/bluez/hci0"]),
            "no Bluetooth adapter",
        ),
        ("scan", BleakError("Bluetooth adapter not found"), "no Bluetooth adapter"),
        ("scan", BleakError("No Bluetooth adapters found."), "no Bluetooth adapter"),
        ("scan", BleakError("adapter 'hci0' not found"), "no Bluetooth adapter"),
        ("scan", BleakError("Bleak requires BlueZ >= 5.55."), "too old"),
        ("scan", no_socket, "message bus (D-Bus)"),
        ("scan", PermissionError(errno.EACCES, "Permission denied"), "administrator"),
        ("scan", TimeoutError(), "did not answer in time"),
        ("scan", EOFError(), "The Bluetooth scan failed"),
        (
            "connect",
            BleakDBusError("org.bluez.Error.Failed", ["le-connection-abort-by-local"]),
            "broke off",
        ),
        (
            "connect",
            BleakDBusError("org.bluez.Error.Failed", ["le-connection-timeout"]),
            "did not answer in time",
        ),
        (
            "connect",
            BleakDBusError("org.bluez.Error.Failed", ["Software caused connection abort"]),
            "broke off",
        ),
        (
            "connect",
            BleakDBusError("org.bluez.Error.Failed", ["le-connection-key-missing"]),
            "no longer recognises",
        ),
        ("connect", BleakDBusError("org.bluez.Error.Failed", ["Not connected"]), "disconnected"),
        (
            "connect",
            BleakDBusError("org.bluez.Error.NotReady", ["Resource Not Ready"]),
            "not ready",
        ),
        ("connect", BleakDBusError("org.bluez.Error.InProgress", ["In Progress"]), "busy"),
        (
            "connect",
            BleakDBusError("org.bluez.Error.AlreadyConnected", ["Already Connected"]),
            "already connected",
        ),
        (
            "connect",
            BleakDBusError("org.bluez.Error.NotAvailable", ["Operation currently not available"]),
            "Could not connect to",
        ),
        (
            "connect",
            BleakDeviceNotFoundError(addr, f"Device with address {addr} was not found."),
            "was not found",
        ),
        ("connect", BleakError("failed to discover services, device disconnected"), "disconnected"),
        ("connect", BleakError("Not connected"), "disconnected"),
        ("connect", BleakError("No Bluetooth adapters found."), "no Bluetooth adapter"),
        (
            "connect",
            BleakCharacteristicNotFoundError("fb005c80-02e7-f387-1cad-8acd2d8df0c8"),
            "does not offer",
        ),
        (
            "connect",
            CharacteristicMissing(f"{addr} does not offer characteristic x"),
            "does not offer",
        ),
        (
            "connect",
            BleakGATTProtocolError(BleakGATTProtocolErrorCode.INSUFFICIENT_AUTHENTICATION),
            "not paired",
        ),
        (
            "connect",
            BleakGATTProtocolError(BleakGATTProtocolErrorCode.WRITE_REQUEST_REJECTED),
            "refused",
        ),
        ("connect", ConnectionError(f"{addr} is not connected"), "disconnected"),
        ("connect", TimeoutError(), "did not answer in time"),
        ("connect", no_socket, "message bus (D-Bus)"),
        ("connect", KeyError("a fault of ours"), "Could not connect to"),
    ]
    for action, raised, says in cases:
        said = plain_error(raised, action, "Polar H10 6A7B8C")  # type: ignore[arg-type]
        text = str(said)
        assert says in text and _plain(text), (raised, text)
        if action == "connect" and not isinstance(said, BluetoothUnavailable) and says != "busy":
            assert "Polar H10 6A7B8C" in text, (raised, text)  # which sensor it was about
    assert isinstance(plain_error(no_socket, "scan"), BluetoothUnavailable)
    assert plain_error(said) is said  # already plain: as it is


@pytest.mark.parametrize(
    ("where", "error", "says"),
    [
        ("scan", ("org.bluez.Error.NotReady", "Resource Not Ready"), "switched off or not ready"),
        ("scan", ("org.bluez.Error.InProgress", "Operation already in progress"), "scan again"),
        ("connect", ("org.bluez.Error.Failed", "le-connection-timeout"), "did not answer in time"),
        ("connect", ("org.bluez.Error.InProgress", "In Progress"), "busy with another connection"),
        ("connect", ("org.bluez.Error.NotReady", "Resource Not Ready"), "not ready"),
    ],
)
def test_what_bluez_answers_reaches_the_caller_plainly_and_the_log_in_full(
    fake: FakeBluez,
    caplog: pytest.LogCaptureFixture,
    where: str,
    error: tuple[str, str],
    says: str,
) -> None:
    """BlueZ's errors through bleak's real backend: StartDiscovery and Device1.Connect refused."""
    from devices.ble.polar import PolarH10Driver
    from devices.ble.sensor import BleSensor
    from devices.ble.transport import BleTransport, BluetoothError

    m = PolarH10Sim("C4:7C:8D:00:00:0A", LinkModel(seed=7))
    link = fake.add(m)
    if where == "scan":
        fake.adapter.discovery_error = error
    else:
        link.connect_error = error
    tr = BleTransport()
    s = BleSensor(m.address, PolarH10Driver(), transport=tr, name="Polar H10 0A", policy=_policy())
    try:
        with (
            caplog.at_level("WARNING", logger="devices.ble.transport"),
            pytest.raises(BluetoothError) as got,
        ):
            if where == "scan":
                tr.scan(0.2)
            else:
                s.connect()
    finally:
        s.stop()
        tr.stop()
    text = str(got.value)
    assert says in text and _plain(text), text
    logged = [r for r in caplog.records if r.name == "devices.ble.transport"]
    assert any(error[0] in r.getMessage() and error[1] in r.getMessage() for r in logged)
    assert not any(r.exc_info for r in logged)  # an expected condition: no traceback


def test_a_sensor_that_drops_during_its_set_up_is_said_to_have_disconnected(
    fake: FakeBluez,
) -> None:
    from devices.ble.polar import PolarH10Driver
    from devices.ble.sensor import BleSensor
    from devices.ble.transport import BluetoothError

    m = _DropsDuringSetUp("C4:7C:8D:00:00:0B", LinkModel(seed=8))
    m.drop_on_read = 1  # the battery read of the first connection
    fake.add(m)
    s = BleSensor(m.address, PolarH10Driver(), name="Polar H10 0B", policy=_policy())
    try:
        with pytest.raises(BluetoothError) as got:
            s.connect()
    finally:
        s.stop()
    text = str(got.value)
    assert text.startswith("Polar H10 0B disconnected while it was being set up — ") and _plain(
        text
    )


def test_a_timeout_inside_the_loop_is_not_taken_for_the_wait_running_out() -> None:
    """Since Python 3.11 a coroutine's TimeoutError (bleak's connection timeout) and the wait's
    are the same class: the coroutine's must come out as it is."""
    from devices.ble.transport import BleTransport

    async def times_out() -> None:
        raise TimeoutError("bleak's own")

    tr = BleTransport()
    try:
        t = time.monotonic()
        with pytest.raises(TimeoutError, match="bleak's own"):
            tr.run(times_out(), 5.0)
        assert time.monotonic() - t < 1.0
    finally:
        tr.stop()
