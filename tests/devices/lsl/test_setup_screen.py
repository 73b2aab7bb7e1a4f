"""The set-up screen lists an LSL stream beside the Bluetooth sensors; chosen and tested through the
real widgets, it is recorded like any sensor and the session's markers go out as an LSL stream."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.gui.main import create_window
from core.recording.reader import open_session
from devices.lsl.config import load_pylsl
from devices.lsl.markers import stream_name
from tests.app.conftest import app_env as app_env  # the GUI tests' data folder and account
from tests.devices.lsl.test_live_outlet import Outlet


def test_an_lsl_stream_is_chosen_tested_and_recorded_from_the_scan_list(
    qtbot,
    app_env,  # noqa: F811
    tmp_path: Path,
    monkeypatch,
) -> None:
    sid = f"gui-{time.monotonic_ns()}"
    outlet = Outlet(tmp_path, "gui", "--seconds", "6", "--source-id", sid, "--counter", wait=False)
    try:
        win, _ = create_window(demo=False)
        qtbot.addWidget(win)
        win.show()
        p = win.catalog.add_patient("LSL-GUI")
        win.show_record(p.id)
        page, panel = win.record, win.record.devices
        outlet.ready()
        qtbot.mouseClick(panel.scan_btn, Qt.MouseButton.LeftButton)  # Bluetooth and LSL
        qtbot.waitUntil(lambda: "lsl" not in panel.busy, timeout=10_000)
        assert "Lab Streaming Layer stream" in panel.lsl_status.text()
        assert "on this computer" in panel.lsl_status.text()
        items = [panel.sensor_combo.itemData(i) for i in range(panel.sensor_combo.count())]
        mine = [i for i, d in enumerate(items) if d[0] == "lsl" and d[2].source_id == sid]
        assert len(mine) == 1
        assert "LSL stream: TheraScope synthetic ECG+EDA" in panel.sensor_combo.itemText(mine[0])
        panel.sensor_combo.setCurrentIndex(mine[0])
        assert panel.blocking_problem() == "Connect the LSL stream first (Connect and test signal)."
        panel.camera_combo.setCurrentIndex(panel.camera_combo.findData(("none",)))
        qtbot.mouseClick(panel.connect_btn, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: panel.sensor is not None, timeout=10_000)
        # a synthetic outlet: said so from the start
        assert panel.sensor_state.text() == "Simulated sensor running · ECG/EDA 1000 Hz (mV, µS)"
        qtbot.waitUntil(lambda: "of 1,000 Hz" in panel.sensor_light.text.text(), timeout=10_000)
        assert panel.blocking_problem() is None
        page.consent.setChecked(True)
        page.settings.lsl_markers = (
            True  # Settings → Publish the session's markers (off by default)
        )
        monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
        qtbot.mouseClick(page.start_btn, Qt.MouseButton.LeftButton)
        assert page.recording and page.session is not None
        assert page.sim_banner.isVisible()  # a synthetic stream is never taken for a patient's
        pylsl = load_pylsl()
        found = pylsl.resolve_bypred(f"name='{stream_name(page.session.record.uid)}'", 1, 5.0)
        assert len(found) == 1 and "LSL-GUI" not in found[0].name()  # the session, not the code
        qtbot.wait(600)
        # the review screen that follows a recording (and its physiology) is tested elsewhere
        page.finished.disconnect()
        sid_ = page.stop_recording()
        assert sid_ is not None
        data = open_session(win.data_root / win.catalog.get_session(sid_).folder)
        assert data.manifest["simulated"]  # the synthetic outlet says so: labelled simulated
        bio = next(iter(data.streams.values()))
        assert bio.info.channels == ("ECG", "EDA") and bio.n_received > 500
        assert data.manifest["devices"]["sensor"]["lsl"]["source_id"] == sid
        win.close()
    finally:
        outlet.kill()
