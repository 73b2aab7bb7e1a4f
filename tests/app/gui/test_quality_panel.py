"""The data-quality panel in the real widgets: on its own, in the review screen, from the patient page."""

from __future__ import annotations

from app.gui.patient_page import PatientPage
from app.gui.quality_panel import QualityPanel
from app.gui.review_page import ReviewPage
from core.quality.text import NOT_RECORDED
from tests.core.quality.quality_data import (  # noqa: F401 (fixtures)
    SETTINGS,
    record_with_faults,
    recorded_fixture,
    store_fixture,
)


def test_panel_shows_verdicts_reasons_and_exact_figures(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    _, root, (rec, _) = store
    panel = QualityPanel()
    qtbot.addWidget(panel)
    panel.load(root / rec.folder)
    panel.resize(640, 1200)
    panel.show()
    assert panel.verdict == "poor"
    assert panel.overall.state == "red" and "poor" in panel.overall.text.text()
    reasons = panel.reasons.text()
    assert "Sensor link lost twice, 6.0 s in all" in reasons
    assert "Camera lost at 0:19.5; no video for the last 0.50 s" in reasons
    assert panel.sim_note.isVisibleTo(panel)
    assert "SIMULATED SESSION" in panel.sim_note.text()

    sig = panel.signals
    assert sig.light.state == "red"
    assert "of ECG + EDA samples lost in 1 gap (longest 2.0 s)" in sig.findings.text()
    t = sig.table
    assert t.horizontalHeaderItem(1).text() == "ECG + EDA"
    assert t.value("Nominal rate") == "800 Hz"
    assert t.value("Samples lost").startswith("1 600 (10.0 %)")
    assert t.value("Gaps") == "1 (longest 2.0 s)"
    assert t.value("Clock drift (sensor vs computer)") == "0.0 ppm (matches the computer's clock)"
    assert t.value("Continuous stretches") == "2"
    assert t.value("Packet arrival spread").startswith("median ")

    link = panel.link
    assert link.light.state == "red"
    assert "not back before the end (4.0 s without signal)" in link.findings.text()
    t = link.table
    assert t.value("Disconnections") == "2" and t.value("Reconnections") == "1"
    assert t.value("Outages (start, length)") == "0:03.0 for 2.0 s; 0:16.0 for 4.0 s, not back"
    assert t.value("Time without link") == "6.0 s"
    assert t.value("Battery") == "80 % at the start, 78 % at the end"
    assert t.value("Packets received") == "400"
    assert t.value("Packets with a bad CRC") == "3"
    assert t.value("Malformed packets") == "2"
    assert t.value("Duplicate packets") == "1"
    assert t.value("Sensor") == "Simulated ECG+EDA (800 Hz) · E8:31:CD:00:00:01"

    video = panel.video
    assert video.light.state == "amber"
    t = video.table
    assert t.value("Camera") == "Simulated camera (synthetic face)"
    assert t.value("Negotiated") == "160 × 120 pixels at 10 frames/s"
    assert t.value("Frames stored") == "199" and t.value("Frames dropped") == "2 (0.99 %)"
    assert t.value("Camera lost") == "at 0:19.5"
    assert t.value("Measured by the camera") == NOT_RECORDED
    # the item column is as wide in every table, so that the values line up
    assert len({s.table.columnWidth(0) for s in (sig, link, video)}) == 1


def test_panel_of_a_session_without_link_events(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    _, root, (_, rec) = store
    panel = QualityPanel()
    qtbot.addWidget(panel)
    panel.load(root / rec.folder)
    assert panel.link.light.state == "grey" and "not recorded" in panel.link.light.text.text()
    assert "Simulated sensor: it has no radio link to report" in panel.link.findings.text()
    for item in ("Disconnections", "Outages (start, length)", "Battery", "Packets with a bad CRC"):
        assert panel.link.table.value(item) == NOT_RECORDED
    assert panel.video.table.value("Camera lost") == "no"


def test_panel_says_when_a_folder_cannot_be_read(qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    panel = QualityPanel()
    qtbot.addWidget(panel)
    panel.load(tmp_path)
    assert panel.verdict is None and panel.overall.state == "grey"
    assert "could not be read" in panel.overall.text.text()
    assert not panel.signals.isVisibleTo(panel)


def test_review_screen_has_a_data_quality_tab(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    cat, root, (rec, _) = store
    page = ReviewPage(cat, root, SETTINGS)
    qtbot.addWidget(page)
    try:
        page.load(rec.id)
        i = page.tabs.indexOf(page.quality)
        assert page.tabs.tabText(i) == "Quality" and not page.tabs.tabIcon(i).isNull()
        assert page.tabs.tabToolTip(i).startswith("Data quality")
        assert page.quality.verdict == "poor"
        assert page.quality.link.table.value("Disconnections") == "2"
    finally:
        page.shutdown()


def test_patient_page_opens_the_panel_and_tells_the_reasons(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    cat, root, (rec, other) = store
    page = PatientPage(cat, root)
    qtbot.addWidget(page)
    page.show_patient(rec.patient_id)
    row = [r.id for r in page.sessions].index(rec.id)
    lost_cell = page.table.item(row, 5)
    assert "Data quality: poor" in lost_cell.toolTip()
    assert "• sensor link lost twice, 6.0 s in all" in lost_cell.toolTip()
    page.select_session(rec.id)
    page.show_quality()
    dlg = page.quality_dialog
    assert dlg is not None and dlg.isVisible()
    assert dlg.panel.link.table.value("Outages (start, length)").startswith("0:03.0 for 2.0 s")
    dlg.close()
