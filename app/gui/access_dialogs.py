"""Who may use TheraScope: the dialogs for the clinic's accounts.

* :class:`FirstAccountDialog` — the first start on a data folder: the clinic's first account (an
  administrator), then its recovery key (:class:`RecoveryKeyDialog`);
* :class:`LoginDialog` — every later start: an account's name and password, or the recovery key
  when a password is lost (:class:`RecoveryUnlockDialog`);
* :class:`LockDialog` — covers the main window while the program is locked;
* :class:`AccountsDialog`, :class:`ChangePasswordDialog` — managing accounts and one's password;
* :class:`AuditDialog` — the audit trail (administrators only).

Every dialog is window-modal and works with ``exec()`` (the start-up flow, before the main window
exists) as with ``open()``; dialogs a dialog opens itself (the recovery key, adding an account…)
are opened with ``open()`` and kept in an attribute, so nothing blocks inside a slot.

Unlocking runs Argon2id (about 0.3 s with the default settings) on the GUI thread: the person
waits for it anyway and nothing else happens meanwhile, so a busy cursor is enough and no worker
thread is needed. Names and other typed text are shown as plain text, never as markup.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QFont, QFontDatabase, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.catalog import Catalog
from core.catalog.models import AuditEntry
from core.security.access import (
    AccessRefused,
    create_first_account,
    folder_has_accounts,
    only_account,
    open_key_store,
)
from core.security.keystore import (
    DEFAULT_KDF,
    MIN_PASSWORD_LENGTH,
    Account,
    AccountLockedError,
    KdfParams,
    KeyStore,
    KeyStoreError,
    Unlocked,
    WrongPasswordError,
)
from core.timefmt import format_local_time

__all__ = [
    "AUDIT_LIMIT",
    "AccountsDialog",
    "AddAccountDialog",
    "AuditDialog",
    "ChangePasswordDialog",
    "FirstAccountDialog",
    "LockDialog",
    "LoginDialog",
    "NewPasswordFields",
    "RecoveryKeyDialog",
    "RecoveryUnlockDialog",
    "ResetPasswordDialog",
    "busy_cursor",
    "role_words",
]

#: the most audit rows the audit dialog shows (newest first)
AUDIT_LIMIT = 1000
ERROR_STYLE = "color:#c0392b;"
NO_ACCOUNT = "—"
ROLE_WORDS = {"admin": "Administrator", "therapist": "Therapist"}


def role_words(role: str) -> str:
    """A role as people read it (``admin`` → ``Administrator``)."""
    return ROLE_WORDS.get(role, role)


@contextlib.contextmanager
def busy_cursor() -> Iterator[None]:
    """Show the busy cursor while the block runs (Argon2id takes a noticeable moment)."""
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        yield
    finally:
        QApplication.restoreOverrideCursor()


def plain_label(text: str = "", wrap: bool = True) -> QLabel:
    """A label that never reads its text as markup (names are typed by people)."""
    lab = QLabel(text)
    lab.setTextFormat(Qt.TextFormat.PlainText)
    lab.setWordWrap(wrap)
    return lab


def error_label() -> QLabel:
    """An empty red line for what went wrong, in words."""
    lab = plain_label()
    lab.setStyleSheet(ERROR_STYLE)
    return lab


def password_field(placeholder: str = "") -> QLineEdit:
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    if placeholder:
        field.setPlaceholderText(placeholder)
    return field


def not_default(*buttons: QPushButton) -> None:
    """Keep Enter from pressing these buttons."""
    for b in buttons:
        b.setAutoDefault(False)
        b.setDefault(False)


def error_words(exc: BaseException) -> str:
    """What went wrong, in words, for the red line of a dialog."""
    if isinstance(exc, (KeyStoreError, PermissionError)):
        return str(exc)
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"The key store cannot be read or written{where}: {exc.strerror or exc}"
    return str(exc)


class ModalDialog(QDialog):
    """A window-modal dialog (the house style)."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModality.WindowModal)


class NewPasswordFields(QWidget):
    """A new password typed twice, with the rule said under it."""

    def __init__(self, first: str = "New password:", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.password = password_field(f"at least {MIN_PASSWORD_LENGTH} characters")
        self.repeat = password_field()
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(first, self.password)
        form.addRow("Repeat it:", self.repeat)

    def filled(self) -> bool:
        return bool(self.password.text()) and bool(self.repeat.text())

    def mismatch(self) -> str | None:
        """Words when the two passwords differ, else None."""
        if self.password.text() != self.repeat.text():
            return "The two passwords are not the same; type them again."
        return None

    def clear(self) -> None:
        self.password.clear()
        self.repeat.clear()


# ------------------------------------------------------------------------------------------------
# first start


class RecoveryKeyDialog(ModalDialog):
    """Shows the recovery key once; "Continue" only after "I have written down the recovery key"
    is ticked. It cannot be closed otherwise (Escape does nothing): the key is never shown again.

    Attributes
    ----------
    text : str — the recovery key
    key_label : QLabel — the key, large, monospace, selectable
    copy_btn, written_box, continue_btn
    """

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__("Recovery key", parent)
        self.text = text
        intro = plain_label(
            "This is the clinic's recovery key. If every password is lost, it is the only way "
            "to open the patient data in this folder.\n\n"
            "Write it down on paper and keep it in a safe place, away from this computer. It is "
            "shown only this once: TheraScope does not keep it."
        )
        self.key_label = plain_label(text)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSize(max(font.pointSize(), 10) + 6)
        font.setWeight(QFont.Weight.DemiBold)
        self.key_label.setFont(font)
        self.key_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.key_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.key_label.setFrameShape(QFrame.Shape.Box)
        self.key_label.setMargin(12)
        self.copy_btn = QPushButton("Copy")
        self.copy_btn.setToolTip("Copy the recovery key (to paste it into a password manager)")
        self.written_box = QCheckBox("I have written down the recovery key")
        self.continue_btn = QPushButton("Continue")
        self.continue_btn.setEnabled(False)
        not_default(self.copy_btn)
        self.copy_btn.clicked.connect(self._copy)
        self.written_box.toggled.connect(self.continue_btn.setEnabled)
        self.continue_btn.clicked.connect(self._continue)
        row = QHBoxLayout()
        row.addWidget(self.written_box, 1)
        row.addWidget(self.continue_btn)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(self.key_label)
        lay.addWidget(self.copy_btn, 0, Qt.AlignmentFlag.AlignRight)
        lay.addLayout(row)
        self.setMinimumWidth(560)

    def _copy(self) -> None:
        QApplication.clipboard().setText(self.text)
        self.copy_btn.setText("Copied")

    def _continue(self) -> None:
        if self.written_box.isChecked():
            self.accept()

    def reject(self) -> None:
        """Escape and the window's close button do nothing: the key must be written down."""


class FirstAccountDialog(ModalDialog):
    """The first start on a data folder without accounts: the clinic's first account (an
    administrator), then its recovery key; accepted once the key is written down.

    Attributes
    ----------
    unlocked : Unlocked or None — the new account, unlocked (after acceptance)
    recovery_dialog : RecoveryKeyDialog or None — open once the account is made
    name, fields (NewPasswordFields), create_btn, cancel_btn, error
    """

    def __init__(
        self, root: Path, kdf: KdfParams = DEFAULT_KDF, parent: QWidget | None = None
    ) -> None:
        super().__init__("TheraScope — the clinic's first account", parent)
        self.root = Path(root)
        self.kdf = kdf
        self.unlocked: Unlocked | None = None
        self.recovery_dialog: RecoveryKeyDialog | None = None
        intro = plain_label(
            "This data folder holds patient data, so it is opened only with an account. Create "
            "the clinic's first account now: it is an administrator, who can add accounts for "
            "the other therapists later.\n\n"
            f"Folder: {self.root}"
        )
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. dr.meier")
        self.fields = NewPasswordFields("Password:")
        form = QFormLayout()
        form.addRow("Account name:", self.name)
        form.addRow(self.fields)
        self.error = error_label()
        self.buttons = QDialogButtonBox()
        self.create_btn: QPushButton = self.buttons.addButton(
            "Create account", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.cancel_btn: QPushButton = self.buttons.addButton(
            QDialogButtonBox.StandardButton.Cancel
        )
        not_default(self.cancel_btn)
        self.create_btn.setDefault(True)
        self.create_btn.setEnabled(False)
        self.create_btn.clicked.connect(self._create)
        self.cancel_btn.clicked.connect(self.reject)
        for field in (self.name, self.fields.password, self.fields.repeat):
            field.textChanged.connect(self._check)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)
        self.setMinimumWidth(480)

    def _check(self) -> None:
        self.create_btn.setEnabled(
            self.unlocked is None and bool(self.name.text().strip()) and self.fields.filled()
        )

    def _create(self) -> None:
        if self.unlocked is not None or not self.create_btn.isEnabled():
            return
        wrong = self.fields.mismatch()
        if wrong:
            self.error.setText(wrong)
            self.fields.clear()
            self.fields.password.setFocus()
            return
        try:
            with busy_cursor():
                unlocked, recovery = create_first_account(
                    self.root, self.name.text(), self.fields.password.text(), kdf=self.kdf
                )
        except (KeyStoreError, OSError) as exc:
            self.error.setText(error_words(exc))
            return
        self.unlocked = unlocked
        self.error.clear()
        self.fields.clear()
        for w in (self.name, self.fields, self.create_btn, self.cancel_btn):
            w.setEnabled(False)
        self.recovery_dialog = RecoveryKeyDialog(recovery, self)
        self.recovery_dialog.accepted.connect(self.accept)
        self.recovery_dialog.open()

    def reject(self) -> None:
        """Cancel before the account is made; afterwards the recovery key must be seen first."""
        if self.unlocked is None:
            super().reject()


# ------------------------------------------------------------------------------------------------
# unlocking


class LoginDialog(ModalDialog):
    """Unlock the data folder with an account's name and password (or, when the password is
    lost, with the recovery key).

    Parameters
    ----------
    root : Path — the data folder (it has a key store: see ``folder_has_accounts``)
    parent : QWidget, optional
    kdf : KdfParams — Argon2id settings for passwords reset here (tests pass cheap ones)
    now : callable, optional — the key store's clock (tests)

    Attributes
    ----------
    unlocked : Unlocked or None — after acceptance
    store : KeyStore or None — None when the folder's key store cannot be read (the red line
        says why)
    name (editable QComboBox), password, unlock_btn, forgot_btn, cancel_btn, error,
    recovery_dialog (RecoveryUnlockDialog or None)
    """

    def __init__(
        self,
        root: Path,
        parent: QWidget | None = None,
        *,
        kdf: KdfParams = DEFAULT_KDF,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__("TheraScope — unlock", parent)
        self.root = Path(root)
        self.unlocked: Unlocked | None = None
        self.recovery_dialog: RecoveryUnlockDialog | None = None
        self.store: KeyStore | None = None
        problem = ""
        names: list[str] = []
        preselect: str | None = None
        try:
            if not folder_has_accounts(self.root):
                raise AccessRefused(
                    "This data folder has no account yet: the clinic's first account is made "
                    "at the first start."
                )
            self.store = open_key_store(self.root)
            self.store.kdf = kdf
            if now is not None:
                self.store.now = now
            names = [a.name for a in self.store.accounts() if not a.disabled]
            preselect = only_account(self.store)
        except (KeyStoreError, AccessRefused, OSError) as exc:
            self.store = None
            problem = error_words(exc)
        intro = plain_label(f"This data folder holds patient data.\nFolder: {self.root}")
        self.name = QComboBox()
        self.name.setEditable(True)
        self.name.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.name.addItems(names)
        if preselect is not None:
            self.name.setCurrentText(preselect)
        else:
            self.name.setCurrentIndex(-1)
            self.name.setEditText("")
        self.password = password_field()
        form = QFormLayout()
        form.addRow("Account:", self.name)
        form.addRow("Password:", self.password)
        self.error = error_label()
        self.error.setText(problem)
        self.unlock_btn = QPushButton("Unlock")
        self.forgot_btn = QPushButton("Forgot the password?")
        self.cancel_btn = QPushButton("Cancel")
        not_default(self.forgot_btn, self.cancel_btn)
        self.unlock_btn.setDefault(True)
        self.unlock_btn.clicked.connect(self._unlock)
        self.forgot_btn.clicked.connect(self._forgot)
        self.cancel_btn.clicked.connect(self.reject)
        self.password.returnPressed.connect(self._unlock)
        self.name.editTextChanged.connect(self._check)
        self.password.textChanged.connect(self._check)
        row = QHBoxLayout()
        row.addWidget(self.forgot_btn)
        row.addStretch(1)
        row.addWidget(self.cancel_btn)
        row.addWidget(self.unlock_btn)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addLayout(row)
        self.setMinimumWidth(420)
        self._check()
        if preselect is not None:
            self.password.setFocus()
        else:
            self.name.setFocus()

    def _check(self) -> None:
        ok = self.store is not None
        self.forgot_btn.setEnabled(ok)
        self.unlock_btn.setEnabled(
            ok and bool(self.name.currentText().strip()) and bool(self.password.text())
        )

    def _unlock(self) -> None:
        if self.store is None or not self.unlock_btn.isEnabled():
            return
        try:
            # Argon2id (~0.3 s) on the GUI thread: the person waits for it anyway
            with busy_cursor():
                self.unlocked = self.store.unlock(self.name.currentText(), self.password.text())
        except WrongPasswordError:
            self.error.setText("Wrong name or password.")
            self.password.clear()
            self.password.setFocus()
            return
        except AccountLockedError as exc:
            self.error.setText(str(exc))
            self.password.clear()
            return
        except (KeyStoreError, OSError) as exc:
            self.error.setText(error_words(exc))
            return
        self.password.clear()
        self.accept()

    def _forgot(self) -> None:
        if self.store is None:
            return
        self.recovery_dialog = RecoveryUnlockDialog(
            self.store, self, account=self.name.currentText().strip()
        )
        self.recovery_dialog.accepted.connect(self._recovered)
        self.recovery_dialog.open()

    def _recovered(self) -> None:
        if self.recovery_dialog is not None and self.recovery_dialog.unlocked is not None:
            self.unlocked = self.recovery_dialog.unlocked
            self.password.clear()
            self.accept()


class RecoveryUnlockDialog(ModalDialog):
    """A lost password: the recovery key opens the store, then an account gets a new password;
    accepted with that account unlocked by its new password.

    Attributes
    ----------
    unlocked : Unlocked or None — the account whose password was reset (after acceptance)
    key_field, check_btn — step one: the recovery key
    account (QComboBox), fields (NewPasswordFields), reset_btn — step two (shown after step one)
    error, cancel_btn
    """

    def __init__(self, store: KeyStore, parent: QWidget | None = None, account: str = "") -> None:
        super().__init__("Forgot the password", parent)
        self.store = store
        self.unlocked: Unlocked | None = None
        self._recovery: Unlocked | None = None
        intro = plain_label(
            "Type the clinic's recovery key (the one written down when the data folder was set "
            "up). Upper or lower case, spaces and dashes do not matter."
        )
        self.key_field = QLineEdit()
        self.key_field.setPlaceholderText("XXXX-XXXX-XXXX-…")
        self.check_btn = QPushButton("Open with the recovery key")
        self.check_btn.setEnabled(False)
        self.step_two = QWidget()
        self.account = QComboBox()
        accounts = store.accounts()
        self.account.addItems([a.name for a in accounts])
        for i, a in enumerate(accounts):
            if account and a.name.casefold() == account.casefold():
                self.account.setCurrentIndex(i)
        self.fields = NewPasswordFields()
        self.reset_btn = QPushButton("Set the new password")
        self.reset_btn.setEnabled(False)
        two = QFormLayout(self.step_two)
        two.setContentsMargins(0, 0, 0, 0)
        two.addRow(
            plain_label("The recovery key is right. Choose the account and its new password.")
        )
        two.addRow("Account:", self.account)
        two.addRow(self.fields)
        two.addRow(self.reset_btn)
        self.step_two.setVisible(False)
        self.error = error_label()
        self.cancel_btn = QPushButton("Cancel")
        not_default(self.cancel_btn, self.reset_btn)
        self.check_btn.setDefault(True)
        self.key_field.textChanged.connect(
            lambda t: self.check_btn.setEnabled(self._recovery is None and bool(t.strip()))
        )
        self.key_field.returnPressed.connect(self._check_key)
        self.check_btn.clicked.connect(self._check_key)
        for f in (self.fields.password, self.fields.repeat):
            f.textChanged.connect(self._check_fields)
        self.reset_btn.clicked.connect(self._reset)
        self.cancel_btn.clicked.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(self.key_field)
        lay.addWidget(self.check_btn, 0, Qt.AlignmentFlag.AlignRight)
        lay.addWidget(self.step_two)
        lay.addWidget(self.error)
        lay.addWidget(self.cancel_btn, 0, Qt.AlignmentFlag.AlignRight)
        self.setMinimumWidth(480)

    def _check_key(self) -> None:
        if self._recovery is not None or not self.key_field.text().strip():
            return
        try:
            with busy_cursor():
                self._recovery = self.store.unlock_with_recovery(self.key_field.text())
        except (KeyStoreError, OSError) as exc:
            self.error.setText(error_words(exc))
            return
        self.error.clear()
        self.key_field.clear()
        self.key_field.setEnabled(False)
        self.check_btn.setEnabled(False)
        self.step_two.setVisible(True)
        self.reset_btn.setDefault(True)
        self.fields.password.setFocus()

    def _check_fields(self) -> None:
        self.reset_btn.setEnabled(self._recovery is not None and self.fields.filled())

    def _reset(self) -> None:
        if self._recovery is None or not self.reset_btn.isEnabled():
            return
        wrong = self.fields.mismatch()
        if wrong:
            self.error.setText(wrong)
            self.fields.clear()
            self.fields.password.setFocus()
            return
        name, password = self.account.currentText(), self.fields.password.text()
        try:
            with busy_cursor():
                self._recovery.reset_password(name, password)
                self.unlocked = self.store.unlock(name, password)
        except (KeyStoreError, PermissionError, OSError) as exc:
            self.error.setText(error_words(exc))
            return
        self.fields.clear()
        self._forget_recovery()
        self.accept()

    def _forget_recovery(self) -> None:
        if self._recovery is not None:
            self._recovery.close()
            self._recovery = None

    def reject(self) -> None:
        self._forget_recovery()
        super().reject()


class LockDialog(ModalDialog):
    """TheraScope is locked: covers its parent window until the account's password is typed
    again. Escape and closing do nothing; only "Quit TheraScope" rejects.

    Attributes
    ----------
    account : Account — the locked account
    unlocked : Unlocked or None — after acceptance: the store unlocked again by the password (the
        caller may keep it or close it)
    password, unlock_btn, quit_btn, error, title
    """

    def __init__(self, unlocked: Unlocked, parent: QWidget | None = None) -> None:
        super().__init__("TheraScope is locked", parent)
        self.store = unlocked.store
        self.account: Account = unlocked.account
        self.unlocked: Unlocked | None = None
        self.setWindowFlags(Qt.WindowType.Dialog | Qt.WindowType.FramelessWindowHint)
        self.setAutoFillBackground(True)
        self.title = plain_label(f"TheraScope is locked — {self.account.name}")
        self.title.setStyleSheet("font-size:20px; font-weight:600;")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = plain_label("Type the account's password to go on.")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.password = password_field()
        self.error = error_label()
        self.error.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.unlock_btn = QPushButton("Unlock")
        self.quit_btn = QPushButton("Quit TheraScope")
        not_default(self.quit_btn)
        self.unlock_btn.setDefault(True)
        self.unlock_btn.setEnabled(False)
        self.password.textChanged.connect(lambda t: self.unlock_btn.setEnabled(bool(t)))
        self.password.returnPressed.connect(self._unlock)
        self.unlock_btn.clicked.connect(self._unlock)
        self.quit_btn.clicked.connect(self._quit)
        panel = QWidget()
        panel.setFixedWidth(440)  # wrapped labels need a width to wrap to
        inner = QVBoxLayout(panel)
        inner.addWidget(self.title)
        inner.addWidget(hint)
        inner.addWidget(self.password)
        inner.addWidget(self.error)
        row = QHBoxLayout()
        row.addWidget(self.quit_btn)
        row.addStretch(1)
        row.addWidget(self.unlock_btn)
        inner.addLayout(row)
        lay = QVBoxLayout(self)
        lay.addStretch(1)
        lay.addWidget(panel, 0, Qt.AlignmentFlag.AlignCenter)
        lay.addStretch(2)
        self._covered: QWidget | None = parent.window() if parent is not None else None
        if self._covered is not None:
            self._covered.installEventFilter(self)

    # -- covering the parent ---------------------------------------------------------------------

    def cover(self) -> None:
        """Take the place and size of the parent window (so nothing of it shows)."""
        if self._covered is not None:
            geo = self._covered.geometry()
            self.setMinimumSize(geo.size())
            self.setGeometry(geo)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 — Qt's name
        self.cover()
        super().showEvent(event)
        self.password.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 — Qt's name
        if (
            watched is self._covered
            and event.type() in (QEvent.Type.Resize, QEvent.Type.Move)
            and self.isVisible()
        ):
            self.cover()
        return False

    # -- unlocking -------------------------------------------------------------------------------

    def _unlock(self) -> None:
        if not self.password.text():
            return
        try:
            # Argon2id (~0.3 s) on the GUI thread; counted like any login by the key store
            with busy_cursor():
                self.unlocked = self.store.unlock(self.account.name, self.password.text())
        except WrongPasswordError:
            self.error.setText("Wrong password.")
            self.password.clear()
            self.password.setFocus()
            return
        except AccountLockedError as exc:
            self.error.setText(str(exc))
            self.password.clear()
            return
        except (KeyStoreError, OSError) as exc:
            self.error.setText(error_words(exc))
            return
        self.password.clear()
        self.error.clear()
        self.accept()

    def _quit(self) -> None:
        super().reject()

    def reject(self) -> None:
        """Escape and closing the window do nothing (QDialog's close event asks :meth:`reject`
        and ignores the close while the dialog stays visible): only "Quit TheraScope" rejects."""


# ------------------------------------------------------------------------------------------------
# accounts


class AddAccountDialog(ModalDialog):
    """A new account: name, role and password twice (administrators only).

    Attributes
    ----------
    added : Account or None — after acceptance
    name, role (QComboBox: data "therapist" / "admin"), fields, add_btn, cancel_btn, error
    """

    def __init__(self, unlocked: Unlocked, parent: QWidget | None = None) -> None:
        super().__init__("Add account", parent)
        self.target = unlocked
        self.added: Account | None = None
        self.name = QLineEdit()
        self.role = QComboBox()
        self.role.addItem("Therapist", "therapist")
        self.role.addItem("Administrator (also manages accounts)", "admin")
        self.fields = NewPasswordFields("Password:")
        form = QFormLayout()
        form.addRow("Account name:", self.name)
        form.addRow("Role:", self.role)
        form.addRow(self.fields)
        self.error = error_label()
        self.add_btn = QPushButton("Add account")
        self.add_btn.setDefault(True)
        self.add_btn.setEnabled(False)
        self.cancel_btn = QPushButton("Cancel")
        not_default(self.cancel_btn)
        for f in (self.name, self.fields.password, self.fields.repeat):
            f.textChanged.connect(self._check)
        self.add_btn.clicked.connect(self._add)
        self.cancel_btn.clicked.connect(self.reject)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.cancel_btn)
        row.addWidget(self.add_btn)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addLayout(row)
        self.setMinimumWidth(420)

    def _check(self) -> None:
        self.add_btn.setEnabled(bool(self.name.text().strip()) and self.fields.filled())

    def _add(self) -> None:
        if not self.add_btn.isEnabled():
            return
        wrong = self.fields.mismatch()
        if wrong:
            self.error.setText(wrong)
            self.fields.clear()
            return
        try:
            with busy_cursor():
                self.added = self.target.add_account(
                    self.name.text(), self.fields.password.text(), str(self.role.currentData())
                )
        except (KeyStoreError, PermissionError, OSError) as exc:
            self.error.setText(error_words(exc))
            return
        self.fields.clear()
        self.accept()


class ResetPasswordDialog(ModalDialog):
    """A new password for another account, typed twice (administrators only); also unlocks the
    account and enables it again.

    Attributes
    ----------
    account_name : str
    fields, reset_btn, cancel_btn, error
    """

    def __init__(
        self, unlocked: Unlocked, account_name: str, parent: QWidget | None = None
    ) -> None:
        super().__init__("Reset password", parent)
        self.target = unlocked
        self.account_name = account_name
        intro = plain_label(
            f"A new password for {account_name}. Tell it to the person in private; the account "
            "is enabled again and its lock lifted."
        )
        self.fields = NewPasswordFields()
        self.error = error_label()
        self.reset_btn = QPushButton("Reset password")
        self.reset_btn.setDefault(True)
        self.reset_btn.setEnabled(False)
        self.cancel_btn = QPushButton("Cancel")
        not_default(self.cancel_btn)
        for f in (self.fields.password, self.fields.repeat):
            f.textChanged.connect(lambda _t: self.reset_btn.setEnabled(self.fields.filled()))
        self.reset_btn.clicked.connect(self._reset)
        self.cancel_btn.clicked.connect(self.reject)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.cancel_btn)
        row.addWidget(self.reset_btn)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(self.fields)
        lay.addWidget(self.error)
        lay.addLayout(row)
        self.setMinimumWidth(420)

    def _reset(self) -> None:
        if not self.reset_btn.isEnabled():
            return
        wrong = self.fields.mismatch()
        if wrong:
            self.error.setText(wrong)
            self.fields.clear()
            return
        try:
            with busy_cursor():
                self.target.reset_password(self.account_name, self.fields.password.text())
        except (KeyStoreError, PermissionError, OSError) as exc:
            self.error.setText(error_words(exc))
            return
        self.fields.clear()
        self.accept()


class AccountsDialog(ModalDialog):
    """The clinic's accounts (name, role, whether disabled); administrators add accounts, reset
    passwords and disable accounts here, therapists only see the list.

    Attributes
    ----------
    table : QTableWidget — one row per account (the name's item holds the name as user data)
    add_btn, reset_btn, disable_btn — hidden for therapists
    only_admins : QLabel — shown to therapists
    status, error : QLabel — what was done / what went wrong
    add_dialog, reset_dialog, confirm_box — the dialog open now, if any
    """

    COLUMNS = ("Name", "Role", "State")

    def __init__(
        self,
        unlocked: Unlocked,
        parent: QWidget | None = None,
        audit: Callable[[str, str], object] | None = None,
    ) -> None:
        super().__init__("Accounts", parent)
        #: ``audit(action, detail)``: each change goes into the catalog's audit trail
        self.audit = audit or (lambda _action, _detail: None)
        self.unlocked = unlocked
        self.is_admin = unlocked.account.role == "admin"
        self.add_dialog: AddAccountDialog | None = None
        self.reset_dialog: ResetPasswordDialog | None = None
        self.confirm_box: QMessageBox | None = None
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.add_btn = QPushButton("Add account…")
        self.reset_btn = QPushButton("Reset password…")
        self.disable_btn = QPushButton("Disable")
        self.close_btn = QPushButton("Close")
        not_default(self.add_btn, self.reset_btn, self.disable_btn)
        self.only_admins = plain_label("Only administrators manage accounts.")
        self.status = plain_label()
        self.error = error_label()
        for b in (self.add_btn, self.reset_btn, self.disable_btn):
            b.setVisible(self.is_admin)
        self.only_admins.setVisible(not self.is_admin)
        self.add_btn.clicked.connect(self._add)
        self.reset_btn.clicked.connect(self._reset)
        self.disable_btn.clicked.connect(self._disable)
        self.close_btn.clicked.connect(self.accept)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        row = QHBoxLayout()
        row.addWidget(self.add_btn)
        row.addWidget(self.reset_btn)
        row.addWidget(self.disable_btn)
        row.addWidget(self.only_admins, 1)
        row.addStretch(1)
        row.addWidget(self.close_btn)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.status)
        lay.addWidget(self.error)
        lay.addLayout(row)
        self.resize(560, 360)
        self.refresh()

    def refresh(self) -> None:
        """Read the accounts again (another program may have changed them)."""
        try:
            accounts = self.unlocked.store.accounts()
        except (KeyStoreError, OSError) as exc:
            self.error.setText(error_words(exc))
            accounts = []
        self.table.setRowCount(len(accounts))
        for i, a in enumerate(accounts):
            name = QTableWidgetItem(a.name)
            name.setData(Qt.ItemDataRole.UserRole, a.name)
            self.table.setItem(i, 0, name)
            self.table.setItem(i, 1, QTableWidgetItem(role_words(a.role)))
            self.table.setItem(i, 2, QTableWidgetItem("Disabled" if a.disabled else "Active"))
        self._selection_changed()

    def selected_name(self) -> str | None:
        rows = {i.row() for i in self.table.selectedItems()}
        if len(rows) != 1:
            return None
        item = self.table.item(rows.pop(), 0)
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def _selection_changed(self) -> None:
        picked = self.selected_name() is not None
        self.reset_btn.setEnabled(self.is_admin and picked)
        self.disable_btn.setEnabled(self.is_admin and picked)

    def _add(self) -> None:
        self.add_dialog = AddAccountDialog(self.unlocked, self)
        self.add_dialog.finished.connect(self._add_done)
        self.add_dialog.open()

    def _add_done(self, result: int) -> None:
        dlg, self.add_dialog = self.add_dialog, None
        if dlg is not None and result == QDialog.DialogCode.Accepted and dlg.added is not None:
            self.error.clear()
            self.audit("create", f"account={dlg.added.name}; role={dlg.added.role}")
            self.status.setText(
                f"Account {dlg.added.name} added ({role_words(dlg.added.role).lower()})."
            )
            self.refresh()

    def _reset(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        self.reset_dialog = ResetPasswordDialog(self.unlocked, name, self)
        self.reset_dialog.finished.connect(self._reset_done)
        self.reset_dialog.open()

    def _reset_done(self, result: int) -> None:
        dlg, self.reset_dialog = self.reset_dialog, None
        if dlg is not None and result == QDialog.DialogCode.Accepted:
            self.error.clear()
            self.audit("update", f"account={dlg.account_name}; password reset")
            self.status.setText(f"The password of {dlg.account_name} was reset.")
            self.refresh()

    def _disable(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        if name.casefold() == self.unlocked.account.name.casefold():
            self.error.setText("You cannot disable the account you are using.")
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Disable account",
            f"Disable the account {name}? Its password will open nothing any more; resetting "
            "its password enables it again.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        self.confirm_box = box
        box.finished.connect(lambda _r: self._disable_answered(box, name))
        box.open()

    def _disable_answered(self, box: QMessageBox, name: str) -> None:
        self.confirm_box = None
        if box.clickedButton() is not box.button(QMessageBox.StandardButton.Yes):
            return
        try:
            self.unlocked.disable_account(name)
        except (KeyStoreError, PermissionError, OSError) as exc:
            self.status.clear()
            self.error.setText(error_words(exc))
            return
        self.error.clear()
        self.audit("update", f"account={name}; disabled")
        self.status.setText(f"Account {name} disabled.")
        self.refresh()


class ChangePasswordDialog(ModalDialog):
    """Change one's own password: the current one, then the new one twice.

    Attributes
    ----------
    old (QLineEdit), fields (NewPasswordFields), change_btn, cancel_btn, error
    """

    def __init__(
        self,
        unlocked: Unlocked,
        parent: QWidget | None = None,
        audit: Callable[[str, str], object] | None = None,
    ) -> None:
        super().__init__("Change password", parent)
        #: ``audit(action, detail)``: the change goes into the catalog's audit trail
        self.audit = audit or (lambda _action, _detail: None)
        self.target = unlocked
        intro = plain_label(f"Account: {unlocked.account.name}")
        self.old = password_field()
        self.fields = NewPasswordFields()
        form = QFormLayout()
        form.addRow("Current password:", self.old)
        form.addRow(self.fields)
        self.error = error_label()
        self.change_btn = QPushButton("Change password")
        self.change_btn.setDefault(True)
        self.change_btn.setEnabled(False)
        self.cancel_btn = QPushButton("Cancel")
        not_default(self.cancel_btn)
        for f in (self.old, self.fields.password, self.fields.repeat):
            f.textChanged.connect(self._check)
        self.change_btn.clicked.connect(self._change)
        self.cancel_btn.clicked.connect(self.reject)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.cancel_btn)
        row.addWidget(self.change_btn)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addLayout(row)
        self.setMinimumWidth(420)

    def _check(self) -> None:
        self.change_btn.setEnabled(bool(self.old.text()) and self.fields.filled())

    def _change(self) -> None:
        if not self.change_btn.isEnabled():
            return
        wrong = self.fields.mismatch()
        if wrong:
            self.error.setText(wrong)
            self.fields.clear()
            return
        try:
            with busy_cursor():
                self.target.change_password(self.old.text(), self.fields.password.text())
        except WrongPasswordError:
            self.error.setText("The current password is wrong.")
            self.old.clear()
            self.old.setFocus()
            return
        except (KeyStoreError, PermissionError, OSError) as exc:
            self.error.setText(error_words(exc))
            return
        self.old.clear()
        self.fields.clear()
        self.audit("update", f"account={self.target.account.name}; password changed")
        self.accept()


# ------------------------------------------------------------------------------------------------
# audit trail


def audit_time_words(iso: str) -> str:
    """An audit row's time as people read it: local date and time to the second, with the zone."""
    return format_local_time(iso, seconds=True)


def audit_row(e: AuditEntry) -> list[str]:
    """The audit dialog's cells for one entry: time, account, action, what, detail."""
    what = e.entity if e.entity_id is None else f"{e.entity} {e.entity_id}"
    return [audit_time_words(e.at), e.account or NO_ACCOUNT, e.action, what, e.detail]


def csv_cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (codes are typed by people)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class AuditDialog(ModalDialog):
    """The audit trail, newest first (up to :data:`AUDIT_LIMIT` rows), for administrators:
    who did what, when. A filter hides rows without the text typed; "Export CSV…" writes the rows
    shown.

    Parameters
    ----------
    catalog : Catalog
    role : str — the role of the account asking; any other than ``"admin"`` sees only a line
        saying the audit trail is for administrators (nothing is read)
    parent : QWidget, optional

    Attributes
    ----------
    refused : bool — the account is not an administrator
    table, filter (QLineEdit), export_btn, close_btn, status, error
    """

    COLUMNS = ("Time", "Account", "Action", "What", "Detail")

    def __init__(self, catalog: Catalog, role: str, parent: QWidget | None = None) -> None:
        super().__init__("Audit trail", parent)
        self.catalog = catalog
        self.refused = role != "admin"
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter: account, action or any text")
        self.filter.setClearButtonEnabled(True)
        self.export_btn = QPushButton("Export CSV…")
        self.close_btn = QPushButton("Close")
        not_default(self.export_btn)
        self.status = plain_label()
        self.error = error_label()
        self.filter.textChanged.connect(self.apply_filter)
        self.export_btn.clicked.connect(self._export)
        self.close_btn.clicked.connect(self.accept)
        row = QHBoxLayout()
        row.addWidget(self.export_btn)
        row.addStretch(1)
        row.addWidget(self.close_btn)
        lay = QVBoxLayout(self)
        lay.addWidget(self.filter)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.status)
        lay.addWidget(self.error)
        lay.addLayout(row)
        if self.refused:
            for w in (self.filter, self.table, self.export_btn):
                w.setVisible(False)
            self.error.setText("Only an administrator can see the audit trail.")
            self.setMinimumWidth(360)
            return
        self.resize(900, 520)
        self.refresh()

    def refresh(self) -> None:
        """Read the audit trail again."""
        if self.refused:
            return
        try:
            entries = self.catalog.audit_log(limit=AUDIT_LIMIT)
        except Exception as exc:  # noqa: BLE001 — the catalog's errors are in words
            self.error.setText(f"The audit trail cannot be read: {exc}")
            entries = []
        self.table.setRowCount(len(entries))
        for i, e in enumerate(entries):
            for j, text in enumerate(audit_row(e)):
                self.table.setItem(i, j, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.apply_filter(self.filter.text())

    def row_texts(self, row: int) -> list[str]:
        out = []
        for j in range(self.table.columnCount()):
            item = self.table.item(row, j)
            out.append(item.text() if item is not None else "")
        return out

    def shown_rows(self) -> list[list[str]]:
        """The rows the filter lets through, as shown."""
        return [
            self.row_texts(i) for i in range(self.table.rowCount()) if not self.table.isRowHidden(i)
        ]

    def apply_filter(self, text: str) -> None:
        """Hide the rows that do not contain every word of ``text`` (case does not matter)."""
        words = text.casefold().split()
        shown = 0
        for i in range(self.table.rowCount()):
            hay = "\t".join(self.row_texts(i)).casefold()
            hide = not all(w in hay for w in words)
            self.table.setRowHidden(i, hide)
            shown += not hide
        total = self.table.rowCount()
        more = f" (the newest {AUDIT_LIMIT})" if total >= AUDIT_LIMIT else ""
        self.status.setText(
            f"{shown} of {total} entries shown{more}." if words else f"{total} entries{more}."
        )

    def _export(self) -> None:
        if self.refused:
            return
        default = str(Path.home() / f"therascope-audit-{datetime.now():%Y%m%d-%H%M}.csv")
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the audit trail", default, "CSV (*.csv)"
        )
        if not path:
            return
        rows = self.shown_rows()
        try:
            # utf-8-sig: spreadsheet programs then read accents and the dash right
            with open(path, "w", newline="", encoding="utf-8-sig") as fh:
                w = csv.writer(fh)
                w.writerow(self.COLUMNS)
                w.writerows([csv_cell(c) for c in r] for r in rows)
        except OSError as exc:
            self.error.setText(f"The file {path} cannot be written: {exc.strerror or exc}")
            return
        self.error.clear()
        self.status.setText(f"{len(rows)} entries written to {path}.")
