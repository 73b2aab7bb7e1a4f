"""The set-up screen and the recording screen give the same recording time for the same disk."""

from __future__ import annotations

import re

from PySide6.QtCore import QPoint, Qt

from app.demo.simulation import record_simulated


def minutes_of(text: str) -> str:
    m = re.search(r"([\d,]+ min(?: \([\d,]+ h\))?)", text)
    assert m, text
    return m.group(1)


def test_set_up_and_recording_screens_agree(win, qtbot):
    page = win.record
    p = win.catalog.add_patient("DISK-1")
    # an earlier session with this camera measured the real storage rate
    record_simulated(win.catalog, win.data_root, p.id, 30.0, settings=page.settings)
    win.show_record(p.id)
    setup = page.setup_disk.text()
    assert "measured in the last session with this camera" in setup, setup
    box = page.consent.rect()
    qtbot.mouseClick(page.consent, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    qtbot.mouseClick(page.start_btn, Qt.MouseButton.LeftButton)
    assert page.recording
    qtbot.waitUntil(lambda: "min" in page.lights["disk"].text.text(), timeout=5000)
    live = page.lights["disk"].text.text()
    page.stop_recording()
    qtbot.waitUntil(lambda: not page.recording and not page.saving, timeout=30000)
    assert minutes_of(live) == minutes_of(setup), (setup, live)


def test_set_up_says_when_the_time_is_only_estimated(win):
    p = win.catalog.add_patient("DISK-2")
    win.show_record(p.id)
    assert "estimated: no session with this camera yet" in win.record.setup_disk.text()
