"""SUDS while recording (issue 19, item 3), through the real record screen during a simulated
recording: S opens the entry for that moment, out of range is refused in words with nothing
stored, the button saves the rating at the moment S was pressed, the live view shows it, S typed
into the marker text stays a letter; the rating travels with the markers in the CSV and EDF+
exports and comes back from the EDF+ file as a rating."""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from core.config import Settings
from core.formats.edf import read_edf
from core.transfer.export import export_session
from core.transfer.markers import suds_from_text
from tests.app.gui.test_record_markers import press, start, stop, win  # noqa: F401  (fixture)


def test_s_opens_the_suds_entry_and_the_rating_belongs_to_the_press(
    win,  # noqa: F811
    qtbot,
    monkeypatch,
    tmp_path: Path,
) -> None:
    page = start(win, qtbot, "SUDS-1")
    sid = page.session.record.id
    qtbot.wait(600)
    page.setFocus()
    press(qtbot, Qt.Key.Key_S)
    dialog = page.suds_dialog
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    pressed_at = dialog.t_s
    assert 0.3 < pressed_at < page.session.elapsed_s()
    assert "asked at" in dialog.findChildren(type(dialog.error))[0].text()
    qtbot.wait(700)  # the therapist asks, the patient answers: the number comes later
    # out of range: refused in words, nothing stored, the entry stays open
    qtbot.keyClicks(dialog.field, "150")
    qtbot.mouseClick(dialog.save_btn, Qt.MouseButton.LeftButton)
    assert "from 0 to 100" in dialog.error.text() and "150" in dialog.error.text()
    assert dialog.isVisible() and page.catalog.list_suds(sid) == []
    dialog.field.clear()
    qtbot.keyClicks(dialog.field, "65")
    assert dialog.error.text() == ""
    qtbot.mouseClick(dialog.save_btn, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible() and page.suds_dialog is None
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)  # the keyboard is back
    (r,) = page.catalog.list_suds(sid)
    assert r.rating == 65 and r.t_s == round(pressed_at, 3)  # the moment of the press
    assert page.session.elapsed_s() > r.t_s + 0.5
    assert page.suds.text().startswith("65") and "SUDS 65" in page.markers_label.text()
    # S typed into the marker text is a letter there, not a SUDS entry
    qtbot.mouseClick(page.marker_edit, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(page.marker_edit, "sighs")
    assert page.marker_edit.text() == "sighs" and page.suds_dialog is None
    press(qtbot, Qt.Key.Key_Return)  # Enter keeps its job: the typed marker
    # Esc closes a second entry without a rating
    press(qtbot, Qt.Key.Key_S)
    second = page.suds_dialog
    assert second is not None and second.isVisible()
    qtbot.keyClick(second.field, Qt.Key.Key_Escape)
    assert not second.isVisible() and len(page.catalog.list_suds(sid)) == 1
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
    uid = page.session.record.uid
    stop(win, qtbot, monkeypatch)

    # exported with the markers: CSV and EDF+ annotations
    res = export_session(
        win.catalog, page.data_root, uid, "csv", tmp_path / "csv", settings=Settings()
    )
    with open(tmp_path / "csv" / "markers.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {"kind": "suds", "label": "65"}.items() <= next(
        x for x in rows if x["kind"] == "suds"
    ).items()
    suds_row = next(x for x in rows if x["kind"] == "suds")
    assert float(suds_row["time_s"]) == r.t_s
    assert [x["label"] for x in rows if x["kind"] == "note"] == ["sighs"]
    assert res.markers == len(rows) == 2
    edf = tmp_path / "session.edf"
    export_session(win.catalog, page.data_root, uid, "edf", edf, settings=Settings())
    back = read_edf(edf)
    texts = [a.text for a in back.annotations]
    assert "suds: 65" in texts and suds_from_text("suds: 65") == 65
