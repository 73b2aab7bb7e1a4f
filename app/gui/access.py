"""Accounts in the GUI: unlocking the clinic's data folder at start, the Clinic menu (accounts,
own password, audit trail, lock now) and the lock after idle time (never while recording).

The dialogs themselves are in :mod:`app.gui.access_dialogs`. A script or a test, with no one to
type, unlocks as the command line does: the account in ``THERASCOPE_USER`` and its password in
the file ``THERASCOPE_PASSWORD_FILE`` names.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu, QWidget

#: input that counts as someone at the computer
ACTIVITY_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
    }
)


def unlock_at_start(root: Path, parent: QWidget | None = None) -> tuple[Any | None, bool]:
    """The clinic's data folder unlocked: from the environment (scripts, tests), else the first
    account's set-up on a folder without one, else the login; and whether that first account
    was created now (to be audited). None: the therapist cancelled."""
    from app.gui.access_dialogs import FirstAccountDialog, LoginDialog
    from core.security.access import (
        credentials_from_environment,
        folder_has_accounts,
        only_account,
        open_key_store,
    )

    if folder_has_accounts(root):
        creds = credentials_from_environment()
        if creds.password is not None:
            store = open_key_store(root)
            name = creds.name or only_account(store)
            if name:
                return store.unlock(name, creds.password), False
        login = LoginDialog(root, parent)
        return (login.unlocked if login.exec() else None), False
    first = FirstAccountDialog(root, parent=parent)
    if not first.exec() or first.unlocked is None:
        return None, False
    return first.unlocked, True


class IdleLock(QObject):
    """Locks the window after ``minutes`` without input, unless a session is being recorded
    (``busy()``); the lock dialog asks for the account's password or quits.

    Installed as the application's event filter: any key, click, move or wheel is activity.
    """

    def __init__(
        self,
        window: QMainWindow,
        unlocked: Any,
        minutes: Callable[[], float],
        busy: Callable[[], bool],
    ) -> None:
        super().__init__(window)
        self.window = window
        self.unlocked = unlocked
        self.minutes = minutes
        self.busy = busy
        self.last_input = time.monotonic()
        self.dialog: QWidget | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(250)
        self.timer.timeout.connect(self.check)
        self.timer.start()
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    @property
    def locked(self) -> bool:
        return self.dialog is not None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() in ACTIVITY_EVENTS and self.dialog is None:
            self.last_input = time.monotonic()
        return False

    def check(self) -> None:
        """Lock once idle long enough; a recording keeps the screen open (the therapist marks
        moments without touching the computer for minutes)."""
        limit = self.minutes()
        if self.dialog is not None or limit <= 0:
            return
        if self.busy():
            self.last_input = time.monotonic()
            return
        if time.monotonic() - self.last_input >= limit * 60.0:
            self.lock()

    def lock(self) -> None:
        """Cover the window with the lock dialog now."""
        from app.gui.access_dialogs import LockDialog

        if self.dialog is not None:
            return
        dlg = LockDialog(self.unlocked, self.window)
        self.dialog = dlg
        dlg.accepted.connect(self._unlocked)
        dlg.rejected.connect(self.window.close)  # "Quit TheraScope"
        dlg.setGeometry(self.window.geometry())
        dlg.open()

    def _unlocked(self) -> None:
        self.dialog = None
        self.last_input = time.monotonic()

    def stop(self) -> None:
        self.timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)


def install_clinic_menu(window: Any, unlocked: Any, lock: IdleLock) -> QMenu:
    """The Clinic menu: accounts, one's own password, the audit trail (administrators) and
    Lock now (Ctrl+L). Returns the menu (its actions are what tests click)."""
    from app.gui.access_dialogs import AccountsDialog, AuditDialog, ChangePasswordDialog

    menu: QMenu = window.menuBar().addMenu("&Clinic")
    admin = unlocked.account.role == "admin"
    window.access_dialog = None

    def show(make: Callable[[], QWidget]) -> None:
        window.access_dialog = make()
        window.access_dialog.open()

    def add(text: str, slot: Callable[[], None], keys: str | None = None) -> QAction:
        act = QAction(text, window)
        if keys:
            act.setShortcut(QKeySequence(keys))
        act.triggered.connect(slot)
        menu.addAction(act)
        return act

    def audit(action: str, detail: str) -> None:
        """An account change in the audit trail (account names are not patient data)."""
        window.catalog.audit(action, "account", None, detail)

    add("Accounts…", lambda: show(lambda: AccountsDialog(unlocked, window, audit=audit)))
    add(
        "Change my password…",
        lambda: show(lambda: ChangePasswordDialog(unlocked, window, audit=audit)),
    )
    if admin:
        from app.gui.encrypt_dialog import EncryptDialog

        role = unlocked.account.role
        add("Audit trail…", lambda: show(lambda: AuditDialog(window.catalog, role, window)))
        add(
            "Encrypt data folder…",
            lambda: show(
                lambda: EncryptDialog(
                    window.catalog,
                    window.data_root,
                    unlocked,
                    window,
                    recording=lambda: window.record.recording or window.record.saving,
                )
            ),
        )
    menu.addSeparator()
    add("Lock now", lock.lock, "Ctrl+L")
    return menu
