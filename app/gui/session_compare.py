"""Two sessions of a patient side by side: each one's circumplex, pre/post table and physiology,
with the review screen's own widgets (:class:`app.gui.circumplex_view.CircumplexView`,
:class:`app.gui.review_tables.PhaseTable`, :class:`app.gui.physiology_table.PhysiologyTable`).

Opened from the patient page ("Compare two sessions…"): the selected session on the right and
the one before it on the left; either side can be switched to any session of the patient. A
session not analysed shows "Not analysed yet" instead of the circumplex and estimates (its
physiology is still shown)."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.gui.circumplex_view import CircumplexView
from app.gui.physiology_table import PhysiologyTable
from app.gui.review_tables import PhaseTable
from core.analysis.review import SessionReview, review_of
from core.catalog import Catalog, SessionRecord
from core.config import Settings
from core.timefmt import format_clock, format_local_time

NOT_ANALYSED = "Not analysed yet: no estimates for this session (its physiology is below)."


class _FitToRows(QObject):
    """Keeps a table exactly as tall as its header and rows (each row grown to its wrapped
    lines), so that it neither clips a row nor leaves an empty block under the last one; the
    column around it scrolls instead."""

    def __init__(self, table: QTableView) -> None:
        super().__init__(table)
        self.table = table
        table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        table.verticalHeader().sectionResized.connect(self.fit)
        table.horizontalHeader().geometriesChanged.connect(self.fit)  # a title of two lines
        table.installEventFilter(self)

    def fit(self) -> None:
        t = self.table
        t.resizeRowsToContents()
        header = t.horizontalHeader()
        header_h = max(header.height(), header.sizeHint().height())
        height = header_h + t.verticalHeader().length() + 2 * t.frameWidth()
        if t.height() != height:
            t.setFixedHeight(height)
        # a moment too short (a title wrapped to two lines later) may have scrolled it: undo
        t.verticalScrollBar().setValue(0)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 — Qt's name
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Show, QEvent.Type.LayoutRequest):
            self.fit()
        return False


def session_title(number: int, rec: SessionRecord) -> str:
    """ "Session 3 — 2026-12-05 14:02 CET, 33:00" as the combo boxes list it."""
    return f"Session {number} — {format_local_time(rec.started_at)}, {format_clock(rec.duration_s or 0)}"


class SessionColumn(QWidget):
    """One side of the comparison: a session chooser, its circumplex, table and physiology."""

    def __init__(
        self,
        catalog: Catalog,
        data_root: Path,
        settings: Settings,
        sessions: list[tuple[int, SessionRecord]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.catalog, self.data_root, self.settings = catalog, data_root, settings
        self.sessions = sessions
        self.review: SessionReview | None = None
        self.chooser = QComboBox()
        for number, rec in sessions:
            self.chooser.addItem(session_title(number, rec), rec.id)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.circumplex = CircumplexView(settings.neutral_radius, compact=True)
        self.circumplex.setMinimumSize(300, 300)
        self.not_analysed = QLabel(NOT_ANALYSED)
        self.not_analysed.setWordWrap(True)
        self.not_analysed.setStyleSheet(
            "background:#fff4dc; color:#7a4a00; padding:8px; font-weight:600;"
        )
        self.table = PhaseTable()
        self.physiology = PhysiologyTable()
        # both tables as tall as their rows; the figure takes the room left, and below its
        # minimum the column scrolls (a 1024×640 display)
        self._fits = [_FitToRows(self.table), _FitToRows(self.physiology.table)]
        phys_lay = self.physiology.layout()
        if isinstance(phys_lay, QVBoxLayout):
            phys_lay.setStretch(0, 0)  # the table as tall as its rows, not stretched
        # the figure asks for no more than its minimum height, so that the scroll area gives it
        # only the room the tables leave
        self.circumplex.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        content = QWidget()
        col = QVBoxLayout(content)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.not_analysed)
        col.addWidget(self.circumplex, 1)
        col.addWidget(self.table)
        col.addWidget(self.physiology)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setWidget(content)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.chooser)
        lay.addWidget(self.info)
        lay.addWidget(self.scroll_area, 1)
        self.chooser.currentIndexChanged.connect(self._chosen)

    @property
    def session_id(self) -> int | None:
        data = self.chooser.currentData()
        return None if data is None else int(data)

    def choose(self, session_id: int) -> None:
        """Show ``session_id`` (one of the patient's sessions)."""
        i = self.chooser.findData(session_id)
        if i < 0:
            raise KeyError(f"session {session_id} is not one of the patient's")
        if i == self.chooser.currentIndex():
            self._chosen(i)
        else:
            self.chooser.setCurrentIndex(i)

    def _chosen(self, index: int) -> None:
        if index < 0:
            return
        number, rec = self.sessions[index]
        try:
            self.review = review_of(self.catalog, self.data_root, rec.id, self.settings)
        except ValueError:  # an unreadable analysis counts as not analysed
            self.review = None
        r = self.review
        bits = [f"<b>Session {number}</b>", html.escape(rec.origin)]
        if r is not None:
            bits.append(html.escape(str(r.checkpoint.get("label", ""))))
            if r.demo_model:
                bits.append("<b style='color:#c0392b'>DEMO MODEL, not clinically valid</b>")
        if rec.simulated:
            bits.append("<b style='color:#c62828'>SIMULATED DATA</b>")
        self.info.setText(" · ".join(bits))
        self.not_analysed.setVisible(r is None)
        self.circumplex.setVisible(r is not None)
        self.table.setVisible(r is not None)
        if r is not None:
            self.circumplex.show_session(r, phase_minutes=self.settings.phase_minutes)
            self.table.show_review(r)
            self._fits[0].fit()
        markers = [(m.t_s, m.kind) for m in self.catalog.list_markers(rec.id)]
        self.physiology.load(self.data_root / rec.folder, markers, self.settings.phase_minutes)


class SessionCompareDialog(QDialog):
    """Two sessions of one patient side by side (see the module's docstring)."""

    def __init__(
        self,
        catalog: Catalog,
        data_root: Path,
        patient_id: int,
        right_id: int | None = None,
        left_id: int | None = None,
        settings: Settings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        settings = settings or Settings.load()
        p = catalog.get_patient(patient_id)
        code = p.code if p is not None else "?"
        self.setWindowTitle(f"Compare two sessions — patient {code}")
        recs = sorted(
            catalog.list_sessions(patient_id=patient_id), key=lambda r: (r.started_at, r.id)
        )
        # numbered as in the sessions table (every session counts); one still recording is left out
        numbered = [(i, r) for i, r in enumerate(recs, start=1) if r.status != "recording"]
        if len(numbered) < 2:
            raise ValueError("Two finished sessions are needed to compare.")
        ids = [r.id for _, r in numbered]
        right = right_id if right_id in ids else ids[-1]
        if left_id not in ids or left_id == right:
            k = ids.index(right)
            left_id = ids[k - 1] if k > 0 else ids[1]
        self.left = SessionColumn(catalog, data_root, settings, numbered)
        self.right = SessionColumn(catalog, data_root, settings, numbered)
        self.left.choose(left_id)
        self.right.choose(right)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.left)
        split.addWidget(self.right)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        note = QLabel(
            "Each side: the session's circumplex (pre and post means with ±1 SD), the pre/post "
            "table and the physiology — as on its review screen. Choose either session above it."
        )
        note.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addWidget(note)
        lay.addWidget(split, 1)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(buttons)
        lay.addLayout(bottom)
        QShortcut(QKeySequence("Esc"), self, self.reject)
        # as large as helps, never larger than the screen (1024×640 displays too)
        screen = (
            parent.screen() if parent is not None else None
        ) or QGuiApplication.primaryScreen()
        avail = screen.availableGeometry() if screen is not None else None
        w, h = 1200, 860
        if avail is not None:
            w, h = min(w, avail.width() - 24), min(h, avail.height() - 40)
        self.resize(w, h)

    def wait(self) -> None:
        """Wait for the physiology still being computed (before closing in tests)."""
        self.left.physiology.wait()
        self.right.physiology.wait()

    def done(self, result: int) -> None:  # noqa: D401 — Qt's name
        self.wait()  # no worker may outlive the tables it fills
        super().done(result)
