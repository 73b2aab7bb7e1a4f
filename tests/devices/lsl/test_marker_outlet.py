"""TheraScope's LSL marker outlet: what the network can see of it, that a default recording opens
none, and that markers moved or withdrawn on the record screen reach the stream too.

liblsl binds an outlet's data servers to every interface whatever ``lsl_api.cfg`` says (its
``ListenAddress`` moves only the multicast responder), so these tests ask a real outlet over UDP,
as a discovering computer would, instead of reading the configuration file.
"""

from __future__ import annotations

import contextlib
import socket
import time

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from app.gui.main import create_window
from app.gui.record_page import RecordPage
from core.config import Settings
from devices.lsl.config import MACHINE_CONFIG, applied_config, load_pylsl
from devices.lsl.markers import MarkerOutlet, stream_name
from tests.app.conftest import app_env as app_env  # the GUI tests' data folder and account

#: liblsl's default BasePort and PortRange (lsl_api.cfg leaves them): where outlets serve
BASE_PORT, PORT_RANGE = 16572, 32


def _non_loopback_ipv4() -> str | None:
    """An IPv4 address of this machine that is not loopback (None: it has none)."""
    found: list[str] = []
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.append(str(info[4][0]))
    # the address a packet to another network would leave from (connect() sends nothing)
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))
        found.append(s.getsockname()[0])
    return next((a for a in found if not a.startswith("127.") and a != "0.0.0.0"), None)


def _shortinfo_answer(address: str, name: str, wait_s: float = 1.0) -> bytes | None:
    """Ask every outlet port at ``address`` for streams named ``name`` the way liblsl's resolver
    does (``LSL:shortinfo``); returns the first answer, None when none comes within ``wait_s``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", 0))
        port = s.getsockname()[1]
        query = f"LSL:shortinfo\r\nname='{name}'\r\n{port} 4242\r\n".encode()
        for p in range(BASE_PORT, BASE_PORT + PORT_RANGE):
            s.sendto(query, (address, p))
        deadline = time.monotonic() + wait_s
        while (left := deadline - time.monotonic()) > 0:
            s.settimeout(left)
            try:
                data, _ = s.recvfrom(65536)
            except TimeoutError:
                return None
            if f"<name>{name}</name>".encode() in data:
                return data
    return None


def test_an_open_marker_outlet_is_visible_from_the_network() -> None:
    # the reason the marker stream is off by default and Settings say what turning it on means
    address = _non_loopback_ipv4()
    if address is None:
        pytest.skip("this machine has no network address besides loopback to ask from")
    uid = f"exposure-{time.monotonic_ns()}"
    outlet = MarkerOutlet(uid, time.monotonic_ns())
    assert applied_config() == MACHINE_CONFIG  # the machine-only configuration is in force
    try:
        answer = _shortinfo_answer(address, stream_name(uid))
        assert answer is not None, f"the outlet did not answer a query to {address}"
        assert b"<type>Markers</type>" in answer
    finally:
        outlet.close()
    time.sleep(0.2)
    assert _shortinfo_answer("127.0.0.1", stream_name(uid), 0.5) is None  # closed: gone


@pytest.fixture
def win(qtbot, app_env):  # noqa: F811
    w, _ = create_window(demo=False)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    yield w
    if w.record.recording:
        w.record.stop_recording()
    w.close()
    w.deleteLater()


def _start(win, qtbot, code: str) -> RecordPage:
    """A new patient's set-up (the simulated sensor), consent ticked, Start clicked."""
    win.show_record(win.catalog.add_patient(code).id)
    page = win.record
    box = page.consent.rect()
    qtbot.mouseClick(page.consent, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    qtbot.mouseClick(page.start_btn, Qt.MouseButton.LeftButton)
    assert page.recording and page.session is not None
    return page


def test_a_default_recording_opens_no_lsl_outlet(win, qtbot) -> None:
    assert Settings().lsl_markers is False and win.record.settings.lsl_markers is False
    page = _start(win, qtbot, "LSL-OFF")
    assert page.session is not None
    name = stream_name(page.session.record.uid)
    page.add_marker("treatment_start")
    assert page.marker_outlet is None
    # nothing answers for the session's marker stream, on loopback or on the network address
    for address in ("127.0.0.1", _non_loopback_ipv4()):
        if address is not None:
            assert _shortinfo_answer(address, name, 0.5) is None
    page.finished.disconnect()  # the review screen is tested elsewhere
    page.stop_recording()


def test_moved_and_withdrawn_markers_reach_the_lsl_stream(win, qtbot, monkeypatch) -> None:
    win.record.settings.lsl_markers = True  # Settings → Publish the session's markers
    page = _start(win, qtbot, "LSL-MOVE")
    assert page.session is not None and page.marker_outlet is not None
    pylsl = load_pylsl()
    found = pylsl.resolve_bypred(f"name='{stream_name(page.session.record.uid)}'", 1, 5.0)
    assert len(found) == 1
    inlet = pylsl.StreamInlet(found[0])
    inlet.open_stream(5.0)
    time.sleep(0.3)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    start_btn = page.treat_start
    qtbot.mouseClick(start_btn, Qt.MouseButton.LeftButton)  # treatment start
    qtbot.wait(300)
    qtbot.mouseClick(start_btn, Qt.MouseButton.LeftButton)  # again: moved to now
    page.setFocus()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)  # a quick marker
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    markers = page.catalog.list_markers(page.session.record.id)
    assert [m.kind for m in markers] == ["treatment_start"]
    received: list[tuple[str, float]] = []
    deadline = time.monotonic() + 5.0
    while len(received) < 5 and time.monotonic() < deadline:
        sample, ts = inlet.pull_sample(timeout=0.5)
        if sample is not None:
            received.append((sample[0], ts))
    start = markers[0]
    texts = [r[0] for r in received]
    note_id = int(texts[3].split("#")[1])
    assert texts == [
        f"treatment_start #{start.id}",
        f"treatment_start #{start.id} moved",
        f"treatment_start #{start.id} moved",  # Ctrl+Z: moved back
        f"note #{note_id}",
        f"note #{note_id} withdrawn",
    ]
    outlet = page.marker_outlet
    # the first and the undone move stand at the marker's time; the move at its moved time
    assert received[0][1] == pytest.approx(outlet.lsl_time(start.t_s), abs=1e-6)
    assert received[2][1] == pytest.approx(outlet.lsl_time(start.t_s), abs=1e-6)
    assert received[1][1] > received[0][1] + 0.25
    page.finished.disconnect()
    page.stop_recording()
