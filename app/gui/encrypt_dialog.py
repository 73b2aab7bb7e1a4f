"""Clinic → Encrypt data folder…: a folder written before encryption at rest is encrypted in
place after a full backup (:mod:`core.privacy.migration`), in a worker thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.access_dialogs import ModalDialog, error_label, not_default, plain_label
from app.gui.workers import run_job


def clear_text_words(catalog: Any, data_root: Path) -> str:
    """What is stored in the clear, in words ("" when nothing is)."""
    from core.privacy.migration import needs_encryption, plaintext_sessions

    if not needs_encryption(catalog, data_root):
        return ""
    n = len(plaintext_sessions(catalog, data_root))
    what = f"{n} session(s) and patient records" if n else "patient records"
    return f"{what} of this data folder are stored unencrypted (written by an older TheraScope)"


class EncryptDialog(ModalDialog):
    """Encrypt the data folder in place, after a full backup into a folder the administrator names.

    Attributes
    ----------
    backup_edit (QLineEdit), choose_btn, encrypt_btn, close_btn, progress (QProgressBar),
    error, outcome (QLabel), job — the running worker, if any
    """

    def __init__(
        self,
        catalog: Any,
        data_root: Path,
        unlocked: Any,
        parent: QWidget | None,
        recording: Any = None,
    ) -> None:
        super().__init__("Encrypt data folder", parent)
        #: whether a session is being recorded (the window's record screen): no encryption then
        self.recording = recording or (lambda: False)
        self.catalog, self.data_root, self.unlocked = catalog, Path(data_root), unlocked
        state = clear_text_words(catalog, self.data_root)
        self.intro = intro = plain_label(
            (state[:1].upper() + state[1:] + ". ")
            if state
            else "Everything in this data folder is encrypted already. "
        )
        how = plain_label(
            "TheraScope first makes a full backup into a new folder you choose. That backup "
            "holds the data as it is now, unencrypted: keep it somewhere safe and delete it once "
            "the encrypted folder has been checked. Then each session is encrypted with its own "
            "key, every file is compared with its original, and only then is the unencrypted "
            "copy removed. If it is interrupted, start it again: it goes on where it stopped."
        )
        self.backup_edit = QLineEdit()
        self.backup_edit.setPlaceholderText("a new, empty folder outside the data folder")
        self.choose_btn = QPushButton("Choose…")
        not_default(self.choose_btn)
        self.choose_btn.clicked.connect(self._choose)
        row = QHBoxLayout()
        row.addWidget(self.backup_edit, 1)
        row.addWidget(self.choose_btn)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        self.error = error_label()
        self.outcome = plain_label()
        self.encrypt_btn = QPushButton("Back up and encrypt")
        self.encrypt_btn.setDefault(True)
        self.encrypt_btn.setEnabled(False)
        self.close_btn = QPushButton("Close")
        not_default(self.close_btn)
        self.backup_edit.textChanged.connect(self._check)
        self.encrypt_btn.clicked.connect(self._start)
        self.close_btn.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.close_btn)
        buttons.addWidget(self.encrypt_btn)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(how)
        folder_label = plain_label("Backup folder:")
        lay.addWidget(folder_label)
        lay.addLayout(row)
        lay.addWidget(self.progress)
        lay.addWidget(self.error)
        lay.addWidget(self.outcome)
        lay.addLayout(buttons)
        self.setMinimumWidth(520)
        self.job: Any = None
        self._needed = bool(state)
        if not self._needed:  # nothing to do: only the statement and Close
            for w in (how, folder_label, self.backup_edit, self.choose_btn, self.encrypt_btn):
                w.setVisible(False)

    def _choose(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Folder for the full backup", str(Path.home())
        )
        if path:
            self.backup_edit.setText(path)

    def _check(self) -> None:
        self.encrypt_btn.setEnabled(self._needed and bool(self.backup_edit.text().strip()))

    def _start(self) -> None:
        if not self.encrypt_btn.isEnabled():
            return
        from app.gui.workers import jobs_running
        from core.privacy.migration import encrypt_folder

        if self.recording() or jobs_running():
            # an analysis, export or import writing into a session while it is swapped out
            # would lose what it wrote
            self.error.setText(
                "A recording, analysis or export is in progress. Start the encryption once it "
                "has finished."
            )
            return
        dest = Path(self.backup_edit.text().strip()).expanduser()
        self.encrypt_btn.setEnabled(False)
        self.backup_edit.setEnabled(False)
        self.choose_btn.setEnabled(False)
        self.close_btn.setEnabled(False)
        self.error.setText("")
        self.progress.setVisible(True)
        self.progress.setValue(0)
        self.adjustSize()
        catalog, root, unlocked = self.catalog, self.data_root, self.unlocked

        def job(progress: Any) -> Any:
            def step(done: int, total: int, _what: str) -> None:
                progress(done / max(total, 1))

            return encrypt_folder(catalog, root, unlocked, dest, step)

        self.job = run_job(job, self._done, self._failed, self._progressed)

    def _progressed(self, fraction: float) -> None:
        self.progress.setValue(int(round(100 * fraction)))

    def _done(self, result: Any) -> None:
        self.progress.setValue(100)
        self.close_btn.setEnabled(True)
        left = (
            f" Left for later (recording or being imported): {len(result.left)} session(s)."
            if result.left
            else ""
        )
        self.outcome.setText(
            f"Done. Backup: {result.backup}. Encrypted {len(result.sessions)} session(s) and "
            f"{result.patients} patient record(s); every file was checked against its original."
            + (" The catalog is encrypted too." if result.catalog else "")
            + left
        )
        self._needed = bool(result.left)
        if not result.left:
            self.intro.setText("Everything in this data folder is encrypted now.")
        self.adjustSize()

    def _failed(self, message: str) -> None:
        self.close_btn.setEnabled(True)
        self.backup_edit.setEnabled(True)
        self.choose_btn.setEnabled(True)
        self._check()
        self.progress.setVisible(False)
        self.error.setText(
            f"{message} Nothing that was not yet checked was changed; you can start it again."
        )
        self.adjustSize()
