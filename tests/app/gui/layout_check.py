"""Find text a screen cuts off: by widget geometry and the font's metrics, not by eye.

:func:`clipped_texts` walks every visible widget under a root and reports, in words, each text
that does not fit the room it is given: a label (one line, or wrapped to its height), a button,
a check box, a combo box's current item, a tab's title, a table's header or cell. A table may
scroll (its content is then reachable), so only a cell's own width and height count, not whether
the cell is scrolled out of sight.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QTabBar,
    QTableView,
    QWidget,
)

#: room a control's frame, indicator and padding take beside its text (px)
_BUTTON_CHROME = 8
_BOX_CHROME = 22  # check box / radio indicator and gap
_COMBO_CHROME = 24  # the drop-down arrow
_CELL_CHROME = 6
_TAGS = re.compile(r"<[^>]+>")


def _plain(label: QLabel) -> str:
    text = label.text()
    if label.textFormat() == Qt.TextFormat.PlainText or not GuiQt.mightBeRichText(text):
        return text
    text = re.sub(r"<br\s*/?>", "\n", text, flags=re.I)
    return (
        _TAGS.sub("", text)
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
    )


def _fits(fm: QFontMetrics, text: str, rect: QRect, wrap: bool) -> bool:
    flags = int(Qt.AlignmentFlag.AlignLeft) | (int(Qt.TextFlag.TextWordWrap) if wrap else 0)
    need = fm.boundingRect(QRect(0, 0, rect.width() if wrap else 100_000, 100_000), flags, text)
    return need.width() <= rect.width() + 1 and need.height() <= rect.height() + 1


def _name(w: QWidget, text: str) -> str:
    return f"{type(w).__name__} {text[:50]!r}"


def _label(lab: QLabel) -> str | None:
    if not lab.text() or not lab.pixmap().isNull():
        return None
    text = _plain(lab).strip()
    if not text:
        return None
    # a label's own font (a style sheet's font-size changes it, but not fontMetrics() until
    # polished; the widgets are shown, so they are)
    rect = lab.contentsRect()
    margin = lab.margin() * 2 + lab.indent() if lab.indent() > 0 else lab.margin() * 2
    rect.setWidth(rect.width() - margin)
    if _fits(lab.fontMetrics(), text, rect, lab.wordWrap()):
        return None
    return f"{_name(lab, text)} needs more than {lab.width()}×{lab.height()}"


def _button(b: QAbstractButton) -> str | None:
    text = b.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
    if not text:
        return None
    chrome = _BOX_CHROME if isinstance(b, QCheckBox | QRadioButton) else _BUTTON_CHROME
    need = b.fontMetrics().horizontalAdvance(text) + chrome
    if not b.icon().isNull():
        need += b.iconSize().width() + 4
    if b.width() >= need and b.width() + 1 >= min(b.sizeHint().width(), need + 24):
        return None
    if isinstance(b, QPushButton) and b.width() + 1 >= b.sizeHint().width():
        return None  # the style's own padding already counted
    return f"{_name(b, text)} is {b.width()} px wide, needs {max(need, b.sizeHint().width())}"


def _combo(c: QComboBox) -> str | None:
    text = c.currentText()
    if not text:
        return None
    need = c.fontMetrics().horizontalAdvance(text) + _COMBO_CHROME
    return None if c.width() >= need else f"{_name(c, text)} is {c.width()} px, needs {need}"


def _line_edit(e: QLineEdit) -> str | None:
    text = "" if e.text() else e.placeholderText()  # typed text scrolls in its field
    if not text:
        return None
    need = e.fontMetrics().horizontalAdvance(text) + _BUTTON_CHROME
    if e.isClearButtonEnabled():
        need += 20
    return None if e.width() >= need else f"{_name(e, text)} is {e.width()} px, needs {need}"


def _tabs(bar: QTabBar) -> list[str]:
    out = []
    for i in range(bar.count()):
        text = bar.tabText(i).replace("&&", "&")
        need = bar.fontMetrics().horizontalAdvance(text) + _CELL_CHROME
        rect = bar.tabRect(i)
        if rect.width() < need or not bar.rect().contains(rect):
            out.append(f"tab {text!r} is {rect.width()} px (needs {need}) or outside its bar")
    return out


def _header(h: QHeaderView) -> list[str]:
    model = h.model()
    if model is None:
        return []
    out = []
    fm = QFontMetrics(h.font())
    bold = h.font()
    bold.setBold(True)
    fm_bold = QFontMetrics(bold)  # the sort column's title may be drawn bold
    for i in range(h.count()):
        if h.isSectionHidden(i):
            continue
        text = str(model.headerData(i, h.orientation(), Qt.ItemDataRole.DisplayRole) or "")
        if not text:
            continue
        longest = max(text.split("\n"), key=fm.horizontalAdvance)
        room = h.sectionSize(i) - _CELL_CHROME
        if h.orientation() == Qt.Orientation.Horizontal:
            if h.isSortIndicatorShown() and h.sortIndicatorSection() == i:
                room -= 14  # the arrow
            if max(fm.horizontalAdvance(longest), fm_bold.horizontalAdvance(longest)) > room + 2:
                out.append(f"header {text!r} is {h.sectionSize(i)} px wide")
    return out


def _cells(view: QTableView) -> list[str]:
    model = view.model()
    if model is None:
        return []
    out = []
    wrap = view.wordWrap()
    fm = view.fontMetrics()
    for r in range(min(model.rowCount(), 200)):
        if view.isRowHidden(r):
            continue
        for c in range(model.columnCount()):
            if view.isColumnHidden(c):
                continue
            idx = model.index(r, c)
            text = str(model.data(idx, Qt.ItemDataRole.DisplayRole) or "")
            if not text:
                continue
            rect = QRect(0, 0, view.columnWidth(c) - _CELL_CHROME, view.rowHeight(r))
            if view.indexWidget(idx) is None and not _fits(fm, text, rect, wrap):
                out.append(f"cell ({r}, {c}) {text[:40]!r} in {rect.width()}×{rect.height()}")
    return out


def clipped_texts(root: QWidget) -> list[str]:
    """Every text under ``root`` (visible widgets only) that does not fit its room, in words."""
    out: list[str] = []
    for w in [root, *root.findChildren(QWidget)]:
        if not w.isVisible() or w.width() <= 0:
            continue
        problem: str | None = None
        if isinstance(w, QLabel):
            problem = _label(w)
        elif isinstance(w, QAbstractButton) and not isinstance(w.parent(), QTabBar):
            problem = _button(w)
        elif isinstance(w, QComboBox):
            problem = _combo(w)
        elif isinstance(w, QLineEdit) and not isinstance(w.parent(), QComboBox):
            problem = _line_edit(w)
        elif isinstance(w, QTabBar):
            out += _tabs(w)
        elif isinstance(w, QHeaderView):
            out += _header(w)
        elif isinstance(w, QTableView) and isinstance(w, QAbstractItemView):
            out += _cells(w)
        if problem:
            out.append(problem)
    return out
