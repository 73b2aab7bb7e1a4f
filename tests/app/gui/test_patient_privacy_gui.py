"""The patient page's "Export patient (zip)…" as the therapist clicks it, and its delete button
erasing with the window's unlocked account (keys destroyed, in the ledger)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from tests.app.gui.test_delete_archive import _type_and_confirm
from tests.app.gui.test_patient_page import _open_from_list
from tests.app.review_data import record_short


def test_export_patient_button_writes_the_zip(win, qtbot, monkeypatch, tmp_path: Path):
    cat, root = win.catalog, win.data_root
    p = cat.add_patient("Z-1", name="Wilhelmina Zapfenstreich")
    rec = record_short(cat, root, p.id, 3.0)
    win.show_patients()
    _open_from_list(win, qtbot, "Z-1")
    page = win.patient
    target = tmp_path / "Z-1.zip"
    asked: list[str] = []

    def save_as(_parent, title, default, _filter):
        asked.append(default)
        return str(target), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_as)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    qtbot.mouseClick(page.export_patient_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Patient exported" in page.status.text(), timeout=30000)
    assert asked and asked[0].endswith("TheraScope_Z-1.zip")
    assert str(target) in page.status.text() and "1 session(s)" in page.status.text()
    assert page.export_patient_btn.isEnabled()
    assert page.last_patient_export is not None and page.last_patient_export.path == target
    with zipfile.ZipFile(target) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert [s["uid"] for s in manifest["sessions"]] == [rec.uid]
        assert all(b"Zapfenstreich" not in zf.read(n) for n in zf.namelist())


def test_delete_patient_destroys_its_keys(win, qtbot):
    cat, root = win.catalog, win.data_root
    assert win.unlocked is not None and win.patient.unlocked is win.unlocked
    p = cat.add_patient("Z-2")
    rec = record_short(cat, root, p.id, 3.0)
    win.unlocked.session_key(rec.uid, p.uuid)
    win.show_patients()
    _open_from_list(win, qtbot, "Z-2")
    page = win.patient
    qtbot.mouseClick(page.delete_btn, Qt.MouseButton.LeftButton)
    _type_and_confirm(qtbot, page, "Z-2")
    assert cat.get_patient(p.id) is None and not (root / rec.folder).exists()
    ledger = {(e.kind, e.id) for e in win.unlocked.ledger()}
    assert {("patient", p.uuid), ("session", rec.uid)} <= ledger
    assert win.stack.currentWidget() is win.patients
