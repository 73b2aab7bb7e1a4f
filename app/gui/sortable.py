"""Tables the therapist can sort (click a column header) and filter (type in a field)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
"""An item's sort key where its text does not sort right (numbers, durations); else its text."""


class SortItem(QTableWidgetItem):
    """A table cell that sorts by its :data:`SORT_ROLE` key when it has one (``"10"`` after
    ``"9"``, a 1:05:00 duration after 59:00), else by its text, case-insensitively; cells with
    no value (``–``) sort before every value."""

    def __init__(self, text: str, key: float | str | None = None) -> None:
        super().__init__(text)
        if key is not None:
            self.setData(SORT_ROLE, key)

    def _key(self) -> tuple[int, float | str]:
        key = self.data(SORT_ROLE)
        if key is None:
            text = self.text()
            return (0, "") if text in ("", "–") else (1, text.casefold())
        return (1, key)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        if not isinstance(other, SortItem):
            return super().__lt__(other)
        mine, theirs = self._key(), other._key()
        if isinstance(mine[1], str) != isinstance(theirs[1], str):  # never compare str with float
            return (mine[0], str(mine[1])) < (theirs[0], str(theirs[1]))
        return mine < theirs


def make_sortable(table: QTableWidget, column: int, order: Qt.SortOrder) -> None:
    """Let a click on a column header sort ``table``; sorted by ``column`` at first."""
    table.horizontalHeader().setSortIndicatorShown(True)
    table.horizontalHeader().setSectionsClickable(True)
    table.horizontalHeader().setSortIndicator(column, order)
    table.setSortingEnabled(True)


def apply_filter(table: QTableWidget, text: str, extra: dict[int, str] | None = None) -> int:
    """Hide the rows whose cells do not contain ``text`` (case-insensitive; empty shows all).

    Parameters
    ----------
    table : QTableWidget — its first column's items carry the row's id (``Qt.UserRole``)
    text : str — what to look for
    extra : dict, optional — more searchable text per row id (e.g. a session uid not shown)

    Returns
    -------
    int — the number of rows left visible
    """
    needle = text.strip().casefold()
    shown = 0
    for row in range(table.rowCount()):
        cells = [table.item(row, c) for c in range(table.columnCount())]
        texts = [c.text() for c in cells if c is not None]
        first = cells[0] if cells else None
        if extra and first is not None:
            texts.append(extra.get(first.data(Qt.ItemDataRole.UserRole), ""))
        hit = not needle or any(needle in t.casefold() for t in texts)
        table.setRowHidden(row, not hit)
        shown += hit
    return shown


def row_of(table: QTableWidget, item_id: int) -> int | None:
    """The row whose first cell carries ``item_id`` (``Qt.UserRole``), wherever sorting put it."""
    for row in range(table.rowCount()):
        item = table.item(row, 0)
        if item is not None and item.data(Qt.ItemDataRole.UserRole) == item_id:
            return row
    return None


def first_visible_row(table: QTableWidget) -> int | None:
    """The topmost row the filter left visible, or ``None``."""
    for row in range(table.rowCount()):
        if not table.isRowHidden(row):
            return row
    return None
