"""Archive and delete from the patient page, confirmed by typing the code or uid, as the therapist
clicks through them; the demo patient stays deleted at the next start."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.demo.patient import DEMO_CODE, demo_patient_wanted, ensure_demo_patient
from app.gui.main import create_window
from core.catalog import Catalog
from tests.app.gui.test_patient_page import _open_from_list, column
from tests.app.review_data import make_analysed, record_short


def _type_and_confirm(qtbot, page, text: str) -> None:
    """In the open confirmation dialog: the button stays off until ``text`` is typed exactly."""
    dlg = page.confirm_dialog
    assert dlg is not None and dlg.isVisible()
    assert not dlg.ok_btn.isEnabled()
    qtbot.keyClicks(dlg.field, text[:-1])
    assert not dlg.ok_btn.isEnabled()
    qtbot.keyClicks(dlg.field, text[-1])
    assert dlg.ok_btn.isEnabled()
    qtbot.mouseClick(dlg.ok_btn, Qt.MouseButton.LeftButton)
    assert page.confirm_dialog is None


def _row_of_session(table, session_id: int) -> int:
    return next(
        i
        for i in range(table.rowCount())
        if table.item(i, 0).data(Qt.ItemDataRole.UserRole) == session_id
    )


def test_delete_a_session_after_typing_its_uid(win, qtbot):
    cat, root = win.catalog, win.data_root
    p = cat.add_patient("D-1")
    rec, _ = make_analysed(cat, root, p.id)
    cat.set_self_report(rec.id, "pre", sam_valence=3)
    keep = record_short(cat, root, p.id, 3.0)
    win.show_patients()
    _open_from_list(win, qtbot, "D-1")
    page = win.patient
    page.table.selectRow(_row_of_session(page.table, rec.id))
    qtbot.mouseClick(page.delete_session_btn, Qt.MouseButton.LeftButton)
    assert rec.uid in page.confirm_dialog.findChild(type(page.status)).text()
    # a wrong text (another session's uid) never enables the button
    qtbot.keyClicks(page.confirm_dialog.field, keep.uid)
    assert not page.confirm_dialog.ok_btn.isEnabled()
    page.confirm_dialog.field.clear()
    _type_and_confirm(qtbot, page, rec.uid)
    assert cat.get_session(rec.id) is None and not (root / rec.folder).exists()
    assert cat.self_reports(rec.id) == {} and cat.latest_analysis(rec.id) is None
    assert (root / keep.folder).is_dir() and cat.get_session(keep.id) is not None
    assert page.table.rowCount() == 1 and page.selected_session() == cat.get_session(keep.id)
    assert f"Session {rec.uid} deleted" in page.status.text()
    entries = {(e.action, e.entity) for e in cat.audit_log(entity_id=rec.id)}
    assert {("delete", "session"), ("delete", "session_folder")} <= entries


def test_cancel_deletes_nothing_and_a_recording_session_is_refused(win, qtbot, monkeypatch):
    cat, root = win.catalog, win.data_root
    p = cat.add_patient("D-2")
    rec = record_short(cat, root, p.id, 3.0)
    win.show_patients()
    _open_from_list(win, qtbot, "D-2")
    page = win.patient
    qtbot.mouseClick(page.delete_session_btn, Qt.MouseButton.LeftButton)
    dlg = page.confirm_dialog
    qtbot.keyClicks(dlg.field, rec.uid)
    cancel = dlg.buttons.button(dlg.buttons.StandardButton.Cancel)
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    assert page.confirm_dialog is None and cat.get_session(rec.id) is not None
    assert (root / rec.folder).is_dir()
    qtbot.mouseClick(page.delete_btn, Qt.MouseButton.LeftButton)
    qtbot.keyClick(page.confirm_dialog.field, Qt.Key.Key_Escape)
    assert cat.get_patient(p.id) is not None

    live = cat.create_session(
        p.id, "live-0001", "2030-01-01T09:30:00+00:00", {}, {},
        "2030-01-01T09:29:00+00:00", "verbal", True, "sessions/live-0001",
    )  # fmt: skip
    told: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: told.append(a[2]))
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: told.append(a[2]))
    page.refresh()
    page.table.selectRow(_row_of_session(page.table, live.id))
    qtbot.mouseClick(page.delete_session_btn, Qt.MouseButton.LeftButton)
    assert told == ["This session is still recording."] and page.confirm_dialog is None
    # deleting the patient is refused too, after the code was typed: nothing goes
    qtbot.mouseClick(page.delete_btn, Qt.MouseButton.LeftButton)
    _type_and_confirm(qtbot, page, "D-2")
    assert "still recording" in told[-1]
    assert cat.get_patient(p.id) is not None and (root / rec.folder).is_dir()
    assert win.stack.currentWidget() is page


def test_delete_a_patient_after_typing_its_code(win, qtbot):
    cat, root = win.catalog, win.data_root
    p = cat.add_patient("D-3", name="Dana Delete")
    recs = [make_analysed(cat, root, p.id)[0], record_short(cat, root, p.id, 3.0)]
    other = cat.add_patient("D-4")
    theirs = record_short(cat, root, other.id, 3.0)
    win.show_patients()
    _open_from_list(win, qtbot, "D-3")
    page = win.patient
    qtbot.mouseClick(page.delete_btn, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(page.confirm_dialog.field, "d-3")  # not as shown: refused
    assert not page.confirm_dialog.ok_btn.isEnabled()
    page.confirm_dialog.field.clear()
    _type_and_confirm(qtbot, page, "D-3")
    assert win.stack.currentWidget() is win.patients
    assert column(win.patients.table, 0) == ["D-4"]
    assert cat.get_patient(p.id) is None
    for r in recs:
        assert cat.get_session(r.id) is None and not (root / r.folder).exists()
    assert (root / theirs.folder).is_dir()
    assert cat.audit_log(entity="patient", entity_id=p.id)[0].action == "delete"
    for e in cat.audit_log(limit=1000):
        assert "Dana" not in e.detail


def test_archive_then_unarchive_through_the_pages(win, qtbot):
    cat = win.catalog
    p = cat.add_patient("D-5")
    cat.add_patient("D-6")
    win.show_patients()
    _open_from_list(win, qtbot, "D-5")
    page = win.patient
    assert page.archive_btn.text() == "Archive patient…"
    qtbot.mouseClick(page.archive_btn, Qt.MouseButton.LeftButton)
    dlg = page.confirm_dialog
    qtbot.keyClicks(dlg.field, "D-")
    qtbot.keyClick(dlg.field, Qt.Key.Key_Return)  # Enter does nothing until the code matches
    assert page.confirm_dialog is dlg and dlg.isVisible() and not cat.get_patient(p.id).archived
    qtbot.keyClicks(dlg.field, "5")
    qtbot.keyClick(dlg.field, Qt.Key.Key_Return)
    assert page.confirm_dialog is None
    assert cat.get_patient(p.id).archived
    assert win.stack.currentWidget() is win.patients
    assert column(win.patients.table, 0) == ["D-6"]
    qtbot.mouseClick(win.patients.show_archived, Qt.MouseButton.LeftButton)
    assert column(win.patients.table, 0) == ["D-5  (archived)", "D-6"]
    _open_from_list(win, qtbot, "D-5")
    assert page.title.text() == "Patient D-5  (archived)"
    assert not page.new_btn.isEnabled()  # unarchive first to record
    assert page.archive_btn.text() == "Unarchive patient"
    qtbot.mouseClick(page.archive_btn, Qt.MouseButton.LeftButton)  # no typing to bring back
    assert not cat.get_patient(p.id).archived
    assert page.title.text() == "Patient D-5" and page.new_btn.isEnabled()
    qtbot.mouseClick(page.back_btn, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(win.patients.show_archived, Qt.MouseButton.LeftButton)
    assert column(win.patients.table, 0) == ["D-5", "D-6"]
    changes = [e for e in cat.audit_log(entity="patient", entity_id=p.id) if e.action != "open"]
    details = [e.detail for e in changes[:2]]
    assert details == ["code=D-5; unarchived", "code=D-5; archived"]


def test_a_deleted_demo_patient_is_not_built_again(qtbot, app_env):
    from core.config import demo_dir

    root = demo_dir()  # the demo patient lives in the demo data folder
    with Catalog.open(root / "catalog.sqlite") as cat:
        ensure_demo_patient(cat, root, sessions=(("anxious_to_calm", 0.05, 1, 0.0),))
    w, _ = create_window(demo=True, build_demo=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    demo = w.catalog.patient_by_code(DEMO_CODE)
    (folder,) = [s.folder for s in w.catalog.list_sessions(patient_id=demo.id)]
    _open_from_list(w, qtbot, DEMO_CODE)
    qtbot.mouseClick(w.patient.delete_btn, Qt.MouseButton.LeftButton)
    assert "not be built again" in w.patient.confirm_dialog.findChild(type(w.patient.status)).text()
    _type_and_confirm(qtbot, w.patient, DEMO_CODE)
    assert w.catalog.patient_by_code(DEMO_CODE) is None and not (root / folder).exists()
    assert not demo_patient_wanted(w.catalog)
    w.close()
    w.catalog.close()

    again, _ = create_window(demo=True)  # the next start, in demo mode
    qtbot.addWidget(again)
    assert again.demo_job is None and again.demo_progress.isHidden()
    assert again.catalog.patient_by_code(DEMO_CODE) is None
    assert again.patients.table.rowCount() == 0 and "New patient" in again.patients.empty.text()
    # on request it comes back, and the app then keeps it complete again
    ensure_demo_patient(again.catalog, root, sessions=(("anxious_to_calm", 0.05, 2, 0.0),))
    assert demo_patient_wanted(again.catalog)
    again.close()


def test_an_archived_demo_patient_is_still_kept_complete(app_env):
    from core.config import data_dir

    root = data_dir()
    with Catalog.open(root / "catalog.sqlite") as cat:
        demo = ensure_demo_patient(cat, root, sessions=())
        cat.archive_patient(demo.id)
        assert demo_patient_wanted(cat)
        again = ensure_demo_patient(cat, root, sessions=(("anxious_to_calm", 0.05, 3, 0.0),))
        assert again.id == demo.id and cat.get_patient(demo.id).archived
        assert len(cat.list_sessions(patient_id=demo.id)) == 1
