"""The session's data-quality panel: a verdict light per part (signals, sensor link, video, files)
with its plain reasons, and the exact figures beneath. One view of
:func:`core.quality.session.quality_summary`.

A damaged file (:mod:`core.recording.integrity`) shows as a red line under the overall verdict,
naming the file and what it cost. Every file is checked when the panel loads; only a long video
(over :data:`SYNC_CHECK_BYTES`) has its frames checked in the background, the panel updating when
that is done, so that opening a session never waits for gigabytes to be read.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.widgets import StatusLight, banner
from app.gui.workers import run_job
from core.palette import LIGHT_COLOURS
from core.quality.session import (
    NOT_RECORDED,
    Finding,
    QualitySummary,
    Section,
    quality_summary,
)
from core.quality.text import (
    VERDICT_WORDS,
    Rows,
    file_text,
    files_rows,
    link_rows,
    stream_rows,
    video_rows,
)
from core.recording.integrity import SessionDamageError

#: verdict → StatusLight colour
LIGHTS: dict[str | None, str] = {"good": "green", "check": "amber", "poor": "red", None: "grey"}
SIMULATED_NOTE = "SIMULATED SESSION — these figures describe simulated devices"
#: a video up to this size (bytes) is checked frame by frame before the panel shows (about 20 ms
#: of hashing); a longer one in the background
SYNC_CHECK_BYTES = 32 << 20
CHECKING_NOTE = "Checking every frame of the video against its checksums…"


def damage_html(summary: QualitySummary) -> str:
    """The red line of a damaged session: each damaged file and what it cost ("" when none)."""
    files = summary.get("files") or {}
    if files.get("state") != "damaged":
        return ""
    bad = [f for f in files.get("files") or [] if f.get("status") in ("damaged", "missing")]
    lines = [f"{f.get('file')}: {file_text(f)}" for f in bad] or list(files.get("reasons") or [])
    red = LIGHT_COLOURS["red"]
    body = "<br>".join(html.escape(x) for x in lines)
    head = "<b>Damaged files</b> — what they held is lost:"
    return f'<span style="color:{red}">{head}<br>{body}</span>'


def verdict_icon(verdict: str | None, size: int = 12) -> QIcon:
    """A coloured dot for a verdict (e.g. on the review screen's tab)."""
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(QColor(LIGHT_COLOURS[LIGHTS.get(verdict, "grey")]))
    p.setPen(Qt.PenStyle.NoPen)
    p.drawEllipse(1, 1, size - 2, size - 2)
    p.end()
    return QIcon(pm)


def findings_html(findings: list[Finding]) -> str:
    """Each finding on its own line behind a dot in its verdict's colour."""
    lines = []
    for f in findings:
        colour = LIGHT_COLOURS[LIGHTS.get(f.get("level"), "grey")]
        text = str(f["text"])
        text = html.escape(text[:1].upper() + text[1:])
        lines.append(f'<span style="color:{colour}">●</span>&nbsp;{text}')
    return "<br>".join(lines)


class FiguresTable(QTableWidget):
    """Rows of (item, value): the item in the first column, one value column per stream; as tall
    as its rows (the panel scrolls, not the table)."""

    def __init__(self) -> None:
        super().__init__(0, 2)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWordWrap(True)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def show_rows(self, columns: list[tuple[str, Rows]]) -> None:
        """``columns``: (header, rows) per value column; every column has the same items."""
        items = [k for k, _ in columns[0][1]] if columns else []
        self.clear()
        self.setColumnCount(1 + len(columns))
        self.setRowCount(len(items))
        self.setHorizontalHeaderLabels([""] + [h for h, _ in columns])
        hh = self.horizontalHeader()
        hh.setVisible(len(columns) > 1)
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        for j in range(1, 1 + len(columns)):
            hh.setSectionResizeMode(j, QHeaderView.ResizeMode.Stretch)
        grey = QColor("#777777")
        for i, name in enumerate(items):
            head = QTableWidgetItem(name)
            head.setForeground(QColor("#333333"))
            self.setItem(i, 0, head)
        for j, (_, rows) in enumerate(columns, start=1):
            for i, (_, value) in enumerate(rows):
                cell = QTableWidgetItem(value)
                if value == NOT_RECORDED:
                    cell.setForeground(grey)
                    f = cell.font()
                    f.setItalic(True)
                    cell.setFont(f)
                self.setItem(i, j, cell)
        self.resizeRowsToContents()
        self.fit_height()

    def fit_height(self) -> None:
        h = self.verticalHeader().length() + 2 * self.frameWidth()
        if self.horizontalHeader().isVisible():
            h += self.horizontalHeader().height()
        self.setFixedHeight(h)

    def resizeEvent(self, e: Any) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(e)
        self.resizeRowsToContents()  # wrapped values take more lines when narrower
        self.fit_height()

    def value(self, item: str, column: int = 1) -> str:
        """The text shown for ``item`` (a row's name) in value column ``column`` (from 1)."""
        for i in range(self.rowCount()):
            head = self.item(i, 0)
            if head is not None and head.text() == item:
                cell = self.item(i, column)
                return cell.text() if cell is not None else ""
        raise KeyError(item)


class QualitySection(QFrame):
    """One part of the summary: its light, its findings, its figures."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.light = StatusLight(title)
        self.light.text.setStyleSheet("font-size:13px;")
        self.findings = QLabel()
        self.findings.setWordWrap(True)
        self.findings.setTextFormat(Qt.TextFormat.RichText)
        self.findings.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.findings.setContentsMargins(22, 0, 0, 4)
        self.table = FiguresTable()
        lay = QVBoxLayout(self)
        lay.addWidget(self.light)
        lay.addWidget(self.findings)
        lay.addWidget(self.table)

    def show_part(self, part: Section, columns: list[tuple[str, Rows]]) -> None:
        verdict = part.get("verdict")
        self.light.set(LIGHTS.get(verdict, "grey"), f"— {VERDICT_WORDS[verdict].lower()}")
        findings = part.get("findings") or []
        self.findings.setText(findings_html(findings) if findings else "No problems found.")
        self.table.setVisible(bool(columns))
        if columns:
            self.table.show_rows(columns)


class QualityPanel(QWidget):
    """A session's data quality: overall verdict, then signals, sensor link, video and files."""

    #: the summary changed after :meth:`load` returned (the background check of a long video)
    summary_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary: QualitySummary | None = None
        self.folder: Path | None = None
        self.checking = False  # a background check of the video's frames is running
        self._generation = 0
        self.overall = StatusLight("Data quality")
        self.overall.text.setStyleSheet("font-size:15px;")
        self.damage = QLabel()
        self.damage.setWordWrap(True)
        self.damage.setTextFormat(Qt.TextFormat.RichText)
        self.damage.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.damage.setContentsMargins(22, 0, 0, 4)
        self.reasons = QLabel()
        self.reasons.setWordWrap(True)
        self.reasons.setTextFormat(Qt.TextFormat.RichText)
        self.reasons.setContentsMargins(22, 0, 0, 0)
        self.sim_note = banner(SIMULATED_NOTE)
        self.sim_note.setWordWrap(True)
        self.signals = QualitySection("Signals")
        self.link = QualitySection("Sensor link")
        self.video = QualitySection("Video")
        self.files = QualitySection("Files")
        inner = QWidget()
        lay = QVBoxLayout(inner)
        lay.addWidget(self.overall)
        lay.addWidget(self.damage)
        lay.addWidget(self.reasons)
        lay.addWidget(self.sim_note)
        for s in (self.signals, self.link, self.video, self.files):
            lay.addWidget(s)
        lay.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.show_summary(None)

    @property
    def verdict(self) -> str | None:
        if self.summary is None:
            return "poor" if self.damage.isVisibleTo(self) else None
        return self.summary.get("verdict")

    def load(self, folder: Path, deep: bool | None = None) -> None:
        """Compute and show the summary of the session folder ``folder``.

        ``deep``: check every frame of the video now (True), or not at all (False); by default
        now for a video up to :data:`SYNC_CHECK_BYTES`, else in the background (the panel then
        updates itself and emits :attr:`summary_changed`).
        """
        self._generation += 1
        self.folder = folder
        self.checking = False
        if deep is None:
            mjpeg = folder / "video" / "frames.mjpeg"
            size = mjpeg.stat().st_size if mjpeg.exists() else 0
            now = size <= SYNC_CHECK_BYTES
        else:
            now = deep
        try:
            summary = quality_summary(folder, deep=now)
        except SessionDamageError as e:
            self.show_summary(None, f"— poor: the session is damaged: {e}", damaged=True)
            return
        except (OSError, ValueError, KeyError) as e:
            self.show_summary(None, f"The session's data could not be read: {e}")
            return
        self.show_summary(summary)
        files = summary.get("files") or {}
        if deep is None and not now and files.get("checked") == "quick":
            self._check_in_background(folder)

    def _check_in_background(self, folder: Path) -> None:
        """Check the video's frames in a worker; show the full summary when it is done."""
        generation = self._generation
        self.checking = True
        self.files.findings.setText(self.files.findings.text() + "<br>" + CHECKING_NOTE)

        def done(result: object) -> None:
            if generation != self._generation:
                return  # another session was loaded meanwhile
            try:
                self.checking = False
                self.show_summary(result)  # type: ignore[arg-type]
                self.summary_changed.emit(result)
            except RuntimeError:  # the panel was closed meanwhile
                pass

        def failed(message: str) -> None:
            if generation == self._generation:
                try:
                    self.checking = False
                    self.files.findings.setText(
                        self.files.findings.text().replace(CHECKING_NOTE, message)
                    )
                except RuntimeError:
                    pass

        run_job(lambda _progress: quality_summary(folder, deep=True), done, failed)

    def show_summary(
        self, summary: QualitySummary | None, message: str = "", damaged: bool = False
    ) -> None:
        """Show ``summary`` (:func:`core.quality.session.quality_summary`); None: only ``message``
        (red with ``damaged``: the session cannot be read because a file is damaged)."""
        self.summary = summary
        for s in (self.signals, self.link, self.video, self.files):
            s.setVisible(summary is not None)
        if summary is None:
            self.overall.set("red" if damaged else "grey", message or "— no session")
            self.damage.setVisible(damaged)
            red = LIGHT_COLOURS["red"]
            self.damage.setText(
                f'<span style="color:{red}"><b>Damaged files</b> — `therascope verify` '
                "says which and where</span>"
                if damaged
                else ""
            )
            self.reasons.setText("")
            self.sim_note.setVisible(False)
            return
        verdict = summary.get("verdict")
        self.overall.set(LIGHTS.get(verdict, "grey"), f"— {VERDICT_WORDS[verdict].lower()}")
        damage = damage_html(summary)
        self.damage.setText(damage)
        self.damage.setVisible(bool(damage))
        findings = summary.get("findings") or []
        self.reasons.setText(
            findings_html(findings)
            or "No problems found in the signals, the sensor link or the video."
        )
        self.sim_note.setVisible(bool(summary.get("simulated")))
        sig = summary["signals"]
        self.signals.show_part(
            sig, [(s.get("label") or s["name"], stream_rows(s)) for s in sig.get("streams", [])]
        )
        link = summary["link"]
        self.link.show_part(link, [("Sensor link", link_rows(link))] if link.get("present") else [])
        video = summary["video"]
        self.video.show_part(video, [("Video", video_rows(video))] if video.get("recorded") else [])
        files = summary.get("files")
        if files is not None:
            self.files.show_part(files, [("Files", files_rows(files))])
        self.files.setVisible(files is not None)
        self._align_item_columns()

    def _align_item_columns(self) -> None:
        """One width for the item column of every table, so that the values line up."""
        parts = (self.signals, self.link, self.video, self.files)
        tables = [s.table for s in parts if s.table.rowCount()]
        width = max((t.sizeHintForColumn(0) for t in tables), default=0) + 16
        for t in tables:
            t.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
            t.setColumnWidth(0, width)


class QualityDialog(QDialog):
    """The panel on its own (e.g. from the patient's list of sessions)."""

    def __init__(self, folder: Path, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.panel = QualityPanel()
        self.panel.load(folder)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.panel)
        lay.addWidget(buttons)
        # as tall as the panel wants, but never taller than the main window or the screen (a
        # 1024×640 display): the panel scrolls
        room = self.screen().availableGeometry().height() - 60
        if parent is not None:
            room = min(room, parent.window().height())
        self.resize(620, max(360, min(760, room)))
