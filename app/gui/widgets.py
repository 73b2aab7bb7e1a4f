"""Small shared widgets: status lights, image display, headings."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QSizePolicy,
    QWidget,
)

from core.palette import LIGHT_COLOURS


class StatusLight(QWidget):
    """A coloured dot with a caption and a detail text (e.g. "Disk — 512 min available")."""

    def __init__(self, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dot = QLabel()
        self.dot.setFixedSize(16, 16)
        self.text = QLabel(caption)
        self.caption = caption
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.dot)
        lay.addWidget(self.text, 1)
        self.state = "grey"
        self.set("grey", "")

    def set(self, state: str, detail: str) -> None:
        self.state = state
        self.dot.setStyleSheet(f"background:{LIGHT_COLOURS[state]}; border-radius:8px;")
        self.text.setText(f"<b>{self.caption}</b> {detail}")


def bgr_to_pixmap(image: np.ndarray, width: int | None = None, fast: bool = False) -> QPixmap:
    """A QPixmap of a BGR uint8 image, scaled to ``width`` pixels (keeping the aspect ratio).

    ``fast`` (live preview): decimate by an integer step first and scale without smoothing.
    """
    if fast and width and image.shape[1] >= 2 * width:
        step = image.shape[1] // width
        image = image[::step, ::step]
    rgb = np.ascontiguousarray(image[:, :, ::-1])
    h, w = rgb.shape[:2]
    qimg = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    pm = QPixmap.fromImage(qimg.copy())
    if width and pm.width() != width:
        mode = (
            Qt.TransformationMode.FastTransformation
            if fast
            else Qt.TransformationMode.SmoothTransformation
        )
        pm = pm.scaledToWidth(width, mode)
    return pm


class VideoView(QLabel):
    """A camera picture that fits the space it is given (4:3), from ``min_width`` up to
    ``width`` pixels wide, so a screen keeps its video on a small display (1024×640) and shows
    it at full size where there is room. The picture is scaled again when the view is resized.

    Parameters
    ----------
    text : str — shown while there is no picture
    width : int — preferred width (px); the view does not grow beyond it
    min_width : int — the smallest width (px) it shrinks to
    fast : bool — live preview: decimate and scale without smoothing (see :func:`bgr_to_pixmap`)
    """

    def __init__(self, text: str, width: int, min_width: int, fast: bool = False) -> None:
        super().__init__(text)
        self._preferred = QSize(width, width * 3 // 4)
        self._minimum = QSize(min_width, min_width * 3 // 4)
        self._fast = fast
        self._image: np.ndarray | None = None
        self._decorate: Callable[[QPixmap, float], None] | None = None
        self.setMinimumSize(self._minimum)
        self.setMaximumSize(self._preferred)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet("background:#222; color:#aaa;")
        self.setWordWrap(True)

    def sizeHint(self) -> QSize:  # noqa: N802 — Qt's name
        return self._preferred

    def minimumSizeHint(self) -> QSize:  # noqa: N802 — Qt's name
        return self._minimum

    def show_image(
        self, image: np.ndarray, decorate: Callable[[QPixmap, float], None] | None = None
    ) -> None:
        """Show a BGR image scaled to fit; ``decorate(pixmap, scale)`` may draw on it (``scale``:
        displayed pixels per image pixel)."""
        self._image, self._decorate = image, decorate
        self._paint()

    def clear_image(self, text: str) -> None:
        """No picture: show ``text`` instead."""
        self._image, self._decorate = None, None
        self.setPixmap(QPixmap())
        self.setText(text)

    def _paint(self) -> None:
        if self._image is None:
            return
        ih, iw = self._image.shape[:2]
        width = max(1, min(self.width(), int(self.height() * iw / max(ih, 1))))
        pm = bgr_to_pixmap(self._image, width, fast=self._fast)
        if self._decorate is not None:
            self._decorate(pm, pm.width() / iw)
        self.setPixmap(pm)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 — Qt's name
        super().resizeEvent(event)
        self._paint()


def heading(text: str, size: int = 18) -> QLabel:
    """A screen's title; it wraps onto a second line where the screen is narrow."""
    lab = QLabel(text)
    lab.setTextFormat(Qt.TextFormat.PlainText)  # headings carry patient codes: never markup
    lab.setStyleSheet(f"font-size:{size}px; font-weight:600;")
    lab.setWordWrap(True)
    lab.setMinimumWidth(160)
    lab.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
    return lab


def banner(text: str) -> QLabel:
    """An amber strip for things the user must not miss (e.g. simulated data)."""
    lab = QLabel(text)
    lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
    lab.setStyleSheet(
        "background:#fff3cd; color:#6b4e00; border:1px solid #e6a118; padding:4px; font-weight:600;"
    )
    lab.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
    return lab


def unit_label(unit: str) -> str:
    """Units as people write them (streams store ASCII, e.g. ``uS`` → ``µS``)."""
    return {"uS": "µS", "uV": "µV"}.get(unit, unit)


class JobProgress(QWidget):
    """One background job's progress in the status bar: its own label and bar, hidden when idle.

    Parameters
    ----------
    job : str — what the job is, shown before its current step, e.g. "Demo patient"
    """

    def __init__(self, job: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.label = QLabel(job)
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setMaximumWidth(180)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 0, 6, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.bar)
        self.setVisible(False)

    def update_progress(self, fraction: float, step: str = "") -> None:
        """Show the job at ``fraction`` (0–1) of its work, ``step`` saying what it does now."""
        self.label.setText(f"{self.job}: {step}" if step else self.job)
        self.bar.setValue(int(round(100 * min(max(fraction, 0.0), 1.0))))
        self.setVisible(True)

    def finish(self) -> None:
        self.setVisible(False)


def ask_include_name(parent: QWidget | None, patient_name: str | None, question: str) -> bool:
    """Whether an export carries the patient's name: asked only when the patient has one (the
    code alone otherwise); ``question`` says where the name would go."""
    if not patient_name:
        return False
    ans = QMessageBox.question(parent, "Patient name", question)
    return ans == QMessageBox.StandardButton.Yes
