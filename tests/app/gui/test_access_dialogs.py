"""The account dialogs as people use them: real fields typed into, real buttons clicked, over a
key store made with cheap Argon2id settings."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel, QMessageBox, QWidget

from app.gui.access_dialogs import (
    AccountsDialog,
    AuditDialog,
    ChangePasswordDialog,
    FirstAccountDialog,
    LockDialog,
    LoginDialog,
)
from core.catalog import Catalog
from core.security.access import create_first_account, unlock
from core.security.keystore import (
    KdfParams,
    KeyStore,
    Unlocked,
    WrongPasswordError,
    parse_recovery_key,
)

#: cheap Argon2id settings so the tests run fast (the defaults stay memory-hard)
FAST = KdfParams(time_cost=1, memory_cost=64, parallelism=1)
ADMIN_PW = "correct horse battery"
THERA_PW = "therapist password 1"
NEW_PW = "a brand new password"
LEFT = Qt.MouseButton.LeftButton


class FakeClock:
    def __init__(self) -> None:
        self.t = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


@pytest.fixture
def admin(tmp_path: Path) -> tuple[Path, Unlocked, str]:
    """A data folder with one administrator, "Admin": (folder, unlocked, recovery key)."""
    root = tmp_path / "data"
    unlocked, recovery = create_first_account(root, "Admin", ADMIN_PW, kdf=FAST)
    return root, unlocked, recovery


def _show(qtbot, dlg):
    qtbot.addWidget(dlg)
    dlg.open()
    qtbot.waitExposed(dlg)
    return dlg


# -- first account ------------------------------------------------------------------------------


def _fill_first(qtbot, dlg: FirstAccountDialog, name: str, pw: str, repeat: str) -> None:
    for field, text in ((dlg.name, name), (dlg.fields.password, pw), (dlg.fields.repeat, repeat)):
        field.clear()
        qtbot.keyClicks(field, text)


def test_first_account_made_and_its_recovery_key_shown_once(qtbot, tmp_path):
    root = tmp_path / "data"
    dlg = _show(qtbot, FirstAccountDialog(root, kdf=FAST))
    assert not dlg.create_btn.isEnabled()
    intro = " ".join(w.text() for w in dlg.findChildren(QLabel))
    assert "first account" in intro and "patient data" in intro and "administrator" in intro
    _fill_first(qtbot, dlg, "Admin", ADMIN_PW, ADMIN_PW)
    assert dlg.create_btn.isEnabled()
    assert dlg.fields.password.echoMode() == dlg.fields.password.EchoMode.Password
    qtbot.mouseClick(dlg.create_btn, LEFT)

    rec = dlg.recovery_dialog
    assert rec is not None and rec.isVisible() and dlg.isVisible()
    assert len(parse_recovery_key(rec.key_label.text())) == 32
    assert rec.key_label.textFormat() == Qt.TextFormat.PlainText
    assert rec.key_label.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
    fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    assert rec.key_label.font().family() == fixed.family()
    assert rec.key_label.font().pointSize() > fixed.pointSize()
    words = " ".join(w.text() for w in rec.findChildren(QLabel))
    assert "paper" in words and "only this once" in words and "every password is lost" in words
    qtbot.mouseClick(rec.copy_btn, LEFT)
    assert QApplication.clipboard().text() == rec.key_label.text()

    # Continue only once the box is ticked; Escape closes neither dialog
    assert not rec.continue_btn.isEnabled()
    qtbot.mouseClick(rec.continue_btn, LEFT)
    qtbot.keyClick(rec, Qt.Key.Key_Escape)
    assert rec.isVisible() and dlg.isVisible()
    rec.written_box.click()
    assert rec.continue_btn.isEnabled()
    qtbot.mouseClick(rec.continue_btn, LEFT)
    assert not rec.isVisible() and not dlg.isVisible()
    assert dlg.result() == dlg.DialogCode.Accepted
    assert dlg.unlocked is not None
    assert (dlg.unlocked.account.name, dlg.unlocked.account.role) == ("Admin", "admin")
    # the key shown is the folder's recovery key
    store = KeyStore.open(root / "keys.json")
    assert store.unlock_with_recovery(rec.key_label.text()).account.role == "admin"


def test_first_account_works_with_exec_before_any_window(qtbot, tmp_path):
    root = tmp_path / "data"
    dlg = FirstAccountDialog(root, kdf=FAST)
    qtbot.addWidget(dlg)

    def use_it() -> None:
        _fill_first(qtbot, dlg, "Admin", ADMIN_PW, ADMIN_PW)
        qtbot.mouseClick(dlg.create_btn, LEFT)
        assert dlg.recovery_dialog is not None
        dlg.recovery_dialog.written_box.click()
        qtbot.mouseClick(dlg.recovery_dialog.continue_btn, LEFT)

    QTimer.singleShot(0, use_it)
    assert dlg.exec() == dlg.DialogCode.Accepted
    assert dlg.unlocked is not None and dlg.unlocked.account.name == "Admin"


def test_first_account_refuses_mismatched_and_short_passwords(qtbot, tmp_path):
    root = tmp_path / "data"
    dlg = _show(qtbot, FirstAccountDialog(root, kdf=FAST))
    _fill_first(qtbot, dlg, "Admin", ADMIN_PW, ADMIN_PW + "x")
    qtbot.mouseClick(dlg.create_btn, LEFT)
    assert "not the same" in dlg.error.text()
    assert dlg.fields.password.text() == "" and dlg.recovery_dialog is None
    assert not root.exists()

    _fill_first(qtbot, dlg, "Admin", "short", "short")
    qtbot.mouseClick(dlg.create_btn, LEFT)
    assert dlg.error.text() == "A password needs at least 10 characters."
    assert dlg.recovery_dialog is None and dlg.unlocked is None and dlg.isVisible()
    assert not root.exists()  # nothing written

    _fill_first(qtbot, dlg, "   ", ADMIN_PW, ADMIN_PW)
    assert not dlg.create_btn.isEnabled()  # a name of spaces is no name
    qtbot.mouseClick(dlg.cancel_btn, LEFT)
    assert dlg.result() == dlg.DialogCode.Rejected and not root.exists()


# -- login --------------------------------------------------------------------------------------


def test_login_wrong_password_lockout_and_right_password(qtbot, tmp_path):
    clock = FakeClock()
    root = tmp_path / "data"
    KeyStore.create(root / "keys.json", "Admin", ADMIN_PW, kdf=FAST, now=clock)
    dlg = _show(qtbot, LoginDialog(root, kdf=FAST, now=clock))
    assert dlg.name.currentText() == "Admin"  # the only account, preselected
    assert dlg.unlock_btn.isDefault()
    assert not dlg.unlock_btn.isEnabled()

    for _ in range(5):
        qtbot.keyClicks(dlg.password, "not the password")
        qtbot.mouseClick(dlg.unlock_btn, LEFT)
        assert dlg.error.text() == "Wrong name or password."
        assert dlg.password.text() == "" and dlg.isVisible()
    qtbot.keyClicks(dlg.password, ADMIN_PW)
    qtbot.mouseClick(dlg.unlock_btn, LEFT)  # locked: even the right password waits
    assert "locked until" in dlg.error.text() and dlg.unlocked is None

    clock.advance(31)
    qtbot.keyClicks(dlg.password, ADMIN_PW)
    qtbot.keyClick(dlg.password, Qt.Key.Key_Return)
    assert dlg.result() == dlg.DialogCode.Accepted and not dlg.isVisible()
    assert dlg.unlocked is not None and dlg.unlocked.account.name == "Admin"


def test_login_with_several_accounts_names_none_and_unknown_name_is_refused(qtbot, admin):
    root, unlocked, _ = admin
    unlocked.add_account("thera", THERA_PW)
    dlg = _show(qtbot, LoginDialog(root, kdf=FAST))
    assert dlg.name.currentText() == ""
    assert [dlg.name.itemText(i) for i in range(dlg.name.count())] == ["Admin", "thera"]
    qtbot.keyClicks(dlg.name.lineEdit(), "nobody")
    qtbot.keyClicks(dlg.password, THERA_PW)
    qtbot.mouseClick(dlg.unlock_btn, LEFT)
    assert dlg.error.text() == "Wrong name or password."
    dlg.name.lineEdit().clear()
    qtbot.keyClicks(dlg.name.lineEdit(), "thera")
    qtbot.keyClicks(dlg.password, THERA_PW)
    qtbot.mouseClick(dlg.unlock_btn, LEFT)
    assert dlg.unlocked is not None and dlg.unlocked.account == unlocked.store.accounts()[1]


def test_forgotten_password_reset_with_the_recovery_key(qtbot, admin):
    root, _, recovery = admin
    dlg = _show(qtbot, LoginDialog(root, kdf=FAST))
    qtbot.mouseClick(dlg.forgot_btn, LEFT)
    rec = dlg.recovery_dialog
    assert rec is not None and rec.isVisible() and not rec.step_two.isVisible()

    qtbot.keyClicks(rec.key_field, "ABCD-EFGH")
    qtbot.mouseClick(rec.check_btn, LEFT)
    assert "recovery key has 56" in rec.error.text() and not rec.step_two.isVisible()
    rec.key_field.clear()
    qtbot.keyClicks(rec.key_field, recovery.lower())  # case does not matter
    qtbot.mouseClick(rec.check_btn, LEFT)
    assert rec.step_two.isVisible() and rec.error.text() == ""
    assert rec.account.currentText() == "Admin"

    qtbot.keyClicks(rec.fields.password, NEW_PW)
    qtbot.keyClicks(rec.fields.repeat, NEW_PW + "!")
    qtbot.mouseClick(rec.reset_btn, LEFT)
    assert "not the same" in rec.error.text()
    qtbot.keyClicks(rec.fields.password, NEW_PW)
    qtbot.keyClicks(rec.fields.repeat, NEW_PW)
    qtbot.mouseClick(rec.reset_btn, LEFT)
    assert not rec.isVisible() and not dlg.isVisible()
    assert dlg.result() == dlg.DialogCode.Accepted
    assert dlg.unlocked is not None and dlg.unlocked.account.name == "Admin"
    assert dlg.unlocked.account.role == "admin"

    assert unlock(root, "Admin", NEW_PW).account.name == "Admin"
    with pytest.raises(WrongPasswordError):
        unlock(root, "Admin", ADMIN_PW)


# -- lock ---------------------------------------------------------------------------------------


def test_lock_dialog_covers_the_window_ignores_escape_and_checks_the_password(qtbot, admin):
    root, unlocked, _ = admin
    main = QWidget()
    qtbot.addWidget(main)
    main.setGeometry(100, 80, 900, 640)
    main.show()
    qtbot.waitExposed(main)
    dlg = LockDialog(unlocked, main)
    finished: list[int] = []
    dlg.finished.connect(finished.append)
    dlg.open()
    qtbot.waitExposed(dlg)
    assert dlg.title.text() == "TheraScope is locked — Admin"
    assert dlg.geometry() == main.geometry()
    main.setGeometry(60, 40, 1100, 700)
    qtbot.waitUntil(lambda: dlg.geometry() == main.geometry())

    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    qtbot.keyClick(dlg.password, Qt.Key.Key_Escape)
    dlg.close()
    assert dlg.isVisible() and finished == []

    qtbot.keyClicks(dlg.password, "not the password")
    qtbot.mouseClick(dlg.unlock_btn, LEFT)
    assert dlg.error.text() == "Wrong password." and dlg.isVisible()
    assert dlg.password.text() == ""
    # counted like any login
    keys = json.loads((root / "keys.json").read_text(encoding="utf-8"))
    assert keys["accounts"][0]["failed_attempts"] == 1

    qtbot.keyClicks(dlg.password, ADMIN_PW)
    qtbot.mouseClick(dlg.unlock_btn, LEFT)
    assert dlg.result() == dlg.DialogCode.Accepted and not dlg.isVisible()
    assert dlg.unlocked is not None and dlg.unlocked.account.name == "Admin"


def test_lock_dialog_quit_rejects(qtbot, admin):
    _, unlocked, _ = admin
    dlg = _show(qtbot, LockDialog(unlocked))
    qtbot.mouseClick(dlg.quit_btn, LEFT)
    assert dlg.result() == dlg.DialogCode.Rejected and not dlg.isVisible()
    assert dlg.unlocked is None


# -- accounts and passwords ---------------------------------------------------------------------


def test_admin_adds_and_disables_a_therapist(qtbot, admin):
    _, unlocked, _ = admin
    audited: list[tuple[str, str]] = []
    dlg = _show(qtbot, AccountsDialog(unlocked, audit=lambda a, d: audited.append((a, d))))
    assert dlg.table.rowCount() == 1 and dlg.add_btn.isVisible() and not dlg.only_admins.isVisible()
    assert not dlg.reset_btn.isEnabled() and not dlg.disable_btn.isEnabled()

    qtbot.mouseClick(dlg.add_btn, LEFT)
    add = dlg.add_dialog
    assert add is not None and add.isVisible()
    qtbot.keyClicks(add.name, "thera")
    qtbot.keyClicks(add.fields.password, "short")
    qtbot.keyClicks(add.fields.repeat, "short")
    qtbot.mouseClick(add.add_btn, LEFT)
    assert add.error.text() == "A password needs at least 10 characters." and add.isVisible()
    qtbot.keyClicks(add.fields.password, THERA_PW)
    qtbot.keyClicks(add.fields.repeat, THERA_PW)
    assert add.role.currentData() == "therapist"
    qtbot.mouseClick(add.add_btn, LEFT)
    assert not add.isVisible() and dlg.add_dialog is None
    names = {a.name: a for a in unlocked.store.accounts()}
    assert names["thera"].role == "therapist" and not names["thera"].disabled
    assert dlg.table.rowCount() == 2 and "thera" in dlg.status.text()

    # a name taken (case does not count) is refused in words
    qtbot.mouseClick(dlg.add_btn, LEFT)
    add = dlg.add_dialog
    qtbot.keyClicks(add.name, "THERA")
    qtbot.keyClicks(add.fields.password, THERA_PW)
    qtbot.keyClicks(add.fields.repeat, THERA_PW)
    qtbot.mouseClick(add.add_btn, LEFT)
    assert add.error.text() == "There is an account with this name already."
    qtbot.mouseClick(add.cancel_btn, LEFT)

    dlg.table.selectRow(1)
    qtbot.mouseClick(dlg.disable_btn, LEFT)
    box = dlg.confirm_box
    assert box is not None and "thera" in box.text()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Yes), LEFT)
    assert {a.name: a for a in unlocked.store.accounts()}["thera"].disabled
    assert dlg.table.item(1, 2).text() == "Disabled"

    dlg.table.selectRow(0)  # one's own account
    qtbot.mouseClick(dlg.disable_btn, LEFT)
    assert dlg.confirm_box is None and "account you are using" in dlg.error.text()
    # every change went to the audit trail; refusals did not
    assert audited == [
        ("create", "account=thera; role=therapist"),
        ("update", "account=thera; disabled"),
    ]


def test_therapist_sees_accounts_but_no_buttons(qtbot, admin):
    _, unlocked, _ = admin
    unlocked.add_account("thera", THERA_PW)
    thera = unlocked.store.unlock("thera", THERA_PW)
    dlg = _show(qtbot, AccountsDialog(thera))
    assert dlg.table.rowCount() == 2
    assert not dlg.add_btn.isVisible() and not dlg.reset_btn.isVisible()
    assert not dlg.disable_btn.isVisible()
    assert dlg.only_admins.isVisible() and "Only administrators" in dlg.only_admins.text()


def test_change_password(qtbot, admin):
    root, unlocked, _ = admin
    dlg = _show(qtbot, ChangePasswordDialog(unlocked))
    qtbot.keyClicks(dlg.old, "not the password")
    qtbot.keyClicks(dlg.fields.password, NEW_PW)
    qtbot.keyClicks(dlg.fields.repeat, NEW_PW)
    qtbot.mouseClick(dlg.change_btn, LEFT)
    assert dlg.error.text() == "The current password is wrong." and dlg.isVisible()
    qtbot.keyClicks(dlg.old, ADMIN_PW)
    qtbot.mouseClick(dlg.change_btn, LEFT)
    assert dlg.result() == dlg.DialogCode.Accepted
    assert unlock(root, "Admin", NEW_PW).account.name == "Admin"


# -- audit trail --------------------------------------------------------------------------------


@pytest.fixture
def catalog(tmp_path: Path):
    cat = Catalog.open(tmp_path / "catalog.sqlite")
    cat.add_patient("P-0")  # by the program itself: no account
    cat.account = "dr.x"
    p = cat.add_patient("P-1")
    cat.update_patient(p.id, notes="x")
    yield cat
    cat.close()


def test_audit_lists_rows_with_their_account_filters_and_exports(
    qtbot, catalog, tmp_path, monkeypatch
):
    dlg = _show(qtbot, AuditDialog(catalog, "admin"))
    rows = dlg.shown_rows()
    entries = catalog.audit_log(limit=1000)
    assert len(rows) == len(entries) >= 3
    assert rows[0][1] == "dr.x" and rows[0][2] == entries[0].action  # newest first
    by_detail = {r[4]: r for r in rows}
    assert by_detail["code=P-1"][1:4] == ["dr.x", "create", f"patient {entries[1].entity_id}"]
    assert by_detail["code=P-0"][1] == "—"
    assert by_detail["code=P-1"][0][:4].isdigit() and by_detail["code=P-1"][0].count(":") == 2

    qtbot.keyClicks(dlg.filter, "dr.x create")
    shown = dlg.shown_rows()
    assert [r[4] for r in shown] == ["code=P-1"]
    assert dlg.table.rowCount() == len(rows) and "1 of" in dlg.status.text()

    out = tmp_path / "audit.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "CSV (*.csv)"))
    qtbot.mouseClick(dlg.export_btn, LEFT)
    with open(out, newline="", encoding="utf-8-sig") as fh:
        written = list(csv.reader(fh))
    assert written[0] == ["Time", "Account", "Action", "What", "Detail"]
    assert written[1:] == shown
    assert str(out) in dlg.status.text()


def test_audit_refused_for_a_therapist(qtbot, catalog):
    dlg = _show(qtbot, AuditDialog(catalog, "therapist"))
    assert dlg.refused and dlg.table.rowCount() == 0
    assert not dlg.table.isVisible() and not dlg.export_btn.isVisible()
    assert "Only an administrator" in dlg.error.text()
