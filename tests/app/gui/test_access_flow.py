"""The therapist's way in: the first start on a clinic's data folder creates its first account
(and shows the recovery key), every later start asks for a password, the window locks after
idle time but never while recording, and the demo data folder needs no account."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from app.gui.main import create_window


@pytest.fixture
def no_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clinic data folder without an account and no credentials in the environment."""
    monkeypatch.setattr("app.gui.record_page.RecordPage.auto_find_devices", False)
    monkeypatch.setenv("THERASCOPE_DATA_DIR", str(tmp_path / "clinic"))
    monkeypatch.setenv("THERASCOPE_DEMO_DIR", str(tmp_path / "demo"))
    monkeypatch.setenv("THERASCOPE_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.delenv("THERASCOPE_USER", raising=False)
    monkeypatch.delenv("THERASCOPE_PASSWORD_FILE", raising=False)
    return tmp_path / "clinic"


def _when_modal(qtbot, act) -> None:  # type: ignore[no-untyped-def]
    """Run ``act(dialog)`` on the modal dialog that is about to be shown with exec()."""

    def poll() -> None:
        dlg = QApplication.activeModalWidget()
        if dlg is None:
            QTimer.singleShot(50, poll)
            return
        act(dlg)

    QTimer.singleShot(50, poll)


def test_first_start_creates_the_first_account_then_login_and_lock(no_account, qtbot):  # type: ignore[no-untyped-def]
    def first(dlg) -> None:  # type: ignore[no-untyped-def]
        qtbot.keyClicks(dlg.name, "dr.amsel")
        qtbot.keyClicks(dlg.fields.password, "a long clinic password")
        qtbot.keyClicks(dlg.fields.repeat, "a long clinic password")
        qtbot.mouseClick(dlg.create_btn, Qt.MouseButton.LeftButton)
        rec = dlg.recovery_dialog
        assert len(rec.text.replace("-", "").replace(" ", "")) == 56
        assert not rec.continue_btn.isEnabled()
        qtbot.mouseClick(rec.written_box, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(rec.continue_btn, Qt.MouseButton.LeftButton)

    _when_modal(qtbot, first)
    win, _ = create_window(demo=False)
    qtbot.addWidget(win)
    assert win is not None and win.unlocked.account.name == "dr.amsel"
    assert "dr.amsel" in win.windowTitle() and (no_account / "keys.json").exists()
    p = win.catalog.add_patient("AF-1")
    assert win.catalog.audit_log(entity="patient", entity_id=p.id)[0].account == "dr.amsel"
    first = win.catalog.audit_log(entity="account")
    assert [(e.action, e.detail, e.account) for e in first] == [
        ("create", "account=dr.amsel; first", "dr.amsel")
    ]
    win.close()
    win.catalog.close()

    # the next start asks for the password: a wrong one is refused in words, the right one opens
    def login(dlg) -> None:  # type: ignore[no-untyped-def]
        qtbot.keyClicks(dlg.password, "not it at all")
        qtbot.mouseClick(dlg.unlock_btn, Qt.MouseButton.LeftButton)
        assert "Wrong name or password." in dlg.error.text() and dlg.isVisible()
        qtbot.keyClicks(dlg.password, "a long clinic password")
        qtbot.mouseClick(dlg.unlock_btn, Qt.MouseButton.LeftButton)

    _when_modal(qtbot, login)
    win, _ = create_window(demo=False)
    qtbot.addWidget(win)
    assert win.unlocked.account.name == "dr.amsel" and win.clinic_menu is not None
    win.show()
    qtbot.waitExposed(win)

    # idle: the window locks; the password opens it again
    win.settings.lock_minutes = 0.3 / 60  # 0.3 s without input
    qtbot.waitUntil(lambda: win.idle_lock.locked, timeout=5000)
    lock = win.idle_lock.dialog
    qtbot.keyClick(lock, Qt.Key.Key_Escape)
    assert lock.isVisible()  # Escape does not open a locked window
    qtbot.keyClicks(lock.password, "a long clinic password")
    qtbot.mouseClick(lock.unlock_btn, Qt.MouseButton.LeftButton)
    assert not win.idle_lock.locked

    # while a session is recorded the window never locks
    recording = {"on": True}
    win.idle_lock.busy = lambda: recording["on"]
    qtbot.wait(800)
    assert not win.idle_lock.locked
    recording["on"] = False
    qtbot.waitUntil(lambda: win.idle_lock.locked, timeout=5000)
    lock = win.idle_lock.dialog
    qtbot.keyClicks(lock.password, "a long clinic password")
    qtbot.mouseClick(lock.unlock_btn, Qt.MouseButton.LeftButton)
    win.settings.lock_minutes = 0
    win.close()


def test_cancelling_the_login_opens_nothing(no_account, qtbot):  # type: ignore[no-untyped-def]
    from core.security.access import create_first_account
    from tests.accounts import FAST_KDF

    create_first_account(no_account, "admin", "a long clinic password", kdf=FAST_KDF)
    _when_modal(qtbot, lambda dlg: qtbot.mouseClick(dlg.cancel_btn, Qt.MouseButton.LeftButton))
    win, messages = create_window(demo=False)
    assert win is None and messages == []


def test_the_demo_data_folder_opens_without_an_account(no_account, qtbot):  # type: ignore[no-untyped-def]
    win, _ = create_window(demo=True, build_demo=False)
    qtbot.addWidget(win)
    assert win.unlocked is None and win.clinic_menu is None and win.idle_lock is None
    assert "DEMO DATA" in win.windowTitle()
    assert win.data_root == no_account.parent / "demo"
    assert not (no_account / "keys.json").exists()
    win.close()


def test_opening_a_patient_and_a_session_is_audited_with_the_account(win, qtbot) -> None:  # type: ignore[no-untyped-def]
    from tests.app.gui.test_patient_page import _open_from_list
    from tests.app.review_data import record_short

    p = win.catalog.add_patient("AUD-1")
    rec = record_short(win.catalog, win.data_root, p.id, 2.0)
    win.show_patients()
    _open_from_list(win, qtbot, "AUD-1")
    win.patient.table.selectRow(0)
    qtbot.mouseClick(win.patient.review_btn, Qt.MouseButton.LeftButton)
    opens = [
        (e.entity, e.entity_id, e.detail, e.account)
        for e in win.catalog.audit_log(limit=20)
        if e.action == "open"
    ]
    assert ("patient", p.id, "page", "tester") in opens
    assert ("session", rec.id, "review", "tester") in opens


def test_a_window_for_an_account_already_unlocked(no_account, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Scripts (the walkthrough, benchmarks) hand the window an account they unlocked."""
    from core.security.access import create_first_account
    from tests.accounts import FAST_KDF

    unlocked, _ = create_first_account(no_account, "boss", "a long clinic password", kdf=FAST_KDF)
    win, _ = create_window(demo=False, unlocked=unlocked)
    qtbot.addWidget(win)
    assert win.unlocked is unlocked and win.catalog.account == "boss"
    assert win.catalog.audit_log(entity="account") == []  # not created by this start
    win.close()
